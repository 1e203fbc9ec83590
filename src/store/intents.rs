//! Write intents: every write is recorded before it is queued (`pending`), marked `sent` just
//! before its first upstream write request, and settled after: with an idempotency key it
//! becomes the key's record (`done`, with the result to replay); without one it is removed, its
//! audit row being the record. Both happen in one transaction with the audit row.
//!
//! At start, intents left in flight by a stopped process are recovered: `pending` ones never
//! reached the upstream (`not_sent`: a retry with the key sends them, once), `sent` ones have an
//! outcome nobody learned (`unknown`: a retry settles it by reading first). Each recovery is
//! audited. With several replicas on one PostgreSQL store, recovery at start would take another
//! live replica's intents too; it runs only where one process owns the store.

use sqlx::{AssertSqlSafe, Row};

use super::audit::{AuditRecord, Target};
use super::{Store, StoreError, now_ms};

/// An idempotency key in its scope: it only ever meets its own caller's calls to the same
/// mutation for the same organizations.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct IntentKey {
    pub principal: String,
    pub orgs: String,
    pub mutation: String,
    pub key: String,
}

/// What an intent records besides its key.
#[derive(Clone, Debug, Default)]
pub struct IntentMeta {
    pub principal: String,
    pub role: String,
    pub orgs: String,
    pub mutation: String,
    pub request_id: String,
    pub targets: Vec<Target>,
    /// The input's stable form (also the audit row's input summary).
    pub fingerprint: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IntentState {
    Pending,
    Sent,
    Done,
    NotSent,
    Unknown,
}

impl IntentState {
    fn as_str(self) -> &'static str {
        match self {
            IntentState::Pending => "pending",
            IntentState::Sent => "sent",
            IntentState::Done => "done",
            IntentState::NotSent => "not_sent",
            IntentState::Unknown => "unknown",
        }
    }

    fn parse(s: &str) -> Option<IntentState> {
        Some(match s {
            "pending" => IntentState::Pending,
            "sent" => IntentState::Sent,
            "done" => IntentState::Done,
            "not_sent" => IntentState::NotSent,
            "unknown" => IntentState::Unknown,
            _ => return None,
        })
    }
}

/// What to do with a write, once its intent is recorded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Begin {
    /// Recorded; run the write.
    Fresh { id: String },
    /// A stopped process recorded this key and did not finish: `NotSent` never reached the
    /// upstream (send it), `Unknown` may have (read before sending). Claimed by this call.
    Resume { id: String, was: IntentState },
    /// Done before: answer with this result.
    Replay { result: String },
    /// The key was used with another input.
    Reused,
    /// Another call holds the key and has not finished.
    InFlight,
    /// This replica recorded the key and has not finished: running in this process (the
    /// caller knows), or left behind when settling it failed. [`Store::claim_stale`] takes it.
    Mine { id: String, was: IntentState },
}

/// How many intents a start found in flight.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Recovered {
    pub not_sent: u64,
    pub unknown: u64,
}

impl Store {
    /// Records a write before it is queued. With `key`, finds the key's record if there is one
    /// younger than its expiry.
    pub async fn begin_intent(
        &self,
        meta: &IntentMeta,
        key: Option<&str>,
        ttl_ms: i64,
    ) -> Result<Begin, StoreError> {
        let started = std::time::Instant::now();
        let result = self.begin_inner(meta, key, ttl_ms).await;
        crate::metrics::store_operation("intent_begin", started, result.is_ok());
        self.noted(result)
    }

