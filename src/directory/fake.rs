//! An in-memory directory for unit tests of the layers above (`FakeDirectory`): a complete
//! mirror of given users and groups, open invitations a test names, and reads a test can make
//! fail; writes are recorded and answered as a test says. No upstream, no budget, no refresh, no point cache: what the resolvers do with the
//! answers is all that is left to test.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use super::pages::SnapshotPage;
use super::preloaded::mirror_of;
use super::seam::{DirHandle, DirectoryReads, DirectoryWrites};
use super::{
    BudgetView, Dialect, DirectoryError, GroupQuery, GroupRec, Invite, MirrorState, NameChange,
    Person, Snapshot, Source, Team, UserQuery, UserRec, WriteError, WriteLane,
};
use crate::keys::{Email, GroupId, OrgId, UserKey};
use crate::scim::wire::{Group, Member, User};
use crate::scim::{EmailLookup, KeyRule, Profile};

pub(crate) struct FakeDirectory {
    org_id: OrgId,
    dialect: Dialect,
    snapshot: Arc<Snapshot>,
    loaded_at: SystemTime,
    invites: HashSet<String>,
    /// When set, every read that would wait for the mirror or reach the upstream fails so.
    failure: Mutex<Option<DirectoryError>>,
    /// The write entry points called, in order: `name target lane`.
    writes: Mutex<Vec<String>>,
    /// When set, every write fails so; else it succeeds without changing the mirror.
    write_failure: Mutex<Option<WriteError>>,
}

impl FakeDirectory {
    /// Organization `org` (also its name), whose mirror holds `people` in this order and `teams`.
    pub(crate) fn new(org: &str, dialect: Dialect, people: &[Person], teams: &[Team]) -> Self {
        let loaded_at = SystemTime::now();
        FakeDirectory {
            org_id: OrgId::new(org),
            dialect,
            snapshot: Arc::new(mirror_of(dialect, people, teams, loaded_at)),
            loaded_at,
            invites: HashSet::new(),
            failure: Mutex::new(None),
            writes: Mutex::new(Vec::new()),
            write_failure: Mutex::new(None),
        }
    }

    /// The same directory, with open invitations (from this gateway) for these users' keys.
    pub(crate) fn with_invites(mut self, emails: &[&str]) -> Self {
        let keys = self.keys();
        self.invites = emails.iter().map(|e| keys.key(e).into_string()).collect();
        self
    }

    /// From now on, reads that wait for the mirror or reach the upstream fail with `error`.
    pub(crate) fn fail_reads(&self, error: DirectoryError) {
        *lock(&self.failure) = Some(error);
    }

    /// From now on, every write fails with `error`.
    pub(crate) fn fail_writes(&self, error: WriteError) {
        *lock(&self.write_failure) = Some(error);
    }

    /// The write entry points called so far, in order: `name target lane` each.
    pub(crate) fn writes(&self) -> Vec<String> {
        lock(&self.writes).clone()
    }

    /// Records a call; its answer is the failure set, else `ok`.
    fn write<T>(
        &self,
        call: String,
        ok: impl FnOnce() -> Result<T, WriteError>,
    ) -> Result<T, WriteError> {
        lock(&self.writes).push(call);
        match lock(&self.write_failure).clone() {
            Some(e) => Err(e),
            None => ok(),
        }
    }

    fn user_now(&self, key: &UserKey) -> Result<Arc<UserRec>, WriteError> {
        self.snapshot
            .user_by_key(key.as_str())
            .cloned()
            .ok_or(WriteError::NotFound)
    }

    fn group_now(&self, id: &GroupId) -> Result<Arc<GroupRec>, WriteError> {
        self.snapshot
            .group(id.as_str())
            .cloned()
            .ok_or(WriteError::NotFound)
    }

    /// The handle GraphQL reads through; the test keeps the `Arc` to steer the fake.
    pub(crate) fn handle(self: &Arc<Self>) -> DirHandle {
        DirHandle::Fake(self.clone())
    }

    fn keys(&self) -> KeyRule {
        Profile::from(self.dialect).key_rule()
    }

