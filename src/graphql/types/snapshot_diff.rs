//! `Org.snapshotDiff`: what changed between two snapshots, or from a snapshot to the mirror
//! now, as a connection of changes (by kind, then user id, then group id; cursors are
//! positions in that order) with totals and counts per group.

use async_graphql::{Context, Enum, ID, Result, SimpleObject};

use super::snapshot::{Snapshot, WHAT};
use super::{store_failed, store_of};
use crate::directory::{DirHandle, DirectoryReads, SortKey};
use crate::governance::snapshots::{self, ChangeKind, Content};
use crate::graphql::connection::{PageInfo, SNAPSHOT_DIFF_ORDER, page_args};
use crate::graphql::errors::{self, Code, bad_input};
use crate::graphql::ids::{GlobalId, Kind, encode_cursor};

/// The kind of a change between two snapshots.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum SnapshotChangeKind {
    /// A user who was not there before (and is not INVITED: see `USER_INVITED`).
    UserAdded,
    /// A user who is no longer there (Amplitude removes a deactivated user).
    UserRemoved,
    /// ACTIVE or INVITED before, DEACTIVATED after.
    UserDeactivated,
    /// DEACTIVATED before, ACTIVE or INVITED after.
    UserReactivated,
    /// A user who was not there before, INVITED (not joined yet).
    UserInvited,
    /// A user became a member of a group (a new user's groups included).
    MembershipGranted,
    /// A user left a group (a removed user's groups, and a deleted group's members, included).
    MembershipRevoked,
}

impl From<ChangeKind> for SnapshotChangeKind {
    fn from(k: ChangeKind) -> Self {
        match k {
            ChangeKind::UserAdded => SnapshotChangeKind::UserAdded,
            ChangeKind::UserRemoved => SnapshotChangeKind::UserRemoved,
            ChangeKind::UserDeactivated => SnapshotChangeKind::UserDeactivated,
            ChangeKind::UserReactivated => SnapshotChangeKind::UserReactivated,
            ChangeKind::UserInvited => SnapshotChangeKind::UserInvited,
            ChangeKind::MembershipGranted => SnapshotChangeKind::MembershipGranted,
            ChangeKind::MembershipRevoked => SnapshotChangeKind::MembershipRevoked,
        }
    }
}

/// One change.
#[derive(SimpleObject)]
pub struct SnapshotChange {
    pub kind: SnapshotChangeKind,
    /// The user's global id (a `User` while the organization has them).
    pub user_id: ID,
    pub email: String,
    /// For membership changes: the group's global id.
    pub group_id: Option<ID>,
    /// For membership changes: the group's name (the later one when it was renamed).
    pub group_name: Option<String>,
}

/// An edge to a change.
#[derive(SimpleObject)]
pub struct SnapshotChangeEdge {
    /// Where this edge stands; pass it as `after`.
    pub cursor: String,
    pub node: SnapshotChange,
}

/// How many changes of each kind, over all pages.
#[derive(SimpleObject)]
pub struct SnapshotDiffTotals {
    /// New users who are not INVITED.
    pub users_added: i32,
    pub users_removed: i32,
    pub users_deactivated: i32,
    /// New users whose status is INVITED.
    pub users_invited: i32,
    pub users_reactivated: i32,
    pub memberships_granted: i32,
    pub memberships_revoked: i32,
}

/// Membership changes of one group.
#[derive(SimpleObject)]
pub struct SnapshotGroupChanges {
    /// The group's global id.
    pub group_id: ID,
    pub group_name: String,
    pub granted: i32,
    pub revoked: i32,
}

/// The changes from one snapshot to another (or to the mirror now), one page of them.
#[derive(SimpleObject)]
pub struct SnapshotDiffConnection {
    /// The earlier snapshot.
    pub from: Snapshot,
    /// The later snapshot; null when compared with the mirror now.
    pub to: Option<Snapshot>,
    /// Over all pages.
    pub totals: SnapshotDiffTotals,
    /// Groups with a membership change, by id, over all pages.
    pub by_group: Vec<SnapshotGroupChanges>,
    pub edges: Vec<SnapshotChangeEdge>,
    pub page_info: Box<PageInfo>,
    /// Changes over all pages.
    pub total_count: i32,
}

fn count(n: usize) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

