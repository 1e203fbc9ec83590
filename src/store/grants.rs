//! Time-bound group grants: one row per grant with its state, and each grant's history. Due
//! grants are taken with a lease (a conditional UPDATE), so with several replicas on one
//! PostgreSQL store each due grant is handled by one of them at a time.

use serde::{Deserialize, Serialize};
use sqlx::Row;
use sqlx::any::AnyRow;

use super::{Arg, NewEvent, Store, StoreError};

/// Where a grant is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum GrantState {
    /// Recorded; the membership is being added.
    Pending,
    /// The membership is (or was already) there, until the grant's end.
    Active,
    /// Ended at its time.
    Expired,
    /// Ended early by a revocation.
    Revoked,
    /// The membership could not be added; nothing was granted.
    Failed,
}

impl GrantState {
    pub fn as_str(self) -> &'static str {
        match self {
            GrantState::Pending => "pending",
            GrantState::Active => "active",
            GrantState::Expired => "expired",
            GrantState::Revoked => "revoked",
            GrantState::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<GrantState> {
        Some(match s {
            "pending" => GrantState::Pending,
            "active" => GrantState::Active,
            "expired" => GrantState::Expired,
            "revoked" => GrantState::Revoked,
            "failed" => GrantState::Failed,
            _ => return None,
        })
    }
}

/// A grant to record.
#[derive(Clone, Debug, Default)]
pub struct NewGrant {
    pub org: String,
    pub user_key: String,
    pub user_email: String,
    pub group_id: String,
    pub granted_by: String,
    pub reason: String,
    pub granted_ms: i64,
    pub expires_ms: i64,
    pub standing: bool,
}

/// A grant as stored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Grant {
    /// Sorts by creation time: a hex millisecond prefix, then random.
    pub id: String,
    pub org: String,
    pub user_key: String,
    pub user_email: String,
    pub group_id: String,
    pub granted_by: String,
    pub reason: String,
    pub granted_ms: i64,
    pub expires_ms: i64,
    pub state: GrantState,
    pub standing: bool,
    /// The state its ending takes: `Revoked` once a revocation was asked for, else `Expired`.
    pub end_as: GrantState,
    pub ended_ms: Option<i64>,
    /// Due time → the upstream's answer to the removal (or the finding that none was needed).
    pub lag_ms: Option<i64>,
    /// Failed removal attempts so far.
    pub attempts: i64,
    pub next_try_ms: i64,
    pub last_error: String,
}

impl Grant {
    /// Not ended past its end (a removal that has not succeeded yet).
    pub fn overdue(&self, now_ms: i64) -> bool {
        matches!(self.state, GrantState::Active | GrantState::Pending) && self.expires_ms <= now_ms
    }
}

/// One change of a grant's state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GrantEvent {
    pub at_ms: i64,
    pub state: GrantState,
    pub note: String,
}

/// Which grants to list; conditions combine with AND.
#[derive(Clone, Debug, Default)]
pub struct GrantFilter {
    pub org: String,
    pub state: Option<GrantState>,
    pub user_key: Option<String>,
    pub group_id: Option<String>,
    /// Ends before this time (Unix milliseconds).
    pub expiring_before: Option<i64>,
}

/// A pending grant this old was left by a stopped process (an add takes seconds): the
/// scheduler may end it. Younger ones may still have their add in flight.
pub(super) const STALE_PENDING_MS: i64 = 120_000;

pub(super) const COLUMNS: &str = "id, org, user_key, user_email, group_id, granted_by, reason, granted_ms, expires_ms, state, standing, end_as, ended_ms, lag_ms, attempts, next_try_ms, last_error";

