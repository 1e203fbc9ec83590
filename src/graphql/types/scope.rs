//! `Scope`: what the users and groups of one answer share.

use std::sync::Arc;

use crate::directory::{Directory, Snapshot};

/// The directory handle of an answer's nodes and the snapshot their page was cut from. A page
/// makes one `Scope` and its nodes share it, so cloning a node's handle touches a counter that
/// only this request uses: the directory's and the snapshot's own counters are touched by every
/// request on every worker thread, and clones of them per node made the threads contend.
pub struct Scope {
    pub dir: Directory,
    /// The snapshot the page came from; a user's groups and a group's members are paged from
    /// the same one when it has what they need. `None` for a node read on its own.
    pub snapshot: Option<Arc<Snapshot>>,
}

impl Scope {
    /// The scope of a node read on its own (a point read, a mutation's result).
    pub fn single(dir: Directory) -> Arc<Scope> {
        Arc::new(Scope {
            dir,
            snapshot: None,
        })
    }

    /// The scope of a page cut from `snapshot`.
    pub fn paged(dir: Directory, snapshot: Arc<Snapshot>) -> Arc<Scope> {
        Arc::new(Scope {
            dir,
            snapshot: Some(snapshot),
        })
    }

    /// The scope's snapshot when `enough` holds for it.
    pub fn snapshot_if(&self, enough: impl Fn(&Snapshot) -> bool) -> Option<&Snapshot> {
        self.snapshot.as_deref().filter(|s| enough(s))
    }
}