    async fn begin_inner(
        &self,
        meta: &IntentMeta,
        key: Option<&str>,
        ttl_ms: i64,
    ) -> Result<Begin, sqlx::Error> {
        let now = now_ms();
        if let Some(key) = key {
            sqlx::query(
                "DELETE FROM write_intents WHERE principal = $1 AND orgs = $2 AND mutation = $3 AND idem_key = $4 AND expires_ms < $5",
            )
            .bind(&meta.principal)
            .bind(&meta.orgs)
            .bind(&meta.mutation)
            .bind(key)
            .bind(now)
            .execute(self.pool())
            .await?;
        }
        let id = format!("{:032x}", rand::random::<u128>());
        let inserted = sqlx::query(
            "INSERT INTO write_intents (id, principal, role, orgs, mutation, idem_key, fingerprint, state, owner, request_id, targets, result, created_ms, updated_ms, expires_ms) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, 'pending', $8, $9, $10, NULL, $11, $11, $12) ON CONFLICT DO NOTHING",
        )
        .bind(&id)
        .bind(&meta.principal)
        .bind(&meta.role)
        .bind(&meta.orgs)
        .bind(&meta.mutation)
        .bind(key)
        .bind(&meta.fingerprint)
        .bind(&self.inner.owner)
        .bind(&meta.request_id)
        .bind(serde_json::to_string(&meta.targets).unwrap_or_default())
        .bind(now)
        .bind(now.saturating_add(ttl_ms))
        .execute(self.pool())
        .await?
        .rows_affected();
        if inserted == 1 {
            return Ok(Begin::Fresh { id });
        }
        let Some(key) = key else {
            // Ids are random 128-bit; a clash is a broken random source, not a retry.
            return Err(sqlx::Error::Protocol("intent id collision".into()));
        };
        let row = sqlx::query(
            "SELECT id, fingerprint, state, result, owner FROM write_intents WHERE principal = $1 AND orgs = $2 AND mutation = $3 AND idem_key = $4",
        )
        .bind(&meta.principal)
        .bind(&meta.orgs)
        .bind(&meta.mutation)
        .bind(key)
        .fetch_optional(self.pool())
        .await?;
        let Some(row) = row else {
            // Expired and removed between the two statements: the next try records it.
            return Ok(Begin::InFlight);
        };
        let fingerprint: String = row.try_get("fingerprint")?;
        if fingerprint != meta.fingerprint {
            return Ok(Begin::Reused);
        }
        let existing: String = row.try_get("id")?;
        let state: String = row.try_get("state")?;
        match IntentState::parse(&state) {
            Some(IntentState::Done) => Ok(Begin::Replay {
                result: row
                    .try_get::<Option<String>, _>("result")?
                    .unwrap_or_default(),
            }),
            Some(was @ (IntentState::NotSent | IntentState::Unknown)) => {
                let claimed = sqlx::query(
                    "UPDATE write_intents SET state = 'pending', owner = $1, updated_ms = $2, request_id = $3 WHERE id = $4 AND state = $5",
                )
                .bind(&self.inner.owner)
                .bind(now)
                .bind(&meta.request_id)
                .bind(&existing)
                .bind(was.as_str())
                .execute(self.pool())
                .await?
                .rows_affected();
                Ok(if claimed == 1 {
                    Begin::Resume { id: existing, was }
                } else {
                    Begin::InFlight
                })
            }
            Some(was @ (IntentState::Pending | IntentState::Sent))
                if row.try_get::<String, _>("owner")? == self.inner.owner =>
            {
                Ok(Begin::Mine { id: existing, was })
            }
            _ => Ok(Begin::InFlight),
        }
    }

    /// Takes over an intent this replica left in flight and no longer runs (see
    /// [`Begin::Mine`]): `None` if another call took it first.
    pub async fn claim_stale(
        &self,
        id: &str,
        was: IntentState,
        request_id: &str,
    ) -> Result<Option<Begin>, StoreError> {
        let claimed = sqlx::query(
            "UPDATE write_intents SET updated_ms = $1, request_id = $2 WHERE id = $3 AND state = $4 AND owner = $5",
        )
        .bind(now_ms())
        .bind(request_id)
        .bind(id)
        .bind(was.as_str())
        .bind(&self.inner.owner)
        .execute(self.pool())
        .await
        .map(|r| r.rows_affected());
        let claimed = self.noted(claimed)?;
        // Left pending, it never reached the upstream; left sent, its answer was never learned.
        let was = if was == IntentState::Sent {
            IntentState::Unknown
        } else {
            IntentState::NotSent
        };
        Ok((claimed == 1).then(|| Begin::Resume {
            id: id.to_owned(),
            was,
        }))
    }

    /// Marks an intent as reaching the upstream: called just before its first write request.
    pub async fn mark_sent(&self, id: &str) -> Result<(), StoreError> {
        let started = std::time::Instant::now();
        let result =
            sqlx::query("UPDATE write_intents SET state = 'sent', updated_ms = $1 WHERE id = $2")
                .bind(now_ms())
                .bind(id)
                .execute(self.pool())
                .await
                .map(|_| ());
        crate::metrics::store_operation("intent_sent", started, result.is_ok());
        self.noted(result)
    }

    /// Settles an intent and appends its audit row and `events` (what the write changed), in
    /// one transaction. `result` is the answer to replay under the key; `None` forgets the
    /// intent (no key, or a result not worth remembering: refused input, a failure known not
    /// applied).
    pub async fn finish_intent(
        &self,
        id: &str,
        result: Option<&str>,
        audit: &AuditRecord,
        events: &[super::NewEvent],
    ) -> Result<i64, StoreError> {
        let started = std::time::Instant::now();
        let outcome = async {
            let mut tx = self.pool().begin().await?;
            match result {
                Some(result) => {
                    sqlx::query("UPDATE write_intents SET state = 'done', result = $1, updated_ms = $2 WHERE id = $3")
                        .bind(result)
                        .bind(now_ms())
                        .bind(id)
                        .execute(&mut *tx)
                        .await?;
                }
                None => {
                    sqlx::query("DELETE FROM write_intents WHERE id = $1")
                        .bind(id)
                        .execute(&mut *tx)
                        .await?;
                }
            }
            let seq = Store::append_in(&mut tx, audit).await?;
            for event in events {
                Store::append_event_in(&mut tx, event).await?;
            }
            tx.commit().await?;
            Ok(seq)
        }
        .await;
        crate::metrics::store_operation("intent_finish", started, outcome.is_ok());
        self.noted(outcome)
    }

