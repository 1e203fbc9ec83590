//! One organization's directory as the gateway serves it: the mirror (a snapshot replaced by
//! refreshes), point reads for what the mirror lacks, and freshness. Calls only the scim layer.

mod diff;
mod error;
#[cfg(test)]
mod fake;
mod incremental;
mod index;
mod invites;
mod packed;
mod pages;
mod paging;
mod point_cache;
mod point_reads;
#[cfg(test)]
mod preloaded;
mod proxy;
mod record;
mod refresh;
mod seam;
mod snapshot;
mod stored;
mod trace;
mod view;
mod writes;

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use tokio::sync::watch;

use crate::keys::{OrgId, UserKey};
use crate::scim::wire::{Group, User};
use crate::scim::{KeyRule, Profile, ScimClient};
use crate::store::Store;

pub use error::{DirectoryError, WriteError};
#[cfg(test)]
pub(crate) use fake::FakeDirectory;
pub(crate) use pages::{GroupQuery, UserQuery};
pub(crate) use paging::{
    GroupOrderField, Page, PageArgs, SortKey, UserFilter, UserOrderField, group_sort_key,
    user_sort_key,
};
pub(crate) use point_cache::PointCache;
#[cfg(test)]
pub(crate) use preloaded::{Person, Team, mirror_of};
pub use proxy::{ProxyFailure, ProxyReply, ProxyRequest, check_proxy_path};
pub(crate) use proxy::{Target as ProxyTarget, is_write as proxy_is_write};
pub(crate) use record::{GroupRec, Source, Status, UserRec};
pub(crate) use seam::{DirHandle, DirectoryReads, DirectoryWrites};
pub use snapshot::Snapshot;
pub use trace::{SendGate, call_counter, count_calls, traced};
pub(crate) use view::{BudgetView, Dialect};
pub(crate) use writes::NameChange;
pub use writes::{Invite, WriteLane};

#[derive(Clone, Debug)]
pub(crate) struct DirectorySettings {
    /// A mirror older than this is refreshed (in the background lane).
    pub(crate) max_age: Duration,
    /// How long a point read that found nothing is remembered.
    pub(crate) not_found_ttl: Duration,
    /// Where the service can list what changed since a time, refreshes between full ones read
    /// only that; a full refresh (which alone finds deletions) runs at least this often.
    /// Zero: every refresh is full.
    pub(crate) full_refresh_every: Duration,
}

impl Default for DirectorySettings {
    fn default() -> Self {
        DirectorySettings {
            max_age: Duration::from_secs(300),
            not_found_ttl: Duration::from_secs(30),
            full_refresh_every: Duration::from_secs(3600),
        }
    }
}

/// The mirror's state as readers see it.
#[derive(Clone)]
pub struct MirrorState {
    /// Replaced only through [`MirrorState::publish`], which counts the replacement.
    pub(crate) snapshot: Arc<Snapshot>,
    /// Snapshots published since the directory was made: a new number for every change a
    /// reader could see (the response cache keys answers by it).
    pub(crate) generation: u64,
    pub(crate) refreshing: bool,
    /// Refreshes finished, successful or not.
    pub finished: u64,
    pub(crate) last_error: Option<DirectoryError>,
    pub(crate) last_refresh_at: Option<SystemTime>,
    /// Upstream calls the last finished refresh made.
    pub(crate) last_refresh_calls: u32,
    /// Refreshes that failed since the last one that succeeded.
    pub(crate) refresh_failures: u32,
    /// When the last refresh failed, or the refresh task stopped, if ever.
    pub(crate) last_failure_at: Option<SystemTime>,
    /// Times the background refresh task stopped unexpectedly and was started again.
    pub(crate) restarts: u32,
    /// Whether the last successful refresh read everything or only what changed.
    pub(crate) last_refresh_kind: Option<RefreshKind>,
    /// When the last successful full refresh finished.
    pub(crate) last_full_refresh_at: Option<SystemTime>,
    /// The server's time from which the next incremental refresh reads changes; `None` when
    /// the next refresh must be full (never loaded, or the service cannot list changes).
    pub(crate) changes_since: Option<SystemTime>,
}

/// How a refresh read the directory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RefreshKind {
    /// Every user and group: `ceil(N/100) + ceil(G/100)` calls; finds deletions.
    Full,
    /// Only users and groups modified since the previous refresh began (`meta.lastModified`):
    /// one call per 100 changed of each; deletions wait for the next full refresh.
    Incremental,
}

impl MirrorState {
    /// Makes `snapshot` the one readers see.
    pub(crate) fn publish(&mut self, snapshot: Arc<Snapshot>) {
        self.snapshot = snapshot;
        self.generation += 1;
    }
}

/// One organization's directory. Cheap to clone.
#[derive(Clone)]
pub struct Directory {
    inner: Arc<Inner>,
}

