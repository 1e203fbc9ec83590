//! Incremental refreshes: on a service that can list what changed (RFC 7644 with filtering,
//! resources carrying `meta.lastModified`), a refresh between full ones asks only for the users
//! and groups modified since the previous refresh began, so its cost is the number of changed
//! pages, not the directory's size.
//!
//! What it cannot see: a deleted user or group lists nowhere, so deletions are found by the
//! next full refresh (`mirror.full_refresh_every`, default hourly, and the first refresh after
//! start). Memberships are not lost in between: removing a member modifies the group.
//!
//! The time asked from is the server's own (`Date` on the first page of the previous refresh),
//! never the gateway's clock, so clock skew cannot hide a change; and `ge`, so a change within
//! the same second is read again rather than missed.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::SystemTime;

use super::snapshot::Snapshot;
use super::writes::Change;
use super::{Directory, DirectoryError, RefreshKind, Source};
use crate::budget::Lane;
use crate::scim::wire::Meta;
use crate::scim::{Collection, Page, Pager, ScimError};

/// What one refresh read.
pub(super) struct Loaded {
    pub(super) snapshot: Arc<Snapshot>,
    pub(super) calls: u32,
    pub(super) kind: RefreshKind,
    /// From when the next refresh may read only changes; `None`: it must be full.
    pub(super) changes_since: Option<SystemTime>,
}

/// Whether a resource says when it was last modified.
pub(super) fn dated(meta: Option<&Meta>) -> bool {
    meta.is_some_and(|m| m.last_modified.is_some())
}

impl Directory {
    /// Makes the next refresh full, whatever is due: for a caller who wants deletions seen now.
    pub(crate) fn request_full_refresh(&self) {
        self.inner.full_requested.store(true, Ordering::SeqCst);
    }

    /// Whether the service has said it can list changes (known after the first refresh).
    pub(crate) fn lists_changes(&self) -> bool {
        !self.inner.incremental_refused.load(Ordering::SeqCst)
            && self
                .inner
                .client
                .known_capabilities()
                .is_some_and(|c| c.filter)
    }

    /// The time the next refresh reads changes from, or `None` when it must be full: never
    /// loaded, a service that cannot list changes, a full refresh due or asked for.
    pub(crate) fn changes_since(&self) -> Option<SystemTime> {
        if self.inner.full_requested.load(Ordering::SeqCst) || !self.lists_changes() {
            return None;
        }
        let state = self.inner.state.borrow();
        let every = self.inner.settings.full_refresh_every;
        let full_due = state
            .last_full_refresh_at
            .is_none_or(|at| at.elapsed().map_or(true, |age| age >= every));
        state
            .changes_since
            .filter(|_| state.snapshot.complete && !full_due)
    }

    /// One refresh: only the changes when the previous refresh left a time to read them from
    /// and no full one is due, else everything.
    pub(super) async fn load(&self) -> Result<Loaded, DirectoryError> {
        let injected =
            self.inner
                .injected_panics
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1));
        if injected.is_ok() {
            panic!("injected refresh panic (test hook)");
        }
        let full_asked = self.inner.full_requested.swap(false, Ordering::SeqCst);
        if let Some(since) = self.changes_since().filter(|_| !full_asked) {
            match self.load_changes(since).await {
                Ok(loaded) => return Ok(loaded),
                // The service lists but refuses this filter: full refreshes from now on.
                Err(ScimError::Rejected { status, .. }) => {
                    tracing::warn!(org = %self.org_id(), status, "the upstream refused to list changes by meta.lastModified; refreshing in full from now on");
                    self.inner.incremental_refused.store(true, Ordering::SeqCst);
                }
                Err(e) => return Err(DirectoryError::from(&e)),
            }
        }
        // What the service supports, read once (Amplitude: known without asking). Not knowing
        // yet only means this refresh cannot prepare the next one to be incremental.
        let lists_changes = match self.inner.client.discover(Lane::Background).await {
            Ok(_) => self.lists_changes(),
            Err(e) => {
                tracing::warn!(org = %self.org_id(), error = %e, "the service's capabilities could not be read; refreshing in full");
                false
            }
        };
        self.load_full(lists_changes).await
    }

    /// Reads the users and groups modified since `since` and applies them to the mirror: one
    /// call per 100 changed users and one per 100 changed groups (at least one each).
    async fn load_changes(&self, since: SystemTime) -> Result<Loaded, ScimError> {
        let client = &self.inner.client;
        let keys = self.key_rule();
        let previous = self.snapshot();
        let mut users =
            Pager::new(client, Collection::Users, Lane::Background).changed_since(since);
        let mut groups =
            Pager::new(client, Collection::Groups, Lane::Background).changed_since(since);
        let mut changes = Vec::new();
        while let Some(page) = users.next_page().await? {
            if let Page::Users(page) = page {
                for user in page.resources {
                    // Numbered when applied: an existing user keeps its number.
                    changes.push(Change::UpsertUser(Arc::new(
                        self.user_rec(user, Source::Mirror),
                    )));
                }
            }
        }
        while let Some(page) = groups.next_page().await? {
            if let Page::Groups(page) = page {
                let now = SystemTime::now();
                for group in page.resources {
                    match Directory::group_rec(keys, group, u64::MAX, now, Source::Mirror) {
                        Some(rec) => changes.push(Change::UpsertGroup(Arc::new(rec))),
                        None => {
                            tracing::warn!(org = %self.org_id(), "skipping a group without an id");
                        }
                    }
                }
            }
        }
        let read = changes.len();
        let mut snapshot = if changes.is_empty() {
            (*previous).clone()
        } else {
            super::writes::apply(&previous, &changes, keys)
        };
        snapshot.fetched_at = Some(SystemTime::now());
        snapshot.upstream_user_total = Some(snapshot.user_count() as u64);
        tracing::debug!(org = %self.org_id(), changed = read, "read the changes since the previous refresh");
        Ok(Loaded {
            snapshot: Arc::new(snapshot),
            calls: users.calls + groups.calls,
            kind: RefreshKind::Incremental,
            // Nothing listed: the previous time still holds (the server sent no newer one).
            changes_since: users.first_date().or(Some(since)),
        })
    }
}
