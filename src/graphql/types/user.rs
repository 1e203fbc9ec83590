//! `User`: one member or invitee of an organization.

use std::sync::Arc;

use async_graphql::{Context, ID, Json, Object, Result};

use super::grant::{GrantConnection, GrantState};
use super::scope::Held;
use super::{DateTime, Org, Scope, Source, UserStatus};
use crate::auth::Role;
use crate::directory::{DirHandle, DirectoryReads, GroupOrderField, UserRec};
use crate::graphql::connection::{GroupConnection, page_args};
use crate::graphql::errors;
use crate::graphql::guard::RoleGuard;
use crate::graphql::ids::{GlobalId, Kind};
use crate::graphql::types::Group;

/// A user of an organization: a member, or an invitee who has not joined yet.
#[derive(Clone)]
pub struct User {
    /// Shared by the nodes of one page (`Scope`).
    scope: Arc<Scope>,
    held: Held<UserRec>,
}

impl User {
    /// A user read on its own.
    pub fn new(dir: impl Into<DirHandle>, rec: Arc<UserRec>) -> User {
        User::own(&Scope::single(dir.into()), rec)
    }

    /// The user at `position` in the snapshot of `scope`.
    pub fn at(scope: &Arc<Scope>, position: u32) -> User {
        User {
            scope: scope.clone(),
            held: Held::At(position),
        }
    }

    /// A user of a page, with a record of its own.
    pub fn own(scope: &Arc<Scope>, rec: Arc<UserRec>) -> User {
        User {
            scope: scope.clone(),
            held: Held::Own(rec),
        }
    }

    /// The user's record.
    pub fn rec(&self) -> &UserRec {
        self.held.user(&self.scope)
    }

    pub(crate) fn dir(&self) -> &DirHandle {
        &self.scope.dir
    }
}

/// A user of an organization: a member, or an invitee who has not joined yet.
#[Object]
impl User {
    /// The user's global id.
    pub async fn id(&self) -> ID {
        ID(GlobalId::new(Kind::User, self.dir().org_id().as_str(), self.rec().key()).encode())
    }

    /// The primary e-mail address. In Amplitude it is the user's id and never changes: a new
    /// address means deleting the user and inviting the new one.
    async fn email(&self) -> &str {
        self.rec().email()
    }

    /// The given name, or null while unknown (an invitee who has not signed up).
    async fn given_name(&self) -> Option<&str> {
        self.rec().given_name()
    }

    /// The family name, or null while unknown.
    async fn family_name(&self) -> Option<&str> {
        self.rec().family_name()
    }

    /// "Given Family" when known, else the e-mail address.
    async fn display_name(&self) -> String {
        self.rec().display_name()
    }

    /// ACTIVE, INVITED or DEACTIVATED. Amplitude lists pending invitees as active, so INVITED
    /// is derived: Amplitude's placeholder names (NO_GIVEN_NAME / NO_FAMILY_NAME), or an
    /// invitation this gateway sent that has not yet been seen accepted (real names).
    async fn status(&self) -> UserStatus {
        let rec = self.rec();
        rec.status(self.dir().has_open_invite(rec.key())).into()
    }

    /// The groups the user is a member of, by name.
    async fn groups(
        &self,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> Result<GroupConnection> {
        let order = "user-groups:NAME";
        let args = page_args(order, first, after, last, before)?;
        let field = GroupOrderField::Name;
        // From the snapshot the user was paged from, when it has the group list.
        if let Some(snapshot) = self.scope.snapshot_if(|s| s.groups_loaded) {
            return Ok(match &self.held {
                Held::At(position) => {
                    let page = snapshot.page_groups_of_user_at(*position, &args);
                    GroupConnection::new(order, field, page, |g| Group::at(&self.scope, g))
                }
                Held::Own(rec) => {
                    let page = snapshot.page_user_groups(rec.key(), &args);
                    GroupConnection::new(order, field, page, |g| Group::own(&self.scope, g))
                }
            });
        }
        // A user read on its own, or paged while the group list had not yet arrived.
        let dir = self.dir();
        // Boxed: this wait is rare, and its future inside `groups` would make every field
        // future of `User` larger (`types/mod.rs`).
        let snapshot = Box::pin(dir.snapshot_with_groups())
            .await
            .map_err(|e| errors::directory(dir.org_id().as_str(), e))?;
        let page = snapshot.page_user_groups(self.rec().key(), &args);
        let scope = Scope::paged(dir.clone(), snapshot);
        Ok(GroupConnection::new(order, field, page, |g| {
            Group::own(&scope, g)
        }))
    }

    /// The user's time-bound group grants, newest first (`first`/`after`; pages hold at
    /// most 100, default 50), optionally only those in `state`.
    #[graphql(guard = "RoleGuard(Role::Read)")]
    async fn grants(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        state: Option<GrantState>,
    ) -> Result<GrantConnection> {
        // Boxed: the store's reads inside this field would make every field future of `User`
        // larger (`types/mod.rs`).
        let key = self.rec().key();
        let dir = self.dir().real().ok_or_else(errors::no_grants)?;
        Box::pin(super::grant::list_of(
            ctx,
            dir,
            Some(key),
            None,
            first,
            after,
            state,
        ))
        .await
    }

    /// When this record was read from the upstream.
    async fn fetched_at(&self) -> DateTime {
        DateTime(self.rec().fetched_at)
    }

    /// Whether the record came from the mirror or from a point read of the upstream.
    async fn source(&self) -> Source {
        self.rec().source.into()
    }

    /// The SCIM resource as the upstream sent it (the fields SCIM defines).
    async fn scim(&self) -> Json<serde_json::Value> {
        Json(serde_json::to_value(self.rec().resource()).unwrap_or_default())
    }

    /// The organization the user belongs to.
    async fn org(&self) -> Org {
        Org {
            dir: self.dir().clone(),
        }
    }
}