/// The store a directory records in, and the codes its audit rows use.
struct Recorder {
    store: Store,
    codes: fn(&DirectoryError) -> &'static str,
}

struct Inner {
    org_id: OrgId,
    org_name: String,
    client: ScimClient,
    settings: DirectorySettings,
    state: watch::Sender<MirrorState>,
    points: PointCache,
    /// Keys of users this gateway invited and has not yet seen with real names.
    invites: invites::Invites,
    /// Confirmed writes a running refresh may not have seen.
    writes: Mutex<writes::WriteLog>,
    /// Refreshes still to fail by panicking (`inject_refresh_panics`, for tests).
    injected_panics: std::sync::atomic::AtomicU32,
    /// Turns of the refresh loop still to panic (`inject_loop_panics`, for tests).
    injected_loop_panics: std::sync::atomic::AtomicU32,
    /// Set to make the next refresh full whatever is due (`refreshDirectory(full: true)`), or
    /// for good once the service refused a change listing.
    full_requested: std::sync::atomic::AtomicBool,
    incremental_refused: std::sync::atomic::AtomicBool,
    /// Where open invitations and refreshes are recorded; set once by [`Directory::with_store`].
    store: std::sync::OnceLock<Recorder>,
}

impl Directory {
    pub(crate) fn new(
        org_id: OrgId,
        org_name: &str,
        client: ScimClient,
        settings: DirectorySettings,
        points: PointCache,
    ) -> Directory {
        let (state, _) = watch::channel(MirrorState {
            snapshot: Arc::new(Snapshot::empty()),
            generation: 0,
            refreshing: false,
            finished: 0,
            last_error: None,
            last_refresh_at: None,
            last_refresh_calls: 0,
            refresh_failures: 0,
            last_failure_at: None,
            restarts: 0,
            last_refresh_kind: None,
            last_full_refresh_at: None,
            changes_since: None,
        });
        Directory {
            inner: Arc::new(Inner {
                org_id,
                org_name: org_name.to_owned(),
                client,
                settings,
                state,
                points,
                invites: invites::Invites::default(),
                writes: Mutex::new(writes::WriteLog::default()),
                injected_panics: std::sync::atomic::AtomicU32::new(0),
                injected_loop_panics: std::sync::atomic::AtomicU32::new(0),
                full_requested: std::sync::atomic::AtomicBool::new(false),
                incremental_refused: std::sync::atomic::AtomicBool::new(false),
                store: std::sync::OnceLock::new(),
            }),
        }
    }

    /// The same directory, recording its open invitations and refreshes in `store`; a failed
    /// refresh's audit row carries the code `codes` gives its error (the API's error codes,
    /// which the layer above owns).
    pub(crate) fn with_store(
        self,
        store: Store,
        codes: fn(&DirectoryError) -> &'static str,
    ) -> Directory {
        let _ = self.inner.store.set(Recorder { store, codes });
        self
    }

    /// Reads the open invitations a previous run recorded, so users invited before a restart
    /// still read as INVITED.
    pub(crate) async fn load_invites(&self) -> Result<usize, crate::store::StoreError> {
        let Some(store) = self.inner.store.get().map(|s| &s.store) else {
            return Ok(0);
        };
        let keys = store.open_invites(self.org_id().as_str()).await?;
        let n = keys.len();
        for key in keys {
            self.inner.invites.insert(key);
        }
        Ok(n)
    }

    /// Records an invitation opened (`open`) or closed in the store. A failure is logged, not
    /// raised: the write it belongs to already happened (and was journaled before it was sent).
    pub(crate) async fn persist_invite(&self, key: &str, open: bool) {
        let Some(store) = self.inner.store.get().map(|s| &s.store) else {
            return;
        };
        let result = if open {
            store.add_invite(self.org_id().as_str(), key).await
        } else {
            store.remove_invite(self.org_id().as_str(), key).await
        };
        if let Err(e) = result {
            tracing::warn!(org = %self.org_id(), error = %e, "an open invitation could not be recorded; it reads as ACTIVE after a restart until accepted");
        }
    }

    pub fn org_id(&self) -> &OrgId {
        &self.inner.org_id
    }

    pub(crate) fn org_name(&self) -> &str {
        &self.inner.org_name
    }

    pub(crate) fn profile(&self) -> Profile {
        self.inner.client.profile()
    }

    pub(crate) fn settings(&self) -> &DirectorySettings {
        &self.inner.settings
    }

    /// The organization's upstream budget, now.
    pub(crate) fn budget(&self) -> BudgetView {
        BudgetView::new(
            self.inner.client.budget().snapshot(),
            self.emission_interval(),
        )
    }

    /// The SCIM dialect of the organization's upstream.
    pub(crate) fn dialect(&self) -> Dialect {
        self.profile().into()
    }

