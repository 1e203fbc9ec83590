//! The seam the layers above use: [`DirectoryReads`], what GraphQL (and later the proxy and the
//! REST view) asks of one organization's directory, implemented by [`Directory`] and, in unit
//! tests, by an in-memory fake; [`DirHandle`] is the handle GraphQL holds.
//!
//! `DirHandle` is an enum, not a `Box<dyn>`: every field of every node asks its handle something
//! (`User.status` asks for open invitations), so a virtual call with a boxed future per field
//! would tax the hot read path (the benchmark's row 3). Outside unit tests the enum has one
//! variant, so it is the size of `Directory` and each call compiles to the direct one.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use super::pages::SnapshotPage;
use super::{
    BudgetView, Dialect, Directory, DirectoryError, GroupQuery, GroupRec, Invite, MirrorState,
    NameChange, Snapshot, UserQuery, UserRec, WriteError, WriteLane,
};
use crate::keys::{Email, GroupId, OrgId, UserKey};

/// What a reader asks of one organization's directory: pages by intent, point reads, the
/// mirror's and the budget's state, and how the organization keys its users.
pub(crate) trait DirectoryReads {
    fn org_id(&self) -> &OrgId;
    fn org_name(&self) -> &str;
    /// The SCIM dialect of the organization's upstream.
    fn dialect(&self) -> Dialect;
    /// The organization's upstream budget, now.
    fn budget(&self) -> BudgetView;
    /// The mirror's state, and the age past which it is refreshed.
    fn sync(&self) -> (MirrorState, Duration);
    /// The mirror as it is now.
    fn snapshot(&self) -> Arc<Snapshot>;
    /// Whether the user with this key has an open invitation from this gateway.
    fn has_open_invite(&self, key: &str) -> bool;
    /// What every answer read from this directory depends on, while the mirror is complete
    /// (the snapshot's generation and the open invitations' version): equal versions, equal
    /// answers. `None` while the mirror is loading, when reads may go upstream.
    fn answer_version(&self) -> Option<[u64; 2]>;
    /// The lookup key of a user id or e-mail as the organization's profile compares them.
    fn user_key(&self, id: &str) -> UserKey;
    /// A stand-in for a group member that the user list does not show.
    fn member_stand_in(&self, value: &str, display: Option<&str>) -> UserRec;

    /// A page of users (`Directory::page_users`).
    fn page_users(
        &self,
        query: &UserQuery,
    ) -> impl Future<Output = Result<SnapshotPage<u32>, DirectoryError>> + Send;
    /// A page of groups (`Directory::page_groups`).
    fn page_groups(
        &self,
        query: &GroupQuery,
    ) -> impl Future<Output = Result<SnapshotPage<Arc<GroupRec>>, DirectoryError>> + Send;
    fn user(
        &self,
        key: &UserKey,
    ) -> impl Future<Output = Result<Option<Arc<UserRec>>, DirectoryError>> + Send;
    fn user_by_email(
        &self,
        email: &Email,
    ) -> impl Future<Output = Result<Option<Arc<UserRec>>, DirectoryError>> + Send;
    /// The key of the user with this e-mail, reading only where the e-mail is not the id.
    fn user_key_by_email(
        &self,
        email: &Email,
    ) -> impl Future<Output = Result<Option<UserKey>, DirectoryError>> + Send;
    fn group(
        &self,
        id: &GroupId,
    ) -> impl Future<Output = Result<Option<Arc<GroupRec>>, DirectoryError>> + Send;
    /// A snapshot with the group list (for a user's groups).
    fn snapshot_with_groups(
        &self,
    ) -> impl Future<Output = Result<Arc<Snapshot>, DirectoryError>> + Send;
    /// The complete mirror (for a group's members).
    fn complete_snapshot(
        &self,
    ) -> impl Future<Output = Result<Arc<Snapshot>, DirectoryError>> + Send;
}

