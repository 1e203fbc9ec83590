//! The point-read tier: users and groups read one by one because the mirror did not have them.
//! One moka cache shared by every organization, keyed by (organization, kind, key); concurrent
//! misses for one key share one upstream call; a not-found is remembered briefly.

use std::sync::Arc;
use std::time::{Duration, Instant};

use moka::Expiry;
use moka::future::Cache;

use super::record::{GroupRec, UserRec};
use crate::keys::OrgId;

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) enum PointKey {
    User { org: OrgId, key: String },
    UserByEmail { org: OrgId, email: String },
    Group { org: OrgId, id: String },
}

impl PointKey {
    pub(crate) fn org(&self) -> &OrgId {
        match self {
            PointKey::User { org, .. }
            | PointKey::UserByEmail { org, .. }
            | PointKey::Group { org, .. } => org,
        }
    }
}

#[derive(Clone, Debug)]
pub(crate) enum PointValue {
    User(Option<Arc<UserRec>>),
    Group(Option<Arc<GroupRec>>),
}

/// A cached point read and how long it may be kept.
#[derive(Clone, Debug)]
pub(crate) struct Entry {
    pub(crate) value: PointValue,
    pub(crate) ttl: Duration,
}

struct PerEntryTtl;

impl Expiry<PointKey, Entry> for PerEntryTtl {
    fn expire_after_create(
        &self,
        _key: &PointKey,
        value: &Entry,
        _now: Instant,
    ) -> Option<Duration> {
        Some(value.ttl)
    }
}

/// Shared by every organization's directory.
#[derive(Clone)]
pub(crate) struct PointCache {
    cache: Cache<PointKey, Entry>,
}

impl PointCache {
    pub(crate) fn new(max_entries: u64) -> PointCache {
        PointCache {
            cache: Cache::builder()
                .max_capacity(max_entries)
                .expire_after(PerEntryTtl)
                .support_invalidation_closures()
                .build(),
        }
    }

    /// The cached entry, or the result of `load` (run once for all concurrent callers).
    pub(crate) async fn get_or_load<E, F>(&self, key: PointKey, load: F) -> Result<Entry, Arc<E>>
    where
        F: Future<Output = Result<Entry, E>>,
        E: Send + Sync + 'static,
    {
        self.cache.try_get_with(key, load).await
    }

    pub(crate) async fn insert(&self, key: PointKey, entry: Entry) {
        self.cache.insert(key, entry).await;
    }

    /// Forgets every point read of one organization (its mirror has just been refreshed).
    pub(crate) fn forget_org(&self, org: &OrgId) {
        let org = org.clone();
        // Fails only when closures are not supported, which `new` turns on.
        let _ = self
            .cache
            .invalidate_entries_if(move |k, _| k.org() == &org);
    }
}
