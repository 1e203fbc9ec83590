//! Idempotency keys: the same key with the same input within 24 hours returns the first result
//! without a second upstream write; concurrent repeats wait for the first. Records are scoped
//! per (API key, organizations, mutation, key) and kept in memory, bounded in bytes.

use std::any::Any;
use std::sync::Arc;
use std::time::Duration;

use async_graphql::ID;
use moka::future::Cache;
use tokio::sync::Mutex;

use crate::directory::{Directories, DirectoryReads};
use crate::graphql::ids::{GlobalId, Kind};

/// The longest idempotency key accepted, in characters (as payment APIs allow).
pub const MAX_KEY_LEN: usize = 255;

/// What a stored result is assumed to weigh beyond its input: results hold shared records, so
/// a fixed allowance plus the input's size (a bulk call's results grow with its ids) is close.
const RESULT_ALLOWANCE: usize = 1024;

/// Who and what a record belongs to: a key only ever replays, or blocks, its own caller's
/// calls to the same mutation for the same organizations.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Scope {
    /// The API key's configured name (never the key).
    pub principal: String,
    /// The organizations the input names, sorted, comma-separated.
    pub orgs: String,
    pub mutation: &'static str,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct RecordKey {
    scope: Scope,
    key: String,
}

struct Entry {
    fingerprint: String,
    result: Mutex<Option<Arc<dyn Any + Send + Sync>>>,
}

#[derive(Clone)]
pub struct Idempotency {
    cache: Cache<RecordKey, Arc<Entry>>,
}

/// The key was used before with another input.
pub struct Reused;

/// Why an idempotency key is refused.
pub fn check_key(key: &str) -> Result<(), String> {
    let len = key.chars().count();
    if len == 0 || len > MAX_KEY_LEN {
        return Err(format!(
            "`idempotencyKey` must be 1 to {MAX_KEY_LEN} characters, got {len}"
        ));
    }
    // Visible ASCII only: keys are machine-made (UUIDs, ticket numbers), and anything else
    // (spaces, control or look-alike characters) would make two keys that print alike differ.
    if !key.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(
            "`idempotencyKey` may hold only visible ASCII characters (no spaces or control characters)"
                .to_owned(),
        );
    }
    Ok(())
}

/// The organizations an input names, as its idempotency scope: those of the global ids and of
/// `org`, else the only one served. An input that names none (and so fails validation) gets
/// an empty set; nothing is remembered for it anyway.
pub fn orgs_named<'a, D: DirectoryReads + Clone>(
    dirs: &Directories<D>,
    org: Option<&ID>,
    ids: impl IntoIterator<Item = &'a ID>,
) -> String {
    let mut orgs: Vec<String> = Vec::new();
    if let Some(org) = org {
        orgs.push(match GlobalId::decode(org) {
            Some(g) if g.kind == Kind::Org => g.org.to_string(),
            _ => org.to_string(),
        });
    }
    orgs.extend(
        ids.into_iter()
            .filter_map(|id| GlobalId::decode(id).map(|g| g.org.to_string())),
    );
    if orgs.is_empty()
        && let [only] = dirs.all()
    {
        orgs.push(only.org_id().to_string());
    }
    orgs.sort();
    orgs.dedup();
    orgs.join(",")
}

impl Idempotency {
    /// Records live `ttl`; all of them together weigh at most about `max_bytes`.
    pub fn new(ttl: Duration, max_bytes: u64) -> Idempotency {
        Idempotency {
            cache: Cache::builder()
                .time_to_live(ttl)
                .weigher(|k: &RecordKey, e: &Arc<Entry>| weight(k, e))
                .max_capacity(max_bytes)
                .build(),
        }
    }

    /// Runs `work` once per (`scope`, `key`); replays its result for the same `fingerprint`.
    /// Results `keep` declines (failures known not applied, worth retrying, and inputs refused
    /// before anything was sent) are not remembered.
    pub async fn run<P, F>(
        &self,
        scope: Scope,
        key: Option<&str>,
        fingerprint: String,
        work: F,
        keep: impl Fn(&P) -> bool,
    ) -> Result<P, Reused>
    where
        P: Clone + Send + Sync + 'static,
        F: Future<Output = P>,
    {
        let Some(key) = key else {
            return Ok(work.await);
        };
        let record = RecordKey {
            scope,
            key: key.to_owned(),
        };
        let entry = self
            .cache
            .get_with(record.clone(), async {
                Arc::new(Entry {
                    fingerprint: fingerprint.clone(),
                    result: Mutex::new(None),
                })
            })
            .await;
        if entry.fingerprint != fingerprint {
            return Err(Reused);
        }
        let mut slot = entry.result.lock().await;
        if let Some(stored) = slot.as_ref()
            && let Some(p) = stored.downcast_ref::<P>()
        {
            return Ok(p.clone());
        }
        let result = work.await;
        if keep(&result) {
            *slot = Some(Arc::new(result.clone()));
        } else {
            // Forget the record (only if it is still this one), so a corrected input or a
            // retry under the same key runs afresh instead of meeting `IDEMPOTENCY_KEY_REUSED`.
            drop(slot);
            let mine = entry.clone();
            self.cache
                .entry(record)
                .and_compute_with(|current| async move {
                    match current {
                        Some(e) if Arc::ptr_eq(e.value(), &mine) => moka::ops::compute::Op::Remove,
                        _ => moka::ops::compute::Op::Nop,
                    }
                })
                .await;
        }
        Ok(result)
    }
}

