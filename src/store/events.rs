//! Directory events: one ordered log per organization (grants today; writes, refresh diffs,
//! reviews and findings as they land). Each event takes the next `seq` of its organization from
//! the organization's head row inside the appending transaction: the row lock (PostgreSQL) or
//! the write lock (SQLite) orders appenders, so events commit in `seq` order and a reader that
//! resumes after a `seq` never misses one that commits later.

use sqlx::Row;
use sqlx::any::AnyRow;

use super::{Arg, Store, StoreError, now_ms};

/// An event to append.
#[derive(Clone, Debug, Default)]
pub struct NewEvent {
    pub org: String,
    /// Dotted, lower case: `grant.granted`, `grant.expiring`, …
    pub kind: String,
    /// `grant`, `user`, `group`.
    pub object_kind: String,
    pub object_id: String,
    /// The API key's name, or `system`.
    pub actor: String,
    /// What happened, as JSON.
    pub data: serde_json::Value,
    /// Unix milliseconds; 0 means now.
    pub at_ms: i64,
}

/// An event as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    pub org: String,
    pub seq: i64,
    pub at_ms: i64,
    pub kind: String,
    pub object_kind: String,
    pub object_id: String,
    pub actor: String,
    /// JSON text.
    pub data: String,
}

/// Where a page of events starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Resume {
    /// Oldest first, after this `seq` (0: from the oldest kept).
    After(i64),
    /// Newest first, before this `seq` (`i64::MAX`: from the newest).
    Before(i64),
}

/// A page of events and what the log holds around it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EventPage {
    /// In the page's direction: oldest first for `After`, newest first for `Before`.
    pub events: Vec<Event>,
    /// The organization's newest `seq` (0 when it has none).
    pub head: i64,
    /// The highest `seq` retention removed (0 when none was).
    pub pruned_through: i64,
}

const COLUMNS: &str = "org, seq, at_ms, kind, object_kind, object_id, actor, data";

fn event_of(row: &AnyRow) -> Result<Event, sqlx::Error> {
    Ok(Event {
        org: row.try_get("org")?,
        seq: row.try_get("seq")?,
        at_ms: row.try_get("at_ms")?,
        kind: row.try_get("kind")?,
        object_kind: row.try_get("object_kind")?,
        object_id: row.try_get("object_id")?,
        actor: row.try_get("actor")?,
        data: row.try_get("data")?,
    })
}

impl Store {
    /// Appends one event; its `seq`.
    pub async fn append_event(&self, event: &NewEvent) -> Result<i64, StoreError> {
        let result = async {
            let mut tx = self.pool().begin().await?;
            let seq = Store::append_event_in(&mut tx, event).await?;
            tx.commit().await?;
            Ok(seq)
        }
        .await;
        self.noted(result)
    }

    /// Appends `events` in order, in one transaction.
    pub async fn append_events(&self, events: &[NewEvent]) -> Result<(), StoreError> {
        let result = async {
            let mut tx = self.pool().begin().await?;
            for event in events {
                Store::append_event_in(&mut tx, event).await?;
            }
            tx.commit().await
        }
        .await;
        self.noted(result)
    }

    /// Appends inside a caller's transaction (a grant's change with its event).
    pub(super) async fn append_event_in(
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        event: &NewEvent,
    ) -> Result<i64, sqlx::Error> {
        sqlx::query(
            "INSERT INTO event_heads (org, seq, pruned_through) VALUES ($1, 0, 0) ON CONFLICT (org) DO NOTHING",
        )
        .bind(&event.org)
        .execute(&mut **tx)
        .await?;
        let seq: i64 =
            sqlx::query("UPDATE event_heads SET seq = seq + 1 WHERE org = $1 RETURNING seq")
                .bind(&event.org)
                .fetch_one(&mut **tx)
                .await?
                .try_get("seq")?;
        let at_ms = if event.at_ms == 0 {
            now_ms()
        } else {
            event.at_ms
        };
        sqlx::query(
            "INSERT INTO events (org, seq, at_ms, kind, object_kind, object_id, actor, data) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(&event.org)
        .bind(seq)
        .bind(at_ms)
        .bind(&event.kind)
        .bind(&event.object_kind)
        .bind(&event.object_id)
        .bind(&event.actor)
        .bind(event.data.to_string())
        .execute(&mut **tx)
        .await?;
        Ok(seq)
    }

    /// Up to `limit` events of `org` from `from`, only of `kinds` when it is not empty.
    pub async fn events_page(
        &self,
        org: &str,
        kinds: &[String],
        from: Resume,
        limit: i64,
    ) -> Result<EventPage, StoreError> {
        let mut args = vec![Arg::Text(org.to_owned())];
        let mut sql = format!("SELECT {COLUMNS} FROM events WHERE org = $1");
        let (cmp, seq, order) = match from {
            Resume::After(seq) => (">", seq, "ASC"),
            Resume::Before(seq) => ("<", seq, "DESC"),
        };
        args.push(Arg::Int(seq));
        sql.push_str(&format!(" AND seq {cmp} $2"));
        if !kinds.is_empty() {
            let first = args.len() + 1;
            let marks: Vec<String> = (first..first + kinds.len())
                .map(|n| format!("${n}"))
                .collect();
            sql.push_str(&format!(" AND kind IN ({})", marks.join(", ")));
            args.extend(kinds.iter().map(|k| Arg::Text(k.clone())));
        }
        sql.push_str(&format!(" ORDER BY seq {order} LIMIT {}", limit.max(0)));
        let rows = super::bound(sql, args).fetch_all(self.pool()).await?;
        let events = rows.iter().map(event_of).collect::<Result<Vec<_>, _>>()?;
        let head = sqlx::query("SELECT seq, pruned_through FROM event_heads WHERE org = $1")
            .bind(org)
            .fetch_optional(self.pool())
            .await?;
        let (head, pruned_through) = match head {
            Some(row) => (row.try_get("seq")?, row.try_get("pruned_through")?),
            None => (0, 0),
        };
        Ok(EventPage {
            events,
            head,
            pruned_through,
        })
    }

    /// Removes events older than `before_ms`, remembering per organization the highest `seq`
    /// removed; how many were removed.
    pub async fn prune_events(&self, before_ms: i64) -> Result<u64, StoreError> {
        let result = async {
            let mut tx = self.pool().begin().await?;
            let rows = sqlx::query(
                "SELECT org, MAX(seq) AS through FROM events WHERE at_ms < $1 GROUP BY org",
            )
            .bind(before_ms)
            .fetch_all(&mut *tx)
            .await?;
            let mut removed = 0;
            for row in rows {
                let org: String = row.try_get("org")?;
                let through: i64 = row.try_get("through")?;
                removed += sqlx::query("DELETE FROM events WHERE org = $1 AND seq <= $2")
                    .bind(&org)
                    .bind(through)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                sqlx::query("UPDATE event_heads SET pruned_through = $1 WHERE org = $2 AND pruned_through < $1")
                    .bind(through)
                    .bind(&org)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
            Ok(removed)
        }
        .await;
        self.noted(result)
    }
}
