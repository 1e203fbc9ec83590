//! An in-memory directory for unit tests of the layers above (`FakeDirectory`): a complete
//! mirror of given users and groups, open invitations a test names, and reads a test can make
//! fail. No upstream, no budget, no refresh, no point cache: what the resolvers do with the
//! answers is all that is left to test.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use super::pages::SnapshotPage;
use super::preloaded::mirror_of;
use super::seam::{DirHandle, DirectoryReads};
use super::{
    BudgetView, Dialect, DirectoryError, GroupQuery, GroupRec, MirrorState, Person, Snapshot, Team,
    UserQuery, UserRec,
};
use crate::keys::{Email, GroupId, OrgId, UserKey};
use crate::scim::{EmailLookup, KeyRule, Profile};

pub(crate) struct FakeDirectory {
    org_id: OrgId,
    dialect: Dialect,
    snapshot: Arc<Snapshot>,
    loaded_at: SystemTime,
    invites: HashSet<String>,
    /// When set, every read that would wait for the mirror or reach the upstream fails so.
    failure: Mutex<Option<DirectoryError>>,
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
        *self.failure.lock().unwrap_or_else(|e| e.into_inner()) = Some(error);
    }

    /// The handle GraphQL reads through; the test keeps the `Arc` to steer the fake.
    pub(crate) fn handle(self: &Arc<Self>) -> DirHandle {
        DirHandle::Fake(self.clone())
    }

    fn keys(&self) -> KeyRule {
        Profile::from(self.dialect).key_rule()
    }

    fn check(&self) -> Result<(), DirectoryError> {
        match &*self.failure.lock().unwrap_or_else(|e| e.into_inner()) {
            Some(e) => Err(e.clone()),
            None => Ok(()),
        }
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
            refreshing: false,
            finished: 1,
            last_error: None,
            last_refresh_at: Some(self.loaded_at),
            last_refresh_calls: 0,
            refresh_failures: 0,
            last_failure_at: None,
            restarts: 0,
        };
        (state, Duration::from_secs(300))
    }
    fn snapshot(&self) -> Arc<Snapshot> {
        self.snapshot.clone()
    }
    fn has_open_invite(&self, key: &str) -> bool {
        self.invites.contains(key)
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
