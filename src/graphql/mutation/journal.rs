//! Every write through the store: its intent recorded before anything is queued, marked sent
//! just before its first write request, and settled with one audit row after. A store that
//! cannot be written refuses the write before anything is sent (`STORE_UNAVAILABLE`).

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::future::BoxFuture;
use serde_json::Value;

use super::Stored;
use super::{Payload, UserError, UserErrorCode, reused};
use crate::directory::{Directories, SendGate, traced};
use crate::graphql::ids::{GlobalId, Kind};
use crate::store::{
    AuditRecord, Begin, IntentMeta, IntentState, NewEvent, Store, Target, UpstreamCall,
};

/// The store the mutations journal their writes in, and how long keys replay.
#[derive(Clone)]
pub struct Journal {
    store: Store,
    ttl_ms: i64,
    /// The idempotency keys (with their scope) this process is running a write for: a key of
    /// this replica's in flight in the store but not here was left behind (its settling
    /// failed) and may be taken over.
    running: Arc<Mutex<HashSet<String>>>,
}

/// Takes a key off `running` when its write ends, however it ends.
struct Running<'a>(&'a Mutex<HashSet<String>>, String);

impl Drop for Running<'_> {
    fn drop(&mut self) {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&self.1);
    }
}

impl Journal {
    pub fn new(store: Store, idempotency_ttl: Duration) -> Journal {
        Journal {
            store,
            ttl_ms: i64::try_from(idempotency_ttl.as_millis()).unwrap_or(i64::MAX),
            running: Arc::default(),
        }
    }

    /// The store the writes are journaled in (the audit log's reads come from it too).
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// How long an idempotency key replays its first answer.
    pub fn ttl(&self) -> Duration {
        Duration::from_millis(u64::try_from(self.ttl_ms).unwrap_or(0))
    }

    /// Runs `work` as a journaled write: recorded, traced, settled and audited. With `key`, a
    /// record from before (this process's or a stopped one's) answers instead where it can.
    pub(super) async fn run<P: Payload>(
        &self,
        meta: IntentMeta,
        key: Option<&str>,
        dirs: &Directories,
        work: impl Future<Output = P>,
    ) -> P {
        // Held from before the intent is looked up until the write is settled.
        let _running = match key {
            Some(key) => {
                let scoped = format!(
                    "{}\n{}\n{}\n{key}",
                    meta.principal, meta.orgs, meta.mutation
                );
                let fresh = self
                    .running
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .insert(scoped.clone());
                if !fresh {
                    return P::failed(in_flight());
                }
                Some(Running(&self.running, scoped))
            }
            None => None,
        };
        let begin = match self.begin(&meta, key).await {
            Ok(begin) => begin,
            Err(e) => {
                tracing::error!(mutation = %meta.mutation, error = %e, "a write was refused: the store cannot record it");
                return P::failed(store_unavailable());
            }
        };
        match begin {
            Begin::Replay { result } => serde_json::from_str::<Value>(&result)
                .ok()
                .and_then(|v| P::load(&v, dirs))
                .unwrap_or_else(|| P::failed(unreadable_record())),
            Begin::Reused => P::failed(reused()),
            Begin::InFlight | Begin::Mine { .. } => P::failed(in_flight()),
            Begin::Resume {
                id,
                was: IntentState::Unknown,
            } => {
                // The stopped process sent it and never learned the answer: it is not sent
                // again; each of its write requests is settled by reading back instead.
                let gate: Arc<dyn SendGate> = Arc::new(Unconfirmed);
                let (payload, calls) = traced(Some(gate), work).await;
                self.finish(&id, &meta, key, &payload, calls).await;
                payload
            }
            Begin::Fresh { id } | Begin::Resume { id, .. } => {
                let gate: Arc<dyn SendGate> = Arc::new(MarkSent {
                    store: self.store.clone(),
                    id: id.clone(),
                });
                let (payload, calls) = traced(Some(gate), work).await;
                self.finish(&id, &meta, key, &payload, calls).await;
                payload
            }
        }
    }