/// The snapshot a global id names in `org`, with its content.
async fn load(ctx: &Context<'_>, org: &str, id: &ID, field: &str) -> Result<(Snapshot, Content)> {
    let seq = match GlobalId::decode(id) {
        Some(g) if g.kind == Kind::Snapshot && g.org.as_str() == org => g.key.parse::<i64>().ok(),
        _ => None,
    }
    .ok_or_else(|| {
        bad_input(format!(
            "`{field}` is not a Snapshot id of organization {org:?}"
        ))
    })?;
    let store = store_of(ctx, WHAT)?;
    let not_found = || {
        Code::NotFound.error(format!(
            "`{field}`: no such snapshot (it may have passed its retention)"
        ))
    };
    let row = store
        .snapshot(org, seq)
        .await
        .map_err(store_failed(WHAT))?
        .ok_or_else(not_found)?;
    let content = snapshots::content_of(store, org, seq)
        .await
        .map_err(store_failed(WHAT))?
        .ok_or_else(not_found)?;
    Ok((Snapshot { row: Box::new(row) }, content))
}

/// `Org.snapshotDiff`: `from` to `to` (or to the mirror now, once it has loaded), a forward
/// page of the changes.
pub async fn diff(
    ctx: &Context<'_>,
    dir: &DirHandle,
    from: ID,
    to: Option<ID>,
    first: Option<i32>,
    after: Option<String>,
) -> Result<SnapshotDiffConnection> {
    let org = dir.org_id().as_str();
    let args = page_args(SNAPSHOT_DIFF_ORDER, first, after, None, None)?;
    let start = match args.after {
        None => 0,
        Some(SortKey::Seq(n)) => usize::try_from(n).unwrap_or(usize::MAX).saturating_add(1),
        Some(SortKey::Text(_)) => {
            return Err(bad_input("`after` is not a cursor this gateway issued"));
        }
    };
    let size = args.first.unwrap_or_default();
    let (from, before) = load(ctx, org, &from, "from").await?;
    let (to, after) = match &to {
        Some(id) => {
            let (s, c) = load(ctx, org, id, "to").await?;
            (Some(s), c)
        }
        None => {
            let mirror = dir
                .complete_snapshot()
                .await
                .map_err(|e| errors::directory(org, e))?;
            (
                None,
                snapshots::content_now(mirror, |k| dir.has_open_invite(k)).await,
            )
        }
    };
    let d = snapshots::diff(&before, &after);
    let total = d.changes.len();
    let user_id = |key: &str| ID(GlobalId::new(Kind::User, org, key).encode());
    let group_id = |key: &str| ID(GlobalId::new(Kind::Group, org, key).encode());
    let end = start.saturating_add(size).min(total);
    let cursor = |i: usize| encode_cursor(SNAPSHOT_DIFF_ORDER, &SortKey::Seq(i as u64));
    let edges: Vec<SnapshotChangeEdge> = d
        .changes
        .iter()
        .enumerate()
        .take(end)
        .skip(start)
        .map(|(i, c)| SnapshotChangeEdge {
            cursor: cursor(i),
            node: SnapshotChange {
                kind: c.kind.into(),
                user_id: user_id(&c.user_id),
                email: c.email.clone(),
                group_id: c.group_id.as_deref().map(group_id),
                group_name: c.group_name.clone(),
            },
        })
        .collect();
    let page_info = PageInfo::of_seq(
        SNAPSHOT_DIFF_ORDER,
        end < total,
        start > 0,
        (start < end).then_some(start as u64),
        (start < end).then(|| (end - 1) as u64),
    );
    let t = d.totals;
    Ok(SnapshotDiffConnection {
        from,
        to,
        totals: SnapshotDiffTotals {
            users_added: count(t.users_added),
            users_removed: count(t.users_removed),
            users_deactivated: count(t.users_deactivated),
            users_invited: count(t.users_invited),
            users_reactivated: count(t.users_reactivated),
            memberships_granted: count(t.memberships_granted),
            memberships_revoked: count(t.memberships_revoked),
        },
        by_group: d
            .by_group
            .iter()
            .map(|g| SnapshotGroupChanges {
                group_id: group_id(&g.group_id),
                group_name: g.group_name.clone(),
                granted: count(g.granted),
                revoked: count(g.revoked),
            })
            .collect(),
        edges,
        page_info: Box::new(page_info),
        total_count: count(total),
    })
}