pub(super) fn grant_of(row: &AnyRow) -> Result<Grant, StoreError> {
    let state = |column: &str| -> Result<GrantState, StoreError> {
        let text: String = row.try_get(column)?;
        GrantState::parse(&text)
            .ok_or_else(|| StoreError::Corrupt(format!("grant {column} {text:?}")))
    };
    Ok(Grant {
        id: row.try_get("id")?,
        org: row.try_get("org")?,
        user_key: row.try_get("user_key")?,
        user_email: row.try_get("user_email")?,
        group_id: row.try_get("group_id")?,
        granted_by: row.try_get("granted_by")?,
        reason: row.try_get("reason")?,
        granted_ms: row.try_get("granted_ms")?,
        expires_ms: row.try_get("expires_ms")?,
        state: state("state")?,
        standing: row.try_get::<i64, _>("standing")? != 0,
        end_as: state("end_as")?,
        ended_ms: row.try_get("ended_ms")?,
        lag_ms: row.try_get("lag_ms")?,
        attempts: row.try_get("attempts")?,
        next_try_ms: row.try_get("next_try_ms")?,
        last_error: row.try_get("last_error")?,
    })
}

impl Store {
    /// Records a grant in `state` (`Pending` while its membership is added; `Active` at once
    /// for standing access) with its first history entry.
    pub async fn insert_grant(
        &self,
        new: &NewGrant,
        state: GrantState,
        note: &str,
    ) -> Result<Grant, StoreError> {
        let id = format!(
            "{:012x}{:016x}",
            new.granted_ms.max(0),
            rand::random::<u64>()
        );
        let result = async {
            let mut tx = self.pool().begin().await?;
            sqlx::query(
                "INSERT INTO grants (id, org, user_key, user_email, group_id, granted_by, reason, granted_ms, expires_ms, state, standing, end_as, ended_ms, lag_ms, attempts, next_try_ms, last_error, lease_owner, lease_until_ms) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 'expired', NULL, NULL, 0, 0, '', '', 0)",
            )
            .bind(&id)
            .bind(&new.org)
            .bind(&new.user_key)
            .bind(&new.user_email)
            .bind(&new.group_id)
            .bind(&new.granted_by)
            .bind(&new.reason)
            .bind(new.granted_ms)
            .bind(new.expires_ms)
            .bind(state.as_str())
            .bind(i64::from(new.standing))
            .execute(&mut *tx)
            .await?;
            add_event(&mut tx, &id, new.granted_ms, state, note).await?;
            if state == GrantState::Active {
                let data = serde_json::json!({ "note": note, "standing": new.standing });
                grant_event(&mut tx, &id, "grant.granted", &new.granted_by, new.granted_ms, data)
                    .await?;
            }
            tx.commit().await
        }
        .await;
        self.noted(result)?;
        self.grant(&id)
            .await?
            .ok_or_else(|| StoreError::Corrupt(format!("grant {id} does not read back")))
    }