    /// Records the intent; one of this replica's left behind by a failed settling (not running
    /// here) is taken over as a restart would.
    async fn begin(
        &self,
        meta: &IntentMeta,
        key: Option<&str>,
    ) -> Result<Begin, crate::store::StoreError> {
        let begin = self.store.begin_intent(meta, key, self.ttl_ms).await?;
        // This process holds the key (`running`), so an intent of this replica's under it is
        // not running here: it was left behind.
        let Begin::Mine { id, was } = &begin else {
            return Ok(begin);
        };
        Ok(self
            .store
            .claim_stale(id, *was, &meta.request_id)
            .await?
            .unwrap_or(Begin::InFlight))
    }

    /// Settles the intent (kept for replay when the payload is worth keeping under a key) and
    /// appends the audit row, in one transaction.
    async fn finish<P: Payload>(
        &self,
        id: &str,
        meta: &IntentMeta,
        key: Option<&str>,
        payload: &P,
        calls: Vec<UpstreamCall>,
    ) {
        let result = (key.is_some() && payload.keep()).then(|| payload.save().to_string());
        let record = AuditRecord {
            at_ms: 0,
            request_id: meta.request_id.clone(),
            actor: meta.principal.clone(),
            role: meta.role.clone(),
            org: meta.orgs.clone(),
            action: meta.mutation.clone(),
            targets: meta.targets.clone(),
            input: crate::store::input_of(&meta.fingerprint).to_owned(),
            outcome: payload
                .outcome()
                .save()
                .as_str()
                .unwrap_or_default()
                .to_owned(),
            error_code: payload
                .first_error()
                .map(|c| c.save().as_str().unwrap_or_default().to_owned())
                .unwrap_or_default(),
            calls,
        };
        // Only a write that makes events pays for its payload's JSON.
        let events = match event_kind(&record.action) {
            Some(kind) => events_of(&record, kind, &payload.save()),
            None => Vec::new(),
        };
        if let Err(e) = self
            .store
            .finish_intent(id, result.as_deref(), &record, &events)
            .await
        {
            // The write is done and its answer goes back; the intent stays in flight, so a
            // restart records it as unknown (and audits that).
            tracing::error!(mutation = %meta.mutation, error = %e, "a finished write could not be settled in the store");
        }
    }
}

/// The directory events a finished write adds to its organization's log, read off its
/// payload (the objects as the write left them): one per user for the user writes
/// (`user.invited`, `user.updated`, `user.deactivated`, `user.deleted`), one for the group of
/// a group write (`group.created`, `group.renamed`, `group.deleted`, `group.members_added`,
/// `group.members_removed`, with the users the input named), only when the write happened
/// (`SUCCESS` or `PARTIAL`). Grant writes record their own events; refreshes and redeliveries
/// none.
fn event_kind(action: &str) -> Option<&'static str> {
    Some(match action {
        "inviteUser" => "user.invited",
        "updateUser" => "user.updated",
        "deactivateUser" | "deactivateUsers" => "user.deactivated",
        "deleteUser" => "user.deleted",
        "createGroup" => "group.created",
        "renameGroup" => "group.renamed",
        "deleteGroup" => "group.deleted",
        "addGroupMembers" => "group.members_added",
        "removeGroupMembers" => "group.members_removed",
        _ => return None,
    })
}

