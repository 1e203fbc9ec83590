//! `Org`: one organization, its users and groups, its budget and its mirror's state.

use async_graphql::{Context, ID, Object, Result};

use super::{
    AuditEntryConnection, AuditLogFilter, Budget, DirectoryEventConnection, GrantConnection,
    GrantFilter, Group, GroupFilter, GroupOrder, OrderDirection, ScimProfile, Scope,
    SnapshotConnection, SnapshotDiffConnection, SyncStatus, User, UserFilter, UserOrder,
    WebhookDeliveryConnection, WebhookDeliveryFilter,
};
use crate::auth::Role;
use crate::directory::{self, Dialect, DirHandle, DirectoryReads};
use crate::graphql::connection::{GroupConnection, UserConnection, page_args};
use crate::graphql::errors::{self, bad_input};
use crate::graphql::guard::{AuditGuard, RoleGuard};
use crate::graphql::ids::{GlobalId, Kind};
use crate::graphql::loaders::{DirKey, Point, PointReq, load_point};
use crate::keys::{Email, GroupId};

/// An organization: one upstream SCIM directory with its own key, budget and mirror.
#[derive(Clone)]
pub struct Org {
    pub dir: DirHandle,
}

impl Org {
    /// The key of a group given as a global id of this organization, or as the upstream's id.
    pub fn group_key(&self, id: &ID) -> Result<String> {
        match GlobalId::decode(id) {
            Some(g) if g.kind == Kind::Group && *self.dir.org_id() == g.org => Ok(g.key),
            Some(_) => Err(bad_input(format!(
                "{:?} is not a group of organization {:?}",
                id.as_str(),
                self.dir.org_id()
            ))),
            None => Ok(id.to_string()),
        }
    }
}

/// An organization: one upstream SCIM directory with its own key, budget and mirror.
///
/// An auditor's key reaches an organization only for its id, names, `auditLog`, `snapshots`
/// and `snapshotDiff`; every other field needs the read role.
#[Object]
impl Org {
    /// The organization's global id.
    pub async fn id(&self) -> ID {
        ID(GlobalId::new(Kind::Org, self.dir.org_id().as_str(), "").encode())
    }

    /// The organization's id in the gateway's configuration (also accepted by `Query.org`).
    async fn slug(&self) -> &str {
        self.dir.org_id().as_str()
    }

    /// The organization's display name from the configuration.
    async fn name(&self) -> &str {
        self.dir.org_name()
    }

    /// The SCIM dialect of the organization's upstream.
    #[graphql(guard = "RoleGuard(Role::Read)")]
    async fn profile(&self) -> ScimProfile {
        match self.dir.dialect() {
            Dialect::Amplitude => ScimProfile::Amplitude,
            Dialect::Rfc7644 => ScimProfile::Rfc7644,
        }
    }

    /// Users, from the mirror. Pages hold at most 100 (default 50). Cursors are positions by
    /// sort key, so paging while the mirror refreshes neither skips nor repeats a user.
    /// Until an organization's mirror has loaded once, only the default order without a filter
    /// is answered at once (from the pages read so far); other queries wait for the load.
    #[graphql(guard = "RoleGuard(Role::Read)")]
    async fn users(
        &self,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        filter: Option<UserFilter>,
        order_by: Option<UserOrder>,
    ) -> Result<UserConnection> {
        let order = order_by.unwrap_or_default();
        let field = order.field;
        let page = page_args(field.tag(), first, after, last, before)?;
        let filter = match filter {
            Some(f) => directory::UserFilter::new(
                f.search,
                f.status.map(Into::into),
                f.member_of
                    .as_ref()
                    .map(|id| self.group_key(id))
                    .transpose()?,
                f.in_no_group,
            ),
            None => directory::UserFilter::default(),
        };
        let query = directory::UserQuery {
            filter,
            order: field.to_directory(),
            desc: order.direction == OrderDirection::Desc,
            page,
        };
        let dir = &self.dir;
        let read = dir
            .page_users(&query)
            .await
            .map_err(|e| errors::directory(dir.org_id().as_str(), e))?;
        let scope = Scope::paged(dir.clone(), read.snapshot);
        Ok(UserConnection::new(
            field.tag(),
            field.to_directory(),
            read.page,
            |position| User::at(&scope, position),
        ))
    }

    /// One user by e-mail address (case-insensitive). Read from the mirror, else from the
    /// upstream (batched per request; a not-found is remembered briefly). The e-mail is the
    /// user's identity in Amplitude and cannot be changed: to change it, delete the user and
    /// invite the new address.
    #[graphql(guard = "RoleGuard(Role::Read)")]
    async fn user(&self, ctx: &Context<'_>, email: String) -> Result<Option<User>> {
        let Ok(parsed) = Email::from_input(&email) else {
            return Err(bad_input(format!(
                "{:?} is not an e-mail address",
                email
                    .trim()
                    .to_lowercase()
                    .chars()
                    .take(100)
                    .collect::<String>()
            )));
        };
        let email = parsed;
        let req = PointReq::UserByEmail {
            dir: DirKey(self.dir.clone()),
            email,
        };
        Ok(match load_point(ctx, req).await? {
            Some(Point::User(rec)) => Some(User::new(self.dir.clone(), rec)),
            _ => None,
        })
    }