    pub fn state(&self) -> MirrorState {
        self.inner.state.borrow().clone()
    }

    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.inner.state.borrow().snapshot.clone()
    }

    /// Ready to serve: a complete mirror exists and the credential has not been revoked.
    pub(crate) fn is_ready(&self) -> bool {
        self.snapshot().complete && !self.credential_revoked()
    }

    /// Whether the upstream rejected the organization's SCIM key (calls stopped).
    pub(crate) fn credential_revoked(&self) -> bool {
        self.inner.client.budget().is_revoked()
    }

    /// Keys of users with an open invite from this gateway.
    pub(crate) fn open_invites(&self) -> HashSet<String> {
        self.inner.invites.all()
    }

    /// See [`DirectoryReads::answer_version`](seam::DirectoryReads::answer_version).
    pub(crate) fn answer_version(&self) -> Option<[u64; 2]> {
        // The invitations' version first: a change to them after this read gives another.
        let invites = self.inner.invites.version();
        let state = self.inner.state.borrow();
        state
            .snapshot
            .complete
            .then_some([state.generation, invites])
    }

    pub fn has_open_invite(&self, key: &str) -> bool {
        self.inner.invites.contains(key)
    }

    /// The budget's steady spacing between requests.
    pub fn emission_interval(&self) -> Duration {
        self.inner.client.budget().config().emission_interval()
    }

    /// How this organization's users are keyed: the profile's rule, which the mirror is built
    /// with and every lookup follows.
    pub(crate) fn key_rule(&self) -> KeyRule {
        self.profile().key_rule()
    }

    /// The lookup key of a user id or e-mail as this profile compares them.
    pub fn user_key(&self, id: &str) -> UserKey {
        self.key_rule().key(id)
    }

    fn user_rec(&self, user: User, source: Source) -> UserRec {
        let key = self.key_rule().key_of(&user).into_string();
        UserRec::new(key, u64::MAX, user, SystemTime::now(), source)
    }

    /// A stand-in for a group member that the user list does not show.
    pub(crate) fn member_stand_in(&self, value: &str, display: Option<&str>) -> UserRec {
        stand_in(self.key_rule(), value, display)
    }

    pub(crate) fn group_rec(
        keys: KeyRule,
        group: Group,
        seq: u64,
        fetched_at: SystemTime,
        source: Source,
    ) -> Option<GroupRec> {
        let id = group.id.as_ref()?.to_string();
        let member_keys = group.members.iter().map(|m| keys.key(&m.value)).collect();
        Some(GroupRec::new(
            id,
            seq,
            group,
            member_keys,
            fetched_at,
            source,
        ))
    }
}

/// A stand-in for a group member that the user list does not show, keyed by `keys`.
fn stand_in(keys: KeyRule, value: &str, display: Option<&str>) -> UserRec {
    let mut user = User::new(value, "", "");
    user.id = Some(value.to_owned());
    user.name = None;
    user.display_name = display.map(str::to_owned);
    let key = keys.key_of(&user).into_string();
    UserRec::new(key, u64::MAX, user, SystemTime::now(), Source::Mirror)
}

/// Every organization's directory, by id: the real ones (`Directories`, what governance and the
/// mutations' journal use), or the handles GraphQL reads through (`Directories<DirHandle>`).
#[derive(Clone)]
pub struct Directories<D = Directory> {
    list: Arc<Vec<D>>,
}

impl<D> Default for Directories<D> {
    fn default() -> Self {
        Directories {
            list: Arc::new(Vec::new()),
        }
    }
}

// The bound is the crate's own seam; callers outside the crate only name `Directories`, whose
// `Directory` meets it.
#[allow(private_bounds)]
impl<D: DirectoryReads + Clone> Directories<D> {
    pub fn new(list: Vec<D>) -> Self {
        Directories {
            list: Arc::new(list),
        }
    }

    pub fn all(&self) -> &[D] {
        &self.list
    }

    /// The directory of `org_id`, given as an [`OrgId`] or as the text one borrows as (an id
    /// from a global id, a store row or a URL).
    pub fn get<Q>(&self, org_id: &Q) -> Option<&D>
    where
        OrgId: std::borrow::Borrow<Q>,
        Q: Eq + ?Sized,
    {
        use std::borrow::Borrow;
        self.list
            .iter()
            .find(|d| <OrgId as Borrow<Q>>::borrow(d.org_id()) == org_id)
    }

    /// Only the directories whose organization `allowed` accepts.
    pub fn visible_to(&self, allowed: impl Fn(&OrgId) -> bool) -> Self {
        if self.list.iter().all(|d| allowed(d.org_id())) {
            return self.clone();
        }
        Directories::new(
            self.list
                .iter()
                .filter(|d| allowed(d.org_id()))
                .cloned()
                .collect(),
        )
    }

    /// The same directories, as the handles GraphQL reads through.
    pub(crate) fn handles(&self) -> Directories<DirHandle>
    where
        D: Into<DirHandle>,
    {
        Directories::new(self.list.iter().cloned().map(Into::into).collect())
    }
}
