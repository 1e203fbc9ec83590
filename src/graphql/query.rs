//! The query root: organizations, and Relay's `node` / `nodes`.

use async_graphql::{Context, Enum, ID, Interface, Object, Result, SimpleObject};

use super::errors::{Code, bad_input};
use super::guard::{RoleGuard, require};
use super::ids::{GlobalId, Kind};
use super::loaders::{DirKey, Point, PointReq, load_point};
use super::types::{AccessReview, AuditEntry, Grant, Group, Org, Snapshot, User, audit, review};
use crate::auth::{Principal, Role};
use crate::directory::{DirHandle, Directories, DirectoryReads};
use crate::keys::GroupId;

/// An object with a global id (Relay Global Object Identification).
#[derive(Interface)]
#[graphql(field(
    name = "id",
    ty = "ID",
    desc = "The object's global id, for `Query.node`."
))]
pub enum Node {
    Org(Org),
    User(User),
    Group(Group),
    AuditEntry(AuditEntry),
    Grant(Grant),
    Snapshot(Snapshot),
    AccessReview(AccessReview),
}

#[derive(Default)]
pub struct Query;

/// What an API key may do.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ViewerRole {
    /// Queries.
    Read,
    /// Queries and mutations.
    Write,
    /// Everything, including refreshes and the audit log.
    Admin,
    /// The audit log only.
    Auditor,
    /// The access reviews that name it, only.
    Reviewer,
}

impl From<Role> for ViewerRole {
    fn from(r: Role) -> Self {
        match r {
            Role::Read => ViewerRole::Read,
            Role::Write => ViewerRole::Write,
            Role::Admin => ViewerRole::Admin,
            Role::Auditor => ViewerRole::Auditor,
            Role::Reviewer => ViewerRole::Reviewer,
        }
    }
}

/// The client asking.
#[derive(SimpleObject)]
pub struct Viewer {
    /// The API key's name in the gateway's configuration.
    pub name: String,
    pub role: ViewerRole,
    /// Whether this key may run mutations.
    pub can_write: bool,
    /// Whether this key may run refreshes and budget controls.
    pub can_admin: bool,
    /// Whether this key may read the audit log (`Org.auditLog`).
    pub can_read_audit_log: bool,
    /// The organizations this key may reach.
    pub orgs: Vec<Org>,
}

#[Object]
impl Query {
    /// The client asking: its API key's name, role and organizations.
    async fn viewer(&self, ctx: &Context<'_>) -> Result<Viewer> {
        let principal = ctx
            .data::<Principal>()
            .map_err(|_| Code::Forbidden.error("no API key"))?;
        let dirs = ctx.data::<Directories<DirHandle>>()?;
        Ok(Viewer {
            name: principal.name.clone(),
            role: principal.role.into(),
            can_write: principal.role >= Role::Write,
            can_admin: principal.role >= Role::Admin,
            can_read_audit_log: principal.role.reads_audit(),
            orgs: dirs.all().iter().map(|d| Org { dir: d.clone() }).collect(),
        })
    }

    /// Every organization this gateway serves (that this key may reach).
    // Every role: an auditor reaches the audit log through an organization.
    #[graphql(guard = "RoleGuard(Role::Auditor)")]
    async fn orgs(&self, ctx: &Context<'_>) -> Result<Vec<Org>> {
        let dirs = ctx.data::<Directories<DirHandle>>()?;
        Ok(dirs.all().iter().map(|d| Org { dir: d.clone() }).collect())
    }

    /// One organization, by its global id or its configured id (`slug`). Without an id: the
    /// only organization, when the gateway serves exactly one.
    #[graphql(guard = "RoleGuard(Role::Auditor)")]
    async fn org(&self, ctx: &Context<'_>, id: Option<ID>) -> Result<Option<Org>> {
        Ok(find_org(ctx, id)?.map(|dir| Org { dir }))
    }

    /// The object with this global id, or null when it does not exist. Users and groups need
    /// the read role; audit rows and snapshots the auditor or admin role.
    // Every role; `node` checks the role each kind of object needs.
    #[graphql(guard = "RoleGuard(Role::Auditor)")]
    async fn node(&self, ctx: &Context<'_>, id: ID) -> Result<Option<Node>> {
        node(ctx, &id).await
    }