    /// Groups (Amplitude permission groups), from the mirror.
    #[graphql(guard = "RoleGuard(Role::Read)")]
    async fn groups(
        &self,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        filter: Option<GroupFilter>,
        order_by: Option<GroupOrder>,
    ) -> Result<GroupConnection> {
        let order = order_by.unwrap_or_default();
        let page = page_args(order.field.tag(), first, after, last, before)?;
        let query = directory::GroupQuery::new(
            filter.and_then(|f| f.search),
            order.field.to_directory(),
            order.direction == OrderDirection::Desc,
            page,
        );
        let dir = &self.dir;
        let read = dir
            .page_groups(&query)
            .await
            .map_err(|e| errors::directory(dir.org_id().as_str(), e))?;
        let scope = Scope::paged(dir.clone(), read.snapshot);
        Ok(GroupConnection::new(
            order.field.tag(),
            order.field.to_directory(),
            read.page,
            |rec| Group::own(&scope, rec),
        ))
    }

    /// One group, by its global id or by the upstream's group id.
    #[graphql(guard = "RoleGuard(Role::Read)")]
    async fn group(&self, ctx: &Context<'_>, id: ID) -> Result<Option<Group>> {
        let Ok(key) = self.group_key(&id) else {
            return Ok(None);
        };
        let req = PointReq::Group {
            dir: DirKey(self.dir.clone()),
            id: GroupId::new(key),
        };
        Ok(match load_point(ctx, req).await? {
            Some(Point::Group(rec)) => Some(Group::new(self.dir.clone(), rec)),
            _ => None,
        })
    }

    /// The organization's upstream request budget, now.
    #[graphql(guard = "RoleGuard(Role::Read)")]
    async fn budget(&self) -> Budget {
        Budget {
            snapshot: self.dir.budget(),
        }
    }

    /// The organization's audit log, **newest first**: one row per write attempt through the
    /// gateway (whoever sent it, whatever came of it) and per system action (refreshes).
    /// `first`/`after` page to older rows, `last`/`before` to newer; pages hold at most 100
    /// (default 50). Only auditor and admin keys may read it.
    #[graphql(guard = "AuditGuard")]
    async fn audit_log(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        filter: Option<AuditLogFilter>,
    ) -> Result<AuditEntryConnection> {
        super::audit::log(
            ctx,
            self.dir.org_id().as_str(),
            first,
            after,
            last,
            before,
            filter,
        )
        .await
    }

    /// The organization's access snapshots, **newest first** (`first`/`after` page to older
    /// ones, `last`/`before` to newer; pages hold at most 100, default 50). Each holds every
    /// user with its status and groups, hash-chained to the one before. Only auditor and admin
    /// keys may read them.
    #[graphql(guard = "AuditGuard")]
    async fn snapshots(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> Result<SnapshotConnection> {
        super::snapshot::list(ctx, self.dir.org_id().as_str(), first, after, last, before).await
    }

    /// The organization's access reviews, newest first (`first`/`after`; at most 100 a page,
    /// default 50). Only auditor and admin keys; a `reviewer` key reads its reviews through
    /// `Query.accessReview`.
    #[graphql(guard = "AuditGuard")]
    async fn access_reviews(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<super::AccessReviewConnection> {
        super::review::list(ctx, self.dir.org_id().as_str(), first, after).await
    }

    /// What changed from the snapshot `from` to the snapshot `to`, or to the mirror now when
    /// `to` is omitted (waiting for a mirror still loading): users added, removed, deactivated,
    /// reactivated and invited, memberships granted and revoked, with totals and counts per
    /// group. Changes are ordered by kind, then user id, then group id (`first`/`after`; pages
    /// hold at most 100, default 50). Only auditor and admin keys may read it.
    #[graphql(guard = "AuditGuard")]
    async fn snapshot_diff(
        &self,
        ctx: &Context<'_>,
        from: ID,
        to: Option<ID>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<SnapshotDiffConnection> {
        super::snapshot_diff::diff(ctx, &self.dir, from, to, first, after).await
    }

    /// Time-bound group grants of the organization, newest first (`first`/`after`; pages
    /// hold at most 100, default 50).
    #[graphql(guard = "RoleGuard(Role::Read)")]
    async fn grants(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        filter: Option<GrantFilter>,
    ) -> Result<GrantConnection> {
        let dir = self.dir.real().ok_or_else(errors::no_grants)?;
        super::grant::list(ctx, dir, first, after, filter).await
    }

    /// The organization's directory events, oldest first by `seq`: `first`/`after` walk to
    /// newer events (keep the last cursor to resume exactly there), `last`/`before` to older
    /// (`last: 20` alone: the newest 20). `kinds` keeps only those kinds (`grant.expiring`).
    /// Pages hold at most 100 (default 50). Resuming after an event past `events.retention`
    /// is refused with `EVENTS_EXPIRED`.
    #[graphql(guard = "RoleGuard(Role::Read)")]
    async fn events(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        kinds: Option<Vec<String>>,
    ) -> Result<DirectoryEventConnection> {
        super::event::list(
            ctx,
            self.dir.org_id().as_str(),
            first,
            after,
            last,
            before,
            kinds,
        )
        .await
    }

    /// Deliveries of the organization's events to its webhooks (`[[webhooks]]`), newest first
    /// (`first`/`after`; pages hold at most 100, default 50). Admin keys only.
    #[graphql(guard = "RoleGuard(Role::Admin)")]
    async fn webhook_deliveries(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        filter: Option<WebhookDeliveryFilter>,
    ) -> Result<WebhookDeliveryConnection> {
        super::webhook::list(ctx, self.dir.org_id().as_str(), first, after, filter).await
    }

    /// The state of the organization's mirror.
    #[graphql(guard = "RoleGuard(Role::Read)")]
    async fn sync(&self) -> SyncStatus {
        let (state, max_age) = self.dir.sync();
        SyncStatus { state, max_age }
    }
}