    pub async fn grant(&self, id: &str) -> Result<Option<Grant>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM grants WHERE id = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id)
            .fetch_optional(self.pool())
            .await?;
        row.as_ref().map(grant_of).transpose()
    }

    /// A grant's history, oldest first.
    pub async fn grant_events(&self, id: &str) -> Result<Vec<GrantEvent>, StoreError> {
        let rows = sqlx::query(
            "SELECT at_ms, state, note FROM grant_events WHERE grant_id = $1 ORDER BY n",
        )
        .bind(id)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                let state: String = r.try_get("state")?;
                Ok(GrantEvent {
                    at_ms: r.try_get("at_ms")?,
                    state: GrantState::parse(&state)
                        .ok_or_else(|| StoreError::Corrupt(format!("grant event {state:?}")))?,
                    note: r.try_get("note")?,
                })
            })
            .collect()
    }

    /// Up to `limit` grants matching `filter`, newest first, after the grant `after` (a
    /// grant id: the keyset cursor).
    pub async fn list_grants(
        &self,
        filter: &GrantFilter,
        after: Option<&str>,
        limit: i64,
    ) -> Result<Vec<Grant>, StoreError> {
        let (sql, binds) = filtered(filter, after);
        let sql =
            format!("SELECT {COLUMNS} FROM grants WHERE {sql} ORDER BY id DESC LIMIT {limit}");
        let rows = super::bound(sql, binds).fetch_all(self.pool()).await?;
        rows.iter().map(grant_of).collect()
    }

    /// How many grants match `filter`.
    pub async fn count_grants(&self, filter: &GrantFilter) -> Result<i64, StoreError> {
        let (sql, binds) = filtered(filter, None);
        let sql = format!("SELECT COUNT(*) AS n FROM grants WHERE {sql}");
        Ok(super::bound(sql, binds)
            .fetch_one(self.pool())
            .await?
            .try_get("n")?)
    }

    /// The active grants of one user in one group (overlaps), `except` one.
    pub async fn active_grants_for(
        &self,
        org: &str,
        user_key: &str,
        group_id: &str,
        except: Option<&str>,
    ) -> Result<Vec<Grant>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM grants WHERE org = $1 AND user_key = $2 AND group_id = $3 AND state = 'active' AND id <> $4 ORDER BY id"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(org)
            .bind(user_key)
            .bind(group_id)
            .bind(except.unwrap_or(""))
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(grant_of).collect()
    }

    /// Moves a grant from `from` to `to` (with a history entry and its event: `grant.granted`,
    /// `.expired`, `.revoked` or `.failed`, by `actor`), setting its end and lag when `to`
    /// ends it. False when the grant was not in `from` (another call moved it first).
    #[allow(clippy::too_many_arguments)]
    pub async fn transition_grant(
        &self,
        id: &str,
        from: GrantState,
        to: GrantState,
        at_ms: i64,
        lag_ms: Option<i64>,
        note: &str,
        actor: &str,
    ) -> Result<bool, StoreError> {
        let ends = matches!(
            to,
            GrantState::Expired | GrantState::Revoked | GrantState::Failed
        );
        let result = async {
            let mut tx = self.pool().begin().await?;
            let moved = sqlx::query(
                "UPDATE grants SET state = $1, ended_ms = $2, lag_ms = $3, lease_owner = '', lease_until_ms = 0, last_error = $4 WHERE id = $5 AND state = $6",
            )
            .bind(to.as_str())
            .bind(ends.then_some(at_ms))
            .bind(lag_ms)
            .bind(if to == GrantState::Failed { note } else { "" })
            .bind(id)
            .bind(from.as_str())
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if moved == 1 {
                add_event(&mut tx, id, at_ms, to, note).await?;
                let kind = match to {
                    GrantState::Active => "grant.granted",
                    GrantState::Expired => "grant.expired",
                    GrantState::Revoked => "grant.revoked",
                    GrantState::Failed => "grant.failed",
                    GrantState::Pending => "grant.pending",
                };
                let data = serde_json::json!({ "note": note, "lagMs": lag_ms });
                grant_event(&mut tx, id, kind, actor, at_ms, data).await?;
            }
            tx.commit().await?;
            Ok(moved == 1)
        }
        .await;
        self.noted(result)
    }

    /// Notes a failed removal: the grant stays active, tried again at `next_try_ms`, its
    /// lease released.
    pub async fn grant_retry(
        &self,
        id: &str,
        at_ms: i64,
        next_try_ms: i64,
        error: &str,
    ) -> Result<(), StoreError> {
        let result = async {
            let mut tx = self.pool().begin().await?;
            sqlx::query(
                "UPDATE grants SET attempts = attempts + 1, next_try_ms = $1, last_error = $2, lease_owner = '', lease_until_ms = 0 WHERE id = $3 AND state IN ('active', 'pending')",
            )
            .bind(next_try_ms)
            .bind(error)
            .bind(id)
            .execute(&mut *tx)
            .await?;
            add_event(
                &mut tx,
                id,
                at_ms,
                GrantState::Active,
                &format!("removal failed: {error}"),
            )
            .await?;
            let data = serde_json::json!({ "error": error, "nextTryAtMs": next_try_ms });
            grant_event(&mut tx, id, "grant.overdue", "system", at_ms, data).await?;
            tx.commit().await
        }
        .await;
        self.noted(result)
    }

    /// Moves an active grant's end to `expires_ms` (an extension, with a `grant.extended`
    /// event by `actor`; or a revocation that is now due, with `end_as` `Revoked`), with a
    /// history entry; the expiry warnings start again for the new end. False when it is not
    /// active.
    pub async fn reschedule_grant(
        &self,
        id: &str,
        expires_ms: i64,
        end_as: GrantState,
        at_ms: i64,
        note: &str,
        actor: &str,
    ) -> Result<bool, StoreError> {
        let result = async {
            let mut tx = self.pool().begin().await?;
            let moved = sqlx::query(
                "UPDATE grants SET expires_ms = $1, end_as = $2, next_try_ms = 0, warned = 0 WHERE id = $3 AND state = 'active'",
            )
            .bind(expires_ms)
            .bind(end_as.as_str())
            .bind(id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if moved == 1 {
                add_event(&mut tx, id, at_ms, GrantState::Active, note).await?;
                if end_as == GrantState::Expired {
                    let data = serde_json::json!({ "note": note });
                    grant_event(&mut tx, id, "grant.extended", actor, at_ms, data).await?;
                }
            }
            tx.commit().await?;
            Ok(moved == 1)
        }
        .await;
        self.noted(result)
    }
}