    fn check(&self) -> Result<(), DirectoryError> {
        match &*lock(&self.failure) {
            Some(e) => Err(e.clone()),
            None => Ok(()),
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Writes answer from the mirror as it was (the fake's mirror never changes): the user or
/// group as it is, not found when it is not there, or the failure a test set.
impl DirectoryWrites for FakeDirectory {
    async fn invite_user(
        &self,
        invite: Invite<'_>,
        lane: WriteLane,
    ) -> Result<Arc<UserRec>, WriteError> {
        let email = invite.email.as_str();
        self.write(format!("invite_user {email} {lane:?}"), || {
            let user = User::new(email, invite.given_name, invite.family_name);
            let key = self.keys().key_of(&user).into_string();
            Ok(Arc::new(UserRec::new(
                key,
                u64::MAX,
                user,
                SystemTime::now(),
                Source::Upstream,
            )))
        })
    }
    async fn update_user(
        &self,
        key: &UserKey,
        _: NameChange<'_>,
        lane: WriteLane,
    ) -> Result<Arc<UserRec>, WriteError> {
        self.write(format!("update_user {key} {lane:?}"), || self.user_now(key))
    }
    async fn deactivate_user(
        &self,
        key: &UserKey,
        lane: WriteLane,
    ) -> Result<Arc<UserRec>, WriteError> {
        self.write(format!("deactivate_user {key} {lane:?}"), || {
            self.user_now(key)
        })
    }
    async fn delete_user(&self, key: &UserKey, lane: WriteLane) -> Result<(), WriteError> {
        self.write(format!("delete_user {key} {lane:?}"), || {
            self.user_now(key).map(drop)
        })
    }
    async fn create_group(
        &self,
        name: &str,
        member_keys: &[UserKey],
        lane: WriteLane,
    ) -> Result<Arc<GroupRec>, WriteError> {
        self.write(format!("create_group {name} {lane:?}"), || {
            let members = member_keys
                .iter()
                .map(|k| Member::new(k.as_str()))
                .collect();
            let mut group = Group::new(name, members);
            group.id = Some(format!("new-{name}").into());
            super::Directory::group_rec(
                self.keys(),
                group,
                u64::MAX,
                SystemTime::now(),
                Source::Upstream,
            )
            .map(Arc::new)
            .ok_or(WriteError::NotFound)
        })
    }
    async fn rename_group(
        &self,
        id: &GroupId,
        name: &str,
        lane: WriteLane,
    ) -> Result<Arc<GroupRec>, WriteError> {
        self.write(format!("rename_group {id} {name} {lane:?}"), || {
            self.group_now(id)
        })
    }
    async fn delete_group(&self, id: &GroupId, lane: WriteLane) -> Result<(), WriteError> {
        self.write(format!("delete_group {id} {lane:?}"), || {
            self.group_now(id).map(drop)
        })
    }
    async fn add_members(
        &self,
        id: &GroupId,
        keys: &[UserKey],
        lane: WriteLane,
    ) -> Result<Arc<GroupRec>, WriteError> {
        let keys: Vec<&str> = keys.iter().map(UserKey::as_str).collect();
        self.write(
            format!("add_members {id} {} {lane:?}", keys.join(",")),
            || self.group_now(id),
        )
    }
    async fn remove_members(
        &self,
        id: &GroupId,
        keys: &[UserKey],
        lane: WriteLane,
    ) -> Result<Arc<GroupRec>, WriteError> {
        let keys: Vec<&str> = keys.iter().map(UserKey::as_str).collect();
        self.write(
            format!("remove_members {id} {} {lane:?}", keys.join(",")),
            || self.group_now(id),
        )
    }
}

impl DirectoryReads for FakeDirectory {
    fn org_id(&self) -> &OrgId {
        &self.org_id
    }
    fn org_name(&self) -> &str {
        self.org_id.as_str()
    }
    fn dialect(&self) -> Dialect {
        self.dialect
    }
    fn budget(&self) -> BudgetView {
        BudgetView {
            limit: 100,
            window: Duration::from_secs(60),
            used_in_window: 0,
            remaining: 100,
            queued: [0; 4],
            refused: [0; 4],
            expected_wait: [Duration::ZERO; 4],
            max_queue_wait: Duration::from_secs(10),
            max_queued: 1_000,
            interactive_share: 0.5,
            paused_until: None,
            credential_revoked: false,
            emission_interval: Duration::from_millis(600),
        }
    }
    fn sync(&self) -> (MirrorState, Duration) {
        let state = MirrorState {
            snapshot: self.snapshot.clone(),
            generation: 1,
            refreshing: false,
            finished: 1,
            last_error: None,
            last_refresh_at: Some(self.loaded_at),
            last_refresh_calls: 0,
            refresh_failures: 0,
            last_failure_at: None,
            restarts: 0,
            last_refresh_kind: None,
            last_full_refresh_at: None,
            changes_since: None,
        };
        (state, Duration::from_secs(300))
    }
    fn snapshot(&self) -> Arc<Snapshot> {
        self.snapshot.clone()
    }
    fn has_open_invite(&self, key: &str) -> bool {
        self.invites.contains(key)
    }
    fn answer_version(&self) -> Option<[u64; 2]> {
        Some([1, self.invites.len() as u64])
    }
    fn user_key(&self, id: &str) -> UserKey {
        self.keys().key(id)
    }
    fn member_stand_in(&self, value: &str, display: Option<&str>) -> UserRec {
        super::stand_in(self.keys(), value, display)
    }
    async fn page_users(&self, query: &UserQuery) -> Result<SnapshotPage<u32>, DirectoryError> {
        self.check()?;
        let page = self.snapshot.page_users(
            &query.filter,
            query.order,
            query.desc,
            &query.page,
            &self.invites,
        );
        Ok(SnapshotPage {
            snapshot: self.snapshot.clone(),
            page,
        })
    }
    async fn page_groups(
        &self,
        query: &GroupQuery,
    ) -> Result<SnapshotPage<Arc<GroupRec>>, DirectoryError> {
        self.check()?;
        let page = self.snapshot.page_groups(
            query.search.as_deref(),
            query.order,
            query.desc,
            &query.page,
        );
        Ok(SnapshotPage {
            snapshot: self.snapshot.clone(),
            page,
        })
    }
    async fn user(&self, key: &UserKey) -> Result<Option<Arc<UserRec>>, DirectoryError> {
        match self.snapshot.user_by_key(key.as_str()) {
            Some(u) => Ok(Some(u.clone())),
            // The mirror is complete: the upstream would be asked, and would say not found.
            None => self.check().map(|()| None),
        }
    }
    async fn user_by_email(&self, email: &Email) -> Result<Option<Arc<UserRec>>, DirectoryError> {
        match self.keys().email_lookup() {
            EmailLookup::ById => self.user(&self.user_key(email.as_str())).await,
            EmailLookup::ByUserName => {
                match self.snapshot.user_by_email(&email.as_str().to_lowercase()) {
                    Some(u) => Ok(Some(u.clone())),
                    None => self.check().map(|()| None),
                }
            }
        }
    }
    async fn user_key_by_email(&self, email: &Email) -> Result<Option<UserKey>, DirectoryError> {
        match self.keys().email_lookup() {
            EmailLookup::ById => Ok(Some(self.user_key(email.as_str()))),
            EmailLookup::ByUserName => Ok(self
                .user_by_email(email)
                .await?
                .map(|u| self.user_key(u.key()))),
        }
    }
    async fn group(&self, id: &GroupId) -> Result<Option<Arc<GroupRec>>, DirectoryError> {
        match self.snapshot.group(id.as_str()) {
            Some(g) => Ok(Some(g.clone())),
            None => self.check().map(|()| None),
        }
    }
    async fn snapshot_with_groups(&self) -> Result<Arc<Snapshot>, DirectoryError> {
        self.check().map(|()| self.snapshot.clone())
    }
    async fn complete_snapshot(&self) -> Result<Arc<Snapshot>, DirectoryError> {
        self.check().map(|()| self.snapshot.clone())
    }
}
