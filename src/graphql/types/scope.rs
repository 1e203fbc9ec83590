//! `Scope`: what the users and groups of one answer share; `Held`: how a node holds its record.

use std::sync::Arc;

use crate::directory::{DirHandle, DirectoryReads, GroupRec, Snapshot, UserRec};

/// The directory handle of an answer's nodes and the snapshot their page was cut from. A page
/// makes one `Scope` and its nodes share it, so cloning a node's handle touches a counter that
/// only this request uses: the directory's and the snapshot's own counters are touched by every
/// request on every worker thread, and clones of them per node made the threads contend.
pub struct Scope {
    pub dir: DirHandle,
    snapshot: Arc<Snapshot>,
    /// Whether the nodes were paged from `snapshot`: a user's groups and a group's members
    /// are then paged from the same one when it has what they need.
    paged: bool,
}

impl Scope {
    /// The scope of a node read on its own (a point read, a mutation's result).
    pub fn single(dir: DirHandle) -> Arc<Scope> {
        let snapshot = dir.snapshot();
        Arc::new(Scope {
            dir,
            snapshot,
            paged: false,
        })
    }

    /// The scope of a page cut from `snapshot`.
    pub fn paged(dir: DirHandle, snapshot: Arc<Snapshot>) -> Arc<Scope> {
        Arc::new(Scope {
            dir,
            snapshot,
            paged: true,
        })
    }

    /// The snapshot the page came from, when `enough` holds for it.
    pub fn snapshot_if(&self, enough: impl Fn(&Snapshot) -> bool) -> Option<&Snapshot> {
        Some(&*self.snapshot).filter(|s| self.paged && enough(s))
    }

    fn user(&self, position: u32) -> &UserRec {
        &self.snapshot.users()[position as usize]
    }

    fn group(&self, position: u32) -> &GroupRec {
        &self.snapshot.groups()[position as usize]
    }
}

/// How a node holds its record: by its position in the scope's snapshot, which reads it without
/// touching the record's reference count (other requests on other threads touch it too), or as
/// a record of its own (a point read, a mutation's result, a member only a group lists).
#[derive(Clone)]
pub enum Held<T> {
    At(u32),
    Own(Arc<T>),
}

impl Held<UserRec> {
    pub fn user<'a>(&'a self, scope: &'a Scope) -> &'a UserRec {
        match self {
            Held::At(position) => scope.user(*position),
            Held::Own(rec) => rec,
        }
    }
}

impl Held<GroupRec> {
    pub fn group<'a>(&'a self, scope: &'a Scope) -> &'a GroupRec {
        match self {
            Held::At(position) => scope.group(*position),
            Held::Own(rec) => rec,
        }
    }
}
