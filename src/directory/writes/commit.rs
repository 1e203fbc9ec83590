//! A confirmed write made visible: its changes applied to the mirror and kept in the write log
//! (which a running refresh re-applies), its events recorded, removed objects remembered gone.

use std::sync::Arc;
use std::time::SystemTime;

use super::mirror::{self, Change};
use crate::directory::point_cache::{Entry, PointKey, PointValue};
use crate::directory::{Directory, GroupRec, Source, UserRec};
use crate::scim::wire::{Group, User};

/// The log of changes not yet known to be in a completed refresh.
#[derive(Default)]
pub(in crate::directory) struct WriteLog {
    pub(crate) counter: u64,
    pub(crate) items: Vec<(u64, Change)>,
}

impl Directory {
    /// Applies confirmed changes to the mirror.
    pub(in crate::directory) async fn commit(&self, changes: Vec<Change>) {
        self.remember_removals(&changes).await;
        let keys = self.key_rule();
        {
            let mut log = self.inner.writes.lock().unwrap_or_else(|e| e.into_inner());
            for change in &changes {
                log.counter += 1;
                let n = log.counter;
                log.items.push((n, change.clone()));
            }
            // Computed outside the state's lock, so readers are not held up meanwhile. Commits
            // are serialized by the write log's lock; only a cold load's partial publishing can
            // replace the snapshot in between, and then the change is applied to that one.
            let base = self.snapshot();
            let next = Arc::new(mirror::apply(&base, &changes, keys));
            self.inner.state.send_modify(|s| {
                let next = if Arc::ptr_eq(&s.snapshot, &base) {
                    next
                } else {
                    Arc::new(mirror::apply(&s.snapshot, &changes, keys))
                };
                s.publish(next);
            });
        }
    }

    /// Remembers removed users and groups as not found, so reading one costs no upstream call.
    /// A refresh calls it too, for the writes it re-applied.
    pub(in crate::directory) async fn remember_removals(&self, changes: &[Change]) {
        let ttl = self.inner.settings.not_found_ttl;
        for change in changes {
            let org = self.inner.org_id.clone();
            let (key, value) = match change {
                Change::RemoveUser(k) => (
                    PointKey::User {
                        org,
                        key: k.clone(),
                    },
                    PointValue::User(None),
                ),
                Change::RemoveGroup(id) => (
                    PointKey::Group {
                        org,
                        id: id.clone(),
                    },
                    PointValue::Group(None),
                ),
                _ => continue,
            };
            self.inner.points.insert(key, Entry { value, ttl }).await;
        }
    }

    /// A user as written, for the mirror.
    pub(in crate::directory) fn rec_from(&self, user: User) -> Arc<UserRec> {
        Arc::new(self.user_rec(user, Source::Mirror))
    }

    /// A group as written, for the mirror; `None` if the upstream's answer has no id.
    pub(in crate::directory) fn group_rec_now(&self, group: Group) -> Option<Arc<GroupRec>> {
        Directory::group_rec(
            self.key_rule(),
            group,
            u64::MAX,
            SystemTime::now(),
            Source::Mirror,
        )
        .map(Arc::new)
    }
}
