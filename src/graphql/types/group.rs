//! `Group`: an Amplitude permission group (project roles are set in Amplitude's UI).

use std::sync::Arc;

use async_graphql::{Context, ID, Json, Object, Result};

use super::grant::{GrantConnection, GrantState};
use super::scope::Held;
use super::{DateTime, Org, Scope, Source, User};
use crate::auth::Role;
use crate::directory::{DirHandle, DirectoryReads, GroupRec, UserOrderField};
use crate::graphql::connection::{UserConnection, page_args};
use crate::graphql::errors;
use crate::graphql::guard::RoleGuard;
use crate::graphql::ids::{GlobalId, Kind};

/// A group of users. In Amplitude, a permission group: its project roles are set in Amplitude's
/// UI, and a member holds the highest role any of its groups grants.
#[derive(Clone)]
pub struct Group {
    /// Shared by the nodes of one page (`Scope`).
    scope: Arc<Scope>,
    held: Held<GroupRec>,
}

impl Group {
    /// A group read on its own.
    pub fn new(dir: impl Into<DirHandle>, rec: Arc<GroupRec>) -> Group {
        Group::own(&Scope::single(dir.into()), rec)
    }

    /// The group at `position` in the snapshot of `scope`.
    pub fn at(scope: &Arc<Scope>, position: u32) -> Group {
        Group {
            scope: scope.clone(),
            held: Held::At(position),
        }
    }

    /// A group of a page, with a record of its own.
    pub fn own(scope: &Arc<Scope>, rec: Arc<GroupRec>) -> Group {
        Group {
            scope: scope.clone(),
            held: Held::Own(rec),
        }
    }

    /// The group's record.
    pub fn rec(&self) -> &GroupRec {
        self.held.group(&self.scope)
    }

    pub(crate) fn dir(&self) -> &DirHandle {
        &self.scope.dir
    }
}

/// A group of users. In Amplitude, a permission group: its project roles are set in
/// Amplitude's UI, and a member holds the highest role any of its groups grants.
#[Object]
impl Group {
    /// The group's global id.
    pub async fn id(&self) -> ID {
        ID(GlobalId::new(Kind::Group, self.dir().org_id().as_str(), &self.rec().id).encode())
    }

    /// The upstream's id of the group.
    async fn upstream_id(&self) -> &str {
        &self.rec().id
    }

    /// The group's name.
    async fn name(&self) -> &str {
        &self.rec().group.display_name
    }

    /// Time-bound grants of access to this group, newest first (`first`/`after`; pages hold
    /// at most 100, default 50), optionally only those in `state`.
    #[graphql(guard = "RoleGuard(Role::Read)")]
    async fn grants(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        state: Option<GrantState>,
    ) -> Result<GrantConnection> {
        // Boxed: the store's reads inside this field would make every field future of `Group`
        // larger (`types/mod.rs`).
        let dir = self.dir().real().ok_or_else(errors::no_grants)?;
        Box::pin(super::grant::list_of(
            ctx,
            dir,
            None,
            Some(&self.rec().id),
            first,
            after,
            state,
        ))
        .await
    }

    /// The members, by e-mail. A member the user list does not show appears with what the
    /// group says of it.
    async fn members(
        &self,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> Result<UserConnection> {
        let tag = "members:EMAIL";
        let args = page_args(tag, first, after, last, before)?;
        let dir = self.dir();
        let stand_in = |value: &str, display: Option<&str>| dir.member_stand_in(value, display);
        let (scope, page) = match self.scope.snapshot_if(|s| s.complete) {
            Some(s) => (
                self.scope.clone(),
                s.page_members(self.rec(), &args, stand_in),
            ),
            None => {
                // Boxed: this wait is rare, and its future inside `members` would make every
                // field future of `Group` larger (`types/mod.rs`).
                let snapshot = Box::pin(dir.complete_snapshot())
                    .await
                    .map_err(|e| errors::directory(dir.org_id().as_str(), e))?;
                let page = snapshot.page_members(self.rec(), &args, stand_in);
                (Scope::paged(dir.clone(), snapshot), page)
            }
        };
        Ok(UserConnection::new(
            tag,
            UserOrderField::Email,
            page,
            |rec| User::own(&scope, rec),
        ))
    }

    /// How many members the group has.
    async fn member_count(&self) -> i32 {
        // Each member is kept once (`PackedList`), even if the upstream lists one twice.
        self.rec().member_keys.len() as i32
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

    /// The organization the group belongs to.
    async fn org(&self) -> Org {
        Org {
            dir: self.dir().clone(),
        }
    }
}