/// A record's weight in bytes: its key, its fingerprint, and an estimate of its result.
fn weight(k: &RecordKey, e: &Arc<Entry>) -> u32 {
    let bytes = k.key.len()
        + k.scope.principal.len()
        + k.scope.orgs.len()
        + k.scope.mutation.len()
        + 2 * e.fingerprint.len()
        + RESULT_ALLOWANCE;
    u32::try_from(bytes).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scope(principal: &str, orgs: &str) -> Scope {
        Scope {
            principal: principal.into(),
            orgs: orgs.into(),
            mutation: "inviteUser",
        }
    }

    #[test]
    fn keys_are_one_to_255_visible_ascii_characters() {
        assert!(check_key("hr-ticket-4711").is_ok());
        assert!(check_key(&"k".repeat(255)).is_ok());
        assert!(check_key(&"k".repeat(256)).is_err());
        for bad in ["", "two words", "tab\there", "nul\0", "é"] {
            assert!(check_key(bad).is_err(), "{bad:?}");
        }
    }

    #[tokio::test]
    async fn records_of_different_scopes_never_meet() {
        let store = Idempotency::new(Duration::from_secs(60), 1 << 20);
        let a = store
            .run(
                scope("a", "acme"),
                Some("k"),
                "f".into(),
                async { 1 },
                |_| true,
            )
            .await;
        let b = store
            .run(
                scope("b", "acme"),
                Some("k"),
                "g".into(),
                async { 2 },
                |_| true,
            )
            .await;
        let c = store
            .run(
                scope("a", "globex"),
                Some("k"),
                "f".into(),
                async { 3 },
                |_| true,
            )
            .await;
        assert_eq!((a.ok(), b.ok(), c.ok()), (Some(1), Some(2), Some(3)));
        let again = store
            .run(
                scope("a", "acme"),
                Some("k"),
                "f".into(),
                async { 9 },
                |_| true,
            )
            .await;
        assert_eq!(again.ok(), Some(1), "the same scope replays");
    }

    #[tokio::test]
    async fn a_result_not_kept_leaves_no_record() {
        let store = Idempotency::new(Duration::from_secs(60), 1 << 20);
        let refused = store
            .run(
                scope("a", "acme"),
                Some("k"),
                "bad".into(),
                async { 0 },
                |p| *p != 0,
            )
            .await;
        assert_eq!(refused.ok(), Some(0));
        let corrected = store
            .run(
                scope("a", "acme"),
                Some("k"),
                "good".into(),
                async { 1 },
                |p| *p != 0,
            )
            .await;
        assert_eq!(
            corrected.ok(),
            Some(1),
            "the corrected input runs, not REUSED"
        );
        store.cache.run_pending_tasks().await;
        assert_eq!(store.cache.entry_count(), 1);
    }

    #[tokio::test]
    async fn the_store_is_bounded_in_bytes() {
        let max = 1 << 20;
        let store = Idempotency::new(Duration::from_secs(60), max);
        // 400 calls with 200 KB inputs: 80 MB unbounded; each weighs over 400 KB here.
        let big = "x".repeat(200_000);
        for i in 0..400 {
            let key = format!("key-{i}");
            let fingerprint = format!("{i}{big}");
            let _ = store
                .run(
                    scope("a", "acme"),
                    Some(&key),
                    fingerprint,
                    async { i },
                    |_| true,
                )
                .await;
        }
        store.cache.run_pending_tasks().await;
        assert!(
            store.cache.weighted_size() <= max,
            "{} bytes held, bound {max}",
            store.cache.weighted_size()
        );
        // Small records fit many to the megabyte.
        for i in 0..200 {
            let key = format!("small-{i}");
            let _ = store
                .run(
                    scope("a", "acme"),
                    Some(&key),
                    "f".into(),
                    async { i },
                    |_| true,
                )
                .await;
        }
        store.cache.run_pending_tasks().await;
        assert!(store.cache.entry_count() >= 200);
        assert!(store.cache.weighted_size() <= max);
    }
}