    /// An access review by its global id: for admin and auditor keys any review of their
    /// organizations, for a `reviewer` key only a review that names it; null otherwise.
    #[graphql(guard = "RoleGuard(Role::Reviewer)")]
    async fn access_review(&self, ctx: &Context<'_>, id: ID) -> Result<Option<AccessReview>> {
        let Some(g) = GlobalId::decode(&id).filter(|g| g.kind == Kind::AccessReview) else {
            return Err(bad_input(format!(
                "{:?} is not an access review id this gateway issued",
                id.as_str()
            )));
        };
        let dirs = ctx.data::<Directories<DirHandle>>()?;
        if dirs.get(&g.org).is_none() {
            return Ok(None);
        }
        review::visible(ctx, g.org.as_str(), &g.key).await
    }

    /// The objects with these global ids, in the same order; null where one does not exist.
    #[graphql(guard = "RoleGuard(Role::Auditor)")]
    async fn nodes(&self, ctx: &Context<'_>, ids: Vec<ID>) -> Result<Vec<Option<Node>>> {
        if ids.len() > 100 {
            return Err(bad_input(format!(
                "`ids` takes at most 100 ids, got {}",
                ids.len()
            )));
        }
        let mut out = Vec::with_capacity(ids.len());
        // The loader batches the point reads of all ids into one round.
        let lookups = ids.iter().map(|id| node(ctx, id));
        for result in futures_util::future::join_all(lookups).await {
            out.push(result?);
        }
        Ok(out)
    }
}

async fn node(ctx: &Context<'_>, id: &ID) -> Result<Option<Node>> {
    let Some(g) = GlobalId::decode(id) else {
        return Err(bad_input(format!(
            "{:?} is not an id this gateway issued",
            id.as_str()
        )));
    };
    // The role first: whether an object exists is not for a key that may not read it.
    match g.kind {
        Kind::Org => {}
        Kind::User | Kind::Group => require(ctx, Role::Read)?,
        Kind::AuditEntry | Kind::Snapshot | Kind::AccessReview => super::guard::require_audit(ctx)?,
        Kind::AccessReviewItem => return Ok(None),
        Kind::Grant => require(ctx, Role::Read)?,
    }
    let dirs = ctx.data::<Directories<DirHandle>>()?;
    let Some(dir) = dirs.get(&g.org) else {
        return Ok(None);
    };
    let req = match g.kind {
        Kind::Org => return Ok(Some(Node::Org(Org { dir: dir.clone() }))),
        Kind::AuditEntry => {
            let entry = audit::entry(ctx, dir.org_id().as_str(), &g.key).await?;
            return Ok(entry.map(Node::AuditEntry));
        }
        Kind::Grant => {
            let grant = super::types::grant::node(ctx, dir.org_id().as_str(), &g.key).await?;
            return Ok(grant.map(Node::Grant));
        }
        Kind::Snapshot => {
            let snapshot = super::types::snapshot::node(ctx, dir.org_id().as_str(), &g.key).await?;
            return Ok(snapshot.map(Node::Snapshot));
        }
        Kind::AccessReview => {
            let review = review::visible(ctx, dir.org_id().as_str(), &g.key).await?;
            return Ok(review.map(Node::AccessReview));
        }
        Kind::AccessReviewItem => return Ok(None),
        Kind::User => PointReq::UserByKey {
            dir: DirKey(dir.clone()),
            key: dir.user_key(&g.key),
        },
        Kind::Group => PointReq::Group {
            dir: DirKey(dir.clone()),
            id: GroupId::new(g.key),
        },
    };
    Ok(match load_point(ctx, req).await? {
        Some(Point::User(rec)) => Some(Node::User(User::new(dir.clone(), rec))),
        Some(Point::Group(rec)) => Some(Node::Group(Group::new(dir.clone(), rec))),
        None => None,
    })
}

/// The organization `id` names (its global id or its slug) among those the caller may see;
/// with no `id`, the gateway's only one. `None` when it does not exist or is out of scope.
pub(crate) fn find_org(ctx: &Context<'_>, id: Option<ID>) -> Result<Option<DirHandle>> {
    let dirs = ctx.data::<Directories<DirHandle>>()?;
    let dir = match id {
        None => match dirs.all() {
            [only] => Some(only),
            _ => {
                return Err(bad_input(
                    "this gateway serves several organizations: give `id`",
                ));
            }
        },
        Some(id) => match GlobalId::decode(&id) {
            Some(g) if g.kind == Kind::Org => dirs.get(&g.org),
            Some(_) => None,
            None => dirs.get(id.as_str()),
        },
    };
    Ok(dir.cloned())
}