/// Appends the directory event `kind` of grant `id` (with its user, group and end) inside
/// the grant's own transaction; `extra`'s fields are added to the event's data.
pub(super) async fn grant_event(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    id: &str,
    kind: &str,
    actor: &str,
    at_ms: i64,
    extra: serde_json::Value,
) -> Result<(), sqlx::Error> {
    let row = sqlx::query(
        "SELECT org, user_key, user_email, group_id, expires_ms, reason, granted_by FROM grants WHERE id = $1",
    )
    .bind(id)
    .fetch_one(&mut **tx)
    .await?;
    let mut data = serde_json::json!({
        "grant": id,
        "user": row.try_get::<String, _>("user_key")?,
        "email": row.try_get::<String, _>("user_email")?,
        "group": row.try_get::<String, _>("group_id")?,
        "expiresAtMs": row.try_get::<i64, _>("expires_ms")?,
        "reason": row.try_get::<String, _>("reason")?,
        "grantedBy": row.try_get::<String, _>("granted_by")?,
    });
    if let (Some(data), serde_json::Value::Object(extra)) = (data.as_object_mut(), extra) {
        data.extend(extra);
    }
    let event = NewEvent {
        org: row.try_get("org")?,
        kind: kind.to_owned(),
        object_kind: "grant".into(),
        object_id: id.to_owned(),
        actor: actor.to_owned(),
        data,
        at_ms,
    };
    Store::append_event_in(tx, &event).await.map(|_| ())
}

async fn add_event(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    id: &str,
    at_ms: i64,
    state: GrantState,
    note: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO grant_events (grant_id, n, at_ms, state, note) SELECT $1, COALESCE(MAX(n), 0) + 1, $2, $3, $4 FROM grant_events WHERE grant_id = $1",
    )
    .bind(id)
    .bind(at_ms)
    .bind(state.as_str())
    .bind(note)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// The WHERE clause of a filter, with its values in placeholder order.
fn filtered(filter: &GrantFilter, after: Option<&str>) -> (String, Vec<Arg>) {
    let mut clauses = vec!["org = $1".to_owned()];
    let mut binds = vec![Arg::Text(filter.org.clone())];
    let mut push = |clause: &str, bind: Arg| {
        binds.push(bind);
        clauses.push(format!("{clause} ${}", binds.len()));
    };
    if let Some(state) = filter.state {
        push("state =", Arg::Text(state.as_str().to_owned()));
    }
    if let Some(user) = &filter.user_key {
        push("user_key =", Arg::Text(user.clone()));
    }
    if let Some(group) = &filter.group_id {
        push("group_id =", Arg::Text(group.clone()));
    }
    if let Some(before) = filter.expiring_before {
        push("expires_ms <", Arg::Int(before));
    }
    if let Some(after) = after {
        push("id <", Arg::Text(after.to_owned()));
    }
    (clauses.join(" AND "), binds)
}