/// The directory's write entry points (`writes/mod.rs`), one per kind of change, each taking
/// its lane: what GraphQL's mutations call.
pub(crate) trait DirectoryWrites {
    fn invite_user(
        &self,
        invite: Invite<'_>,
        lane: WriteLane,
    ) -> impl Future<Output = Result<Arc<UserRec>, WriteError>> + Send;
    fn update_user(
        &self,
        key: &UserKey,
        names: NameChange<'_>,
        lane: WriteLane,
    ) -> impl Future<Output = Result<Arc<UserRec>, WriteError>> + Send;
    fn deactivate_user(
        &self,
        key: &UserKey,
        lane: WriteLane,
    ) -> impl Future<Output = Result<Arc<UserRec>, WriteError>> + Send;
    fn delete_user(
        &self,
        key: &UserKey,
        lane: WriteLane,
    ) -> impl Future<Output = Result<(), WriteError>> + Send;
    fn create_group(
        &self,
        name: &str,
        member_keys: &[UserKey],
        lane: WriteLane,
    ) -> impl Future<Output = Result<Arc<GroupRec>, WriteError>> + Send;
    fn rename_group(
        &self,
        id: &GroupId,
        name: &str,
        lane: WriteLane,
    ) -> impl Future<Output = Result<Arc<GroupRec>, WriteError>> + Send;
    fn delete_group(
        &self,
        id: &GroupId,
        lane: WriteLane,
    ) -> impl Future<Output = Result<(), WriteError>> + Send;
    fn add_members(
        &self,
        id: &GroupId,
        keys: &[UserKey],
        lane: WriteLane,
    ) -> impl Future<Output = Result<Arc<GroupRec>, WriteError>> + Send;
    fn remove_members(
        &self,
        id: &GroupId,
        keys: &[UserKey],
        lane: WriteLane,
    ) -> impl Future<Output = Result<Arc<GroupRec>, WriteError>> + Send;
}

/// Implements `DirectoryWrites` for `$ty`: each method hands its arguments to `$call!`
/// (`inherent` for a `Directory`, `held` for a handle).
macro_rules! writes {
    ($ty:ty, $self:ident, $d:ident => $call:ident) => {
        impl DirectoryWrites for $ty {
            async fn invite_user(&$self, invite: Invite<'_>, lane: WriteLane) -> Result<Arc<UserRec>, WriteError> {
                $call!($d, invite_user(invite, lane))
            }
            async fn update_user(&$self, key: &UserKey, names: NameChange<'_>, lane: WriteLane) -> Result<Arc<UserRec>, WriteError> {
                $call!($d, update_user(key, names, lane))
            }
            async fn deactivate_user(&$self, key: &UserKey, lane: WriteLane) -> Result<Arc<UserRec>, WriteError> {
                $call!($d, deactivate_user(key, lane))
            }
            async fn delete_user(&$self, key: &UserKey, lane: WriteLane) -> Result<(), WriteError> {
                $call!($d, delete_user(key, lane))
            }
            async fn create_group(&$self, name: &str, member_keys: &[UserKey], lane: WriteLane) -> Result<Arc<GroupRec>, WriteError> {
                $call!($d, create_group(name, member_keys, lane))
            }
            async fn rename_group(&$self, id: &GroupId, name: &str, lane: WriteLane) -> Result<Arc<GroupRec>, WriteError> {
                $call!($d, rename_group(id, name, lane))
            }
            async fn delete_group(&$self, id: &GroupId, lane: WriteLane) -> Result<(), WriteError> {
                $call!($d, delete_group(id, lane))
            }
            async fn add_members(&$self, id: &GroupId, keys: &[UserKey], lane: WriteLane) -> Result<Arc<GroupRec>, WriteError> {
                $call!($d, add_members(id, keys, lane))
            }
            async fn remove_members(&$self, id: &GroupId, keys: &[UserKey], lane: WriteLane) -> Result<Arc<GroupRec>, WriteError> {
                $call!($d, remove_members(id, keys, lane))
            }
        }
    };
}

/// A `Directory`'s own (inherent) write entry point.
macro_rules! inherent {
    ($d:ident, $name:ident($($arg:expr),*)) => {
        Directory::$name($d, $($arg),*).await
    };
}

/// The entry point of whichever directory the handle holds.
macro_rules! held {
    ($d:ident, $name:ident($($arg:expr),*)) => {
        dispatch!($d, x => x.$name($($arg),*).await)
    };
}

impl DirectoryReads for Directory {
    fn org_id(&self) -> &OrgId {
        Directory::org_id(self)
    }
    fn org_name(&self) -> &str {
        Directory::org_name(self)
    }
    fn dialect(&self) -> Dialect {
        Directory::dialect(self)
    }
    fn budget(&self) -> BudgetView {
        Directory::budget(self)
    }
    fn sync(&self) -> (MirrorState, Duration) {
        (Directory::state(self), self.settings().max_age)
    }
    fn snapshot(&self) -> Arc<Snapshot> {
        Directory::snapshot(self)
    }
    fn has_open_invite(&self, key: &str) -> bool {
        Directory::has_open_invite(self, key)
    }
    fn answer_version(&self) -> Option<[u64; 2]> {
        Directory::answer_version(self)
    }
    fn user_key(&self, id: &str) -> UserKey {
        Directory::user_key(self, id)
    }
    fn member_stand_in(&self, value: &str, display: Option<&str>) -> UserRec {
        Directory::member_stand_in(self, value, display)
    }
    async fn page_users(&self, query: &UserQuery) -> Result<SnapshotPage<u32>, DirectoryError> {
        Directory::page_users(self, query).await
    }
    async fn page_groups(
        &self,
        query: &GroupQuery,
    ) -> Result<SnapshotPage<Arc<GroupRec>>, DirectoryError> {
        Directory::page_groups(self, query).await
    }
    async fn user(&self, key: &UserKey) -> Result<Option<Arc<UserRec>>, DirectoryError> {
        Directory::user(self, key).await
    }
    async fn user_by_email(&self, email: &Email) -> Result<Option<Arc<UserRec>>, DirectoryError> {
        Directory::user_by_email(self, email).await
    }
    async fn user_key_by_email(&self, email: &Email) -> Result<Option<UserKey>, DirectoryError> {
        Directory::user_key_by_email(self, email).await
    }
    async fn group(&self, id: &GroupId) -> Result<Option<Arc<GroupRec>>, DirectoryError> {
        Directory::group(self, id).await
    }
    async fn snapshot_with_groups(&self) -> Result<Arc<Snapshot>, DirectoryError> {
        Directory::snapshot_with_groups(self).await
    }
    async fn complete_snapshot(&self) -> Result<Arc<Snapshot>, DirectoryError> {
        Directory::complete_snapshot(self).await
    }
}

