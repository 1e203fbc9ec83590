//! `User`: one member or invitee of an organization.

use std::sync::Arc;

use async_graphql::{ID, Json, Object, Result};

use super::{DateTime, Org, Scope, Source, UserStatus};
use crate::directory::{Directory, GroupOrderField, UserRec};
use crate::graphql::connection::{GroupConnection, page_args};
use crate::graphql::errors;
use crate::graphql::ids::{GlobalId, Kind};
use crate::graphql::types::Group;

/// A user of an organization: a member, or an invitee who has not joined yet.
#[derive(Clone)]
pub struct User {
    /// Shared by the nodes of one page (`Scope`).
    pub scope: Arc<Scope>,
    pub rec: Arc<UserRec>,
}

impl User {
    /// A user read on its own.
    pub fn new(dir: Directory, rec: Arc<UserRec>) -> User {
        User {
            scope: Scope::single(dir),
            rec,
        }
    }

    fn dir(&self) -> &Directory {
        &self.scope.dir
    }
}

/// A user of an organization: a member, or an invitee who has not joined yet.
#[Object]
impl User {
    /// The user's global id.
    pub async fn id(&self) -> ID {
        ID(GlobalId::new(Kind::User, self.dir().org_id(), self.rec.key()).encode())
    }

    /// The primary e-mail address. In Amplitude it is the user's id and never changes: a new
    /// address means deleting the user and inviting the new one.
    async fn email(&self) -> &str {
        self.rec.email()
    }

    /// The given name, or null while unknown (an invitee who has not signed up).
    async fn given_name(&self) -> Option<&str> {
        self.rec.given_name()
    }

    /// The family name, or null while unknown.
    async fn family_name(&self) -> Option<&str> {
        self.rec.family_name()
    }

    /// "Given Family" when known, else the e-mail address.
    async fn display_name(&self) -> String {
        self.rec.display_name()
    }

    /// ACTIVE, INVITED or DEACTIVATED. Amplitude lists pending invitees as active, so INVITED
    /// is derived: Amplitude's placeholder names (NO_GIVEN_NAME / NO_FAMILY_NAME), or an
    /// invitation this gateway sent that has not yet been seen accepted (real names).
    async fn status(&self) -> UserStatus {
        self.rec
            .status(self.dir().has_open_invite(self.rec.key()))
            .into()
    }

    /// The groups the user is a member of, by name.
    async fn groups(
        &self,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> Result<GroupConnection> {
        let tag = "user-groups:NAME";
        let args = page_args(tag, first, after, last, before)?;
        let dir = self.dir();
        let key = self.rec.key();
        let (scope, page) = match self.scope.snapshot_if(|s| s.groups_loaded) {
            Some(s) => (self.scope.clone(), s.page_user_groups(key, &args)),
            None => {
                // Boxed: this wait is rare, and its future inside `groups` would make every
                // field future of `User` larger (`types/mod.rs`).
                let snapshot = Box::pin(dir.snapshot_with_groups())
                    .await
                    .map_err(|e| errors::directory(dir.org_id(), e))?;
                let page = snapshot.page_user_groups(key, &args);
                (Scope::paged(dir.clone(), snapshot), page)
            }
        };
        Ok(GroupConnection::new(
            tag,
            GroupOrderField::Name,
            page,
            |rec| Group {
                scope: scope.clone(),
                rec,
            },
        ))
    }

    /// When this record was read from the upstream.
    async fn fetched_at(&self) -> DateTime {
        DateTime(self.rec.fetched_at)
    }

    /// Whether the record came from the mirror or from a point read of the upstream.
    async fn source(&self) -> Source {
        self.rec.source.into()
    }

    /// The SCIM resource as the upstream sent it (the fields SCIM defines).
    async fn scim(&self) -> Json<serde_json::Value> {
        Json(serde_json::to_value(self.rec.resource()).unwrap_or_default())
    }

    /// The organization the user belongs to.
    async fn org(&self) -> Org {
        Org {
            dir: self.dir().clone(),
        }
    }
}