    /// How long ago an intent's record was made, and its state (tests, diagnostics).
    pub async fn intent_state(&self, id: &str) -> Result<Option<IntentState>, StoreError> {
        let row = sqlx::query("SELECT state FROM write_intents WHERE id = $1")
            .bind(id)
            .fetch_optional(self.pool())
            .await?;
        Ok(match row {
            Some(row) => IntentState::parse(&row.try_get::<String, _>("state")?),
            None => None,
        })
    }

    /// At start: every intent this replica's stopped process left in flight is marked `not_sent` or
    /// `unknown` (or, without a key, removed) and audited as such.
    pub async fn recover_intents(&self) -> Result<Recovered, StoreError> {
        let result = self.settle_in_flight(Stranded::Mine).await;
        self.noted(result)
    }

    async fn settle_in_flight(&self, which: Stranded) -> Result<Recovered, sqlx::Error> {
        const COLUMNS: &str = "SELECT id, principal, role, orgs, mutation, idem_key, fingerprint, state, request_id, targets, created_ms FROM write_intents WHERE state IN ('pending', 'sent')";
        let rows = match which {
            Stranded::Mine => {
                sqlx::query(AssertSqlSafe(format!(
                    "{COLUMNS} AND owner = $1 ORDER BY created_ms"
                )))
                .bind(&self.inner.owner)
                .fetch_all(self.pool())
                .await?
            }
            Stranded::Expired => {
                sqlx::query(AssertSqlSafe(format!(
                    "{COLUMNS} AND expires_ms < $1 ORDER BY created_ms"
                )))
                .bind(now_ms())
                .fetch_all(self.pool())
                .await?
            }
        };
        let mut recovered = Recovered::default();
        for row in rows {
            let id: String = row.try_get("id")?;
            let state: String = row.try_get("state")?;
            let key: Option<String> = row.try_get("idem_key")?;
            let sent = state == "sent";
            let targets: String = row.try_get("targets")?;
            let fingerprint: String = row.try_get("fingerprint")?;
            let record = AuditRecord {
                at_ms: 0,
                request_id: row.try_get("request_id")?,
                actor: row.try_get("principal")?,
                role: row.try_get("role")?,
                org: row.try_get("orgs")?,
                action: row.try_get("mutation")?,
                targets: serde_json::from_str(&targets).unwrap_or_default(),
                input: input_of(&fingerprint).to_owned(),
                outcome: if sent { "UNKNOWN" } else { "NOT_SENT" }.into(),
                error_code: if sent {
                    "GATEWAY_STOPPED_AFTER_SENDING"
                } else {
                    "GATEWAY_STOPPED_BEFORE_SENDING"
                }
                .into(),
                calls: Vec::new(),
            };
            let mut tx = self.pool().begin().await?;
            if key.is_some() {
                sqlx::query("UPDATE write_intents SET state = $1, updated_ms = $2 WHERE id = $3")
                    .bind(if sent { "unknown" } else { "not_sent" })
                    .bind(now_ms())
                    .bind(&id)
                    .execute(&mut *tx)
                    .await?;
            } else {
                sqlx::query("DELETE FROM write_intents WHERE id = $1")
                    .bind(&id)
                    .execute(&mut *tx)
                    .await?;
            }
            Store::append_in(&mut tx, &record).await?;
            tx.commit().await?;
            if sent {
                recovered.unknown += 1;
            } else {
                recovered.not_sent += 1;
            }
        }
        Ok(recovered)
    }

    /// Removes idempotency records past their expiry. One still in flight by then belongs to a
    /// replica that stopped and never came back under its name: it is settled (and audited) as
    /// a restart would settle it, first.
    pub async fn expire_intents(&self) -> Result<u64, StoreError> {
        let stranded = self.settle_in_flight(Stranded::Expired).await;
        self.noted(stranded)?;
        let result = sqlx::query(
            "DELETE FROM write_intents WHERE expires_ms < $1 AND state NOT IN ('pending', 'sent')",
        )
        .bind(now_ms())
        .execute(self.pool())
        .await
        .map(|r| r.rows_affected());
        self.noted(result)
    }
}

/// Which in-flight intents a settlement takes.
enum Stranded {
    /// This replica's, at its start.
    Mine,
    /// Anyone's, past their expiry.
    Expired,
}

/// The input part of a fingerprint (`mutation:{json}`).
pub fn input_of(fingerprint: &str) -> &str {
    fingerprint
        .split_once(':')
        .map_or(fingerprint, |(_, input)| input)
}
