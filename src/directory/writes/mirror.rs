//! Changes the gateway itself made, applied to the mirror: the write path's read-your-writes.
//! Each change states the result, not a step, so applying it twice is harmless — which lets a
//! refresh that began before a write re-apply it to what it read.

use std::sync::Arc;
use std::time::SystemTime;

use crate::directory::record::{GroupRec, UserRec};
use crate::directory::snapshot::{Builder, Snapshot};
use crate::scim::KeyRule;

#[derive(Clone, Debug)]
pub(crate) enum Change {
    /// The user exists with this record.
    UpsertUser(Arc<UserRec>),
    /// The user is gone, and in no group.
    RemoveUser(String),
    /// The group exists with this record (name and members).
    UpsertGroup(Arc<GroupRec>),
    RemoveGroup(String),
    /// These users (by key, which is also their member value) are members of the group.
    AddMembers {
        group: String,
        keys: Vec<String>,
    },
    /// These users are not members of the group.
    RemoveMembers {
        group: String,
        keys: Vec<String>,
    },
}

impl Builder {
    fn from_snapshot(s: &Arc<Snapshot>, keys: KeyRule) -> Builder {
        let mut b = Builder::new(Some(s.clone()), keys);
        // Records are shared, not copied: a change replaces the records it touches.
        for u in s.users() {
            b.add_user(u.clone());
        }
        for g in s.groups() {
            b.add_group(g.clone());
        }
        if s.groups_loaded {
            b.groups_done();
        }
        b.upstream_user_total = s.upstream_user_total;
        b
    }
}

fn edit_group(b: &mut Builder, id: &str, f: impl FnOnce(&mut GroupRec)) {
    if let Some(mut g) = b.group(id).cloned() {
        f(&mut g);
        b.add_group(g);
    }
}

/// `snapshot` with `changes` applied, in order: patched in place on a copy where every change
/// allows it (`Snapshot::patch` in `patch.rs`), else rebuilt.
/// `keys` is the directory's key rule, which the snapshot was built with.
pub(crate) fn apply(snapshot: &Arc<Snapshot>, changes: &[Change], keys: KeyRule) -> Snapshot {
    let mut copy = (**snapshot).clone();
    if changes.iter().all(|change| copy.patch(change)) {
        return copy;
    }
    rebuild(snapshot, changes, keys)
}

/// `snapshot` with `changes` applied, in order, rebuilt from its records.
pub(crate) fn rebuild(snapshot: &Arc<Snapshot>, changes: &[Change], keys: KeyRule) -> Snapshot {
    let mut b = Builder::from_snapshot(snapshot, keys);
    for change in changes {
        match change {
            Change::UpsertUser(rec) => {
                let mut rec = (**rec).clone();
                rec.seq = b.seq_for(rec.key());
                b.add_user(rec);
            }
            Change::RemoveUser(key) => {
                b.remove_user(key);
                b.strip_member(key);
            }
            Change::UpsertGroup(rec) => {
                let mut rec = (**rec).clone();
                rec.seq = b
                    .group(&rec.id)
                    .map_or_else(|| b.next_group_seq(), |g| g.seq);
                b.add_group(rec);
            }
            Change::RemoveGroup(id) => b.remove_group(id),
            Change::AddMembers { group, keys } => edit_group(&mut b, group, |g| {
                for key in keys {
                    g.member_keys.push(key);
                }
                g.fetched_at = SystemTime::now();
            }),
            Change::RemoveMembers { group, keys } => edit_group(&mut b, group, |g| {
                remove_members(g, keys);
                g.fetched_at = SystemTime::now();
            }),
        }
    }
    b.snapshot(snapshot.complete, snapshot.fetched_at)
}

fn remove_members(g: &mut GroupRec, keys: &[String]) {
    g.member_keys.retain(|k| !keys.iter().any(|key| key == k));
}

impl Builder {
    /// Takes a user out of every group.
    fn strip_member(&mut self, key: &str) {
        let ids: Vec<String> = self.group_ids_with_member(key);
        for id in ids {
            edit_group(self, &id, |g| remove_members(g, &[key.to_owned()]));
        }
    }
}