/// The events of a write of `kind` (see [`event_kind`]) whose payload saved as `payload`.
fn events_of(record: &AuditRecord, kind: &'static str, payload: &Value) -> Vec<NewEvent> {
    if !matches!(record.outcome.as_str(), "SUCCESS" | "PARTIAL") {
        return Vec::new();
    }
    // (org, object kind, id, e-mail) of each object the payload holds.
    let mut objects: Vec<(String, &str, String, Option<String>)> = Vec::new();
    let mut saved = |v: &Value, what: &'static str| {
        let resource = &v["rec"]["resource"];
        if let (Some(org), Some(id)) = (v["org"].as_str(), resource["id"].as_str()) {
            let email = resource["userName"].as_str().map(str::to_lowercase);
            objects.push((org.to_owned(), what, id.to_owned(), email));
        }
    };
    saved(&payload["user"], "user");
    payload["users"]
        .as_array()
        .into_iter()
        .flatten()
        .for_each(|u| saved(u, "user"));
    saved(&payload["group"], "group");
    for (field, what) in [("deletedUserId", "user"), ("deletedGroupId", "group")] {
        if let Some(g) = payload[field].as_str().and_then(GlobalId::decode) {
            objects.push((g.org.to_string(), what, g.key.clone(), None));
        }
    }
    let wanted = if kind.starts_with("user.") {
        "user"
    } else {
        "group"
    };
    let users: Vec<Value> = record
        .targets
        .iter()
        .filter(|t| t.kind == "User")
        .map(|t| serde_json::json!({ "id": t.id, "email": t.email }))
        .collect();
    let input: Value = serde_json::from_str(&record.input).unwrap_or_default();
    objects
        .into_iter()
        .filter(|(_, what, ..)| *what == wanted)
        .map(|(org, what, id, email)| NewEvent {
            org,
            kind: kind.to_owned(),
            object_kind: what.to_owned(),
            object_id: id,
            actor: record.actor.clone(),
            data: serde_json::json!({
                "outcome": record.outcome,
                "requestId": record.request_id,
                "email": email,
                "users": if what == "group" { Value::Array(users.clone()) } else { Value::Null },
                "input": input,
            }),
            at_ms: record.at_ms,
        })
        .collect()
}

/// Marks the intent sent before the write's first request that changes something.
struct MarkSent {
    store: Store,
    id: String,
}

impl SendGate for MarkSent {
    fn open(&self) -> BoxFuture<'_, Result<(), String>> {
        Box::pin(async move {
            self.store
                .mark_sent(&self.id)
                .await
                .map_err(|e| e.to_string())
        })
    }
}

/// The gate of a write a stopped process sent: nothing is sent again (see `resumes_unconfirmed`).
struct Unconfirmed;

impl SendGate for Unconfirmed {
    fn open(&self) -> BoxFuture<'_, Result<(), String>> {
        Box::pin(async { Ok(()) })
    }

    fn resumes_unconfirmed(&self) -> bool {
        true
    }
}

/// The ids and e-mails an input names, for the audit row: every global id of a user or a
/// group, and every `email` field.
pub(super) fn targets_of(input: &Value) -> Vec<Target> {
    fn walk(v: &Value, field: Option<&str>, out: &mut Vec<Target>) {
        match v {
            Value::Object(map) => {
                for (k, v) in map {
                    walk(v, Some(k), out);
                }
            }
            Value::Array(items) => items.iter().for_each(|x| walk(x, field, out)),
            Value::String(s) => {
                if let Some(g) = GlobalId::decode(s) {
                    let kind = match g.kind {
                        Kind::User => "User",
                        Kind::Group => "Group",
                        Kind::Grant => "Grant",
                        Kind::Snapshot => "Snapshot",
                        Kind::AccessReview => "AccessReview",
                        Kind::Org | Kind::AuditEntry | Kind::AccessReviewItem => return,
                    };
                    let email =
                        (g.kind == Kind::User && g.key.contains('@')).then(|| g.key.clone());
                    out.push(Target {
                        kind: kind.into(),
                        id: s.clone(),
                        email,
                    });
                } else if field == Some("email") || (s.contains('@') && field == Some("id")) {
                    out.push(Target {
                        kind: "User".into(),
                        id: s.to_lowercase(),
                        email: Some(s.to_lowercase()),
                    });
                }
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(input, None, &mut out);
    out
}

pub(super) fn store_unavailable() -> UserError {
    UserError::new(
        UserErrorCode::StoreUnavailable,
        &[],
        "the gateway cannot record this write in its store, so nothing was sent (an unaudited write is worse than a refused one); try again shortly",
    )
    .answered_upstream()
}

fn in_flight() -> UserError {
    UserError::new(
        UserErrorCode::IdempotencyKeyInUse,
        &["input", "idempotencyKey"],
        "a request with this idempotency key is still running (here or on another replica); try again in a moment to get its answer",
    )
    .answered_upstream()
}

fn unreadable_record() -> UserError {
    UserError::new(
        UserErrorCode::OutcomeUnknown,
        &[],
        "this idempotency key's first answer cannot be shown (its organization is no longer served); read the object to see its state",
    )
    .answered_upstream()
}
