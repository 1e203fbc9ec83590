//! Idempotency keys: the same key with the same input within 24 hours returns the first result
//! without a second upstream write; concurrent repeats wait for the first. Kept in memory.

use std::any::Any;
use std::sync::Arc;
use std::time::Duration;

use moka::future::Cache;
use tokio::sync::Mutex;

struct Entry {
    fingerprint: String,
    result: Mutex<Option<Arc<dyn Any + Send + Sync>>>,
}

#[derive(Clone)]
pub struct Idempotency {
    cache: Cache<String, Arc<Entry>>,
}

/// The key was used before with another input.
pub struct Reused;

impl Idempotency {
    pub fn new(ttl: Duration, max_entries: u64) -> Idempotency {
        Idempotency {
            cache: Cache::builder()
                .time_to_live(ttl)
                .max_capacity(max_entries)
                .build(),
        }
    }

    /// Runs `work` once per (`scope`, `key`); replays its result for the same `fingerprint`.
    /// Results `keep` declines (failures known not applied, worth retrying) are not remembered.
    pub async fn run<P, F>(
        &self,
        scope: &str,
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
        let entry = self
            .cache
            .get_with(format!("{scope}\u{0}{key}"), async {
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
        if let Some(stored) = slot.as_ref() {
            if let Some(p) = stored.downcast_ref::<P>() {
                return Ok(p.clone());
            }
        }
        let result = work.await;
        if keep(&result) {
            *slot = Some(Arc::new(result.clone()));
        }
        Ok(result)
    }
}