/// The directory handle GraphQL holds: the real directory, or in unit tests the fake.
#[derive(Clone)]
pub(crate) enum DirHandle {
    Real(Directory),
    #[cfg(test)]
    Fake(Arc<super::fake::FakeDirectory>),
}

impl From<Directory> for DirHandle {
    fn from(d: Directory) -> DirHandle {
        DirHandle::Real(d)
    }
}

impl DirHandle {
    /// The real directory, for what only it has (the grants kept in the store beside it);
    /// none for the fake.
    pub(crate) fn real(&self) -> Option<&Directory> {
        match self {
            DirHandle::Real(d) => Some(d),
            #[cfg(test)]
            DirHandle::Fake(_) => None,
        }
    }
}

/// `$body` with `$d` bound to whichever directory the handle holds.
macro_rules! dispatch {
    ($self:ident, $d:ident => $body:expr) => {
        match $self {
            DirHandle::Real($d) => $body,
            #[cfg(test)]
            DirHandle::Fake($d) => $body,
        }
    };
}

impl DirectoryReads for DirHandle {
    fn org_id(&self) -> &OrgId {
        dispatch!(self, d => d.org_id())
    }
    fn org_name(&self) -> &str {
        dispatch!(self, d => d.org_name())
    }
    fn dialect(&self) -> Dialect {
        dispatch!(self, d => d.dialect())
    }
    fn budget(&self) -> BudgetView {
        dispatch!(self, d => d.budget())
    }
    fn sync(&self) -> (MirrorState, Duration) {
        dispatch!(self, d => d.sync())
    }
    fn snapshot(&self) -> Arc<Snapshot> {
        dispatch!(self, d => d.snapshot())
    }
    fn has_open_invite(&self, key: &str) -> bool {
        dispatch!(self, d => d.has_open_invite(key))
    }
    fn answer_version(&self) -> Option<[u64; 2]> {
        dispatch!(self, d => d.answer_version())
    }
    fn user_key(&self, id: &str) -> UserKey {
        dispatch!(self, d => d.user_key(id))
    }
    fn member_stand_in(&self, value: &str, display: Option<&str>) -> UserRec {
        dispatch!(self, d => d.member_stand_in(value, display))
    }
    async fn page_users(&self, query: &UserQuery) -> Result<SnapshotPage<u32>, DirectoryError> {
        dispatch!(self, d => d.page_users(query).await)
    }
    async fn page_groups(
        &self,
        query: &GroupQuery,
    ) -> Result<SnapshotPage<Arc<GroupRec>>, DirectoryError> {
        dispatch!(self, d => d.page_groups(query).await)
    }
    async fn user(&self, key: &UserKey) -> Result<Option<Arc<UserRec>>, DirectoryError> {
        dispatch!(self, d => d.user(key).await)
    }
    async fn user_by_email(&self, email: &Email) -> Result<Option<Arc<UserRec>>, DirectoryError> {
        dispatch!(self, d => d.user_by_email(email).await)
    }
    async fn user_key_by_email(&self, email: &Email) -> Result<Option<UserKey>, DirectoryError> {
        dispatch!(self, d => d.user_key_by_email(email).await)
    }
    async fn group(&self, id: &GroupId) -> Result<Option<Arc<GroupRec>>, DirectoryError> {
        dispatch!(self, d => d.group(id).await)
    }
    async fn snapshot_with_groups(&self) -> Result<Arc<Snapshot>, DirectoryError> {
        dispatch!(self, d => d.snapshot_with_groups().await)
    }
    async fn complete_snapshot(&self) -> Result<Arc<Snapshot>, DirectoryError> {
        dispatch!(self, d => d.complete_snapshot().await)
    }
}

writes!(Directory, self, self => inherent);
writes!(DirHandle, self, self => held);
