//! Time-bound group grants as GraphQL: `Grant` (a `Node`), its history, and `Org.grants`,
//! `User.grants` and `Group.grants`, paged newest first with opaque cursors.

use std::time::{Duration, UNIX_EPOCH};

use async_graphql::{Context, Enum, Error, ID, InputObject, Object, Result, SimpleObject};

use super::{DateTime, Group, User};
use crate::directory::{Directories, SortKey};
use crate::governance::Grants;
use crate::graphql::connection::{GRANT_ORDER, PageInfo, grant_cursor, page_args};
use crate::graphql::errors::{Code, bad_input};
use crate::graphql::ids::{GlobalId, Kind};
use crate::graphql::mutation::{group_of, user_of};
use crate::keys::GroupId;
use crate::store::{self, GrantFilter as StoreFilter, StoreError};

/// Where a grant is in its life.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum GrantState {
    /// Recorded; the membership is being added.
    Pending,
    /// The user has the group's access until `expiresAt`.
    Active,
    /// Ended at its time (the membership removed, unless it was standing or another grant
    /// still holds it).
    Expired,
    /// Ended early by `revokeGrant`.
    Revoked,
    /// The membership could not be added; nothing was granted (see `history`).
    Failed,
}

impl From<store::GrantState> for GrantState {
    fn from(s: store::GrantState) -> GrantState {
        match s {
            store::GrantState::Pending => GrantState::Pending,
            store::GrantState::Active => GrantState::Active,
            store::GrantState::Expired => GrantState::Expired,
            store::GrantState::Revoked => GrantState::Revoked,
            store::GrantState::Failed => GrantState::Failed,
        }
    }
}

impl From<GrantState> for store::GrantState {
    fn from(s: GrantState) -> store::GrantState {
        match s {
            GrantState::Pending => store::GrantState::Pending,
            GrantState::Active => store::GrantState::Active,
            GrantState::Expired => store::GrantState::Expired,
            GrantState::Revoked => store::GrantState::Revoked,
            GrantState::Failed => store::GrantState::Failed,
        }
    }
}

/// One change in a grant's life.
#[derive(SimpleObject)]
pub struct GrantHistoryEntry {
    pub at: DateTime,
    pub state: GrantState,
    /// What happened, in words.
    pub note: String,
}

/// Time-bound membership of a group: added when granted, removed at `expiresAt` by the
/// gateway's scheduler (in the organization's critical lane).
#[derive(Clone)]
pub struct Grant {
    pub row: Box<store::Grant>,
}

pub(crate) fn time(ms: i64) -> DateTime {
    DateTime(UNIX_EPOCH + Duration::from_millis(u64::try_from(ms).unwrap_or(0)))
}

pub(crate) fn ms_of(t: DateTime) -> i64 {
    t.0.duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// The grants service, or `STORE_UNAVAILABLE` when the gateway runs without one.
pub(crate) fn service<'a>(ctx: &Context<'a>) -> Result<&'a Grants> {
    ctx.data::<Option<Grants>>()?
        .as_ref()
        .ok_or_else(|| Code::StoreUnavailable.error(UNAVAILABLE))
}

const UNAVAILABLE: &str =
    "grants cannot be read now: the gateway's store is unavailable; try again later";

fn unavailable(e: StoreError) -> Error {
    tracing::error!(error = %e, "grants could not be read");
    Code::StoreUnavailable.error(UNAVAILABLE)
}

#[Object]
impl Grant {
    /// The grant's global id, for `Query.node`, `revokeGrant` and `extendGrant`.
    pub async fn id(&self) -> ID {
        ID(GlobalId::new(Kind::Grant, &self.row.org, &self.row.id).encode())
    }

    /// The user, while the organization has them; null once they are gone.
    async fn user(&self, ctx: &Context<'_>) -> Result<Option<User>> {
        let Some(dir) = ctx.data::<Directories>()?.get(self.row.org.as_str()) else {
            return Ok(None);
        };
        let key = dir.user_key(&self.row.user_key);
        Ok(Box::pin(dir.user(&key))
            .await
            .ok()
            .flatten()
            .map(|rec| User::new(dir.clone(), rec)))
    }

    /// The user's e-mail address when the grant was made.
    async fn user_email(&self) -> &str {
        &self.row.user_email
    }

    /// The user's key at the upstream.
    async fn user_key(&self) -> &str {
        &self.row.user_key
    }

    /// The group, while it exists.
    async fn group(&self, ctx: &Context<'_>) -> Result<Option<Group>> {
        let Some(dir) = ctx.data::<Directories>()?.get(self.row.org.as_str()) else {
            return Ok(None);
        };
        let id = GroupId::new(self.row.group_id.clone());
        Ok(Box::pin(dir.group(&id))
            .await
            .ok()
            .flatten()
            .map(|rec| Group::new(dir.clone(), rec)))
    }

    /// The group's id at the upstream.
    async fn group_upstream_id(&self) -> &str {
        &self.row.group_id
    }

    /// The API key that made the grant.
    async fn granted_by(&self) -> &str {
        &self.row.granted_by
    }

    async fn reason(&self) -> &str {
        &self.row.reason
    }

    async fn granted_at(&self) -> DateTime {
        time(self.row.granted_ms)
    }

    /// When the membership goes (or went).
    async fn expires_at(&self) -> DateTime {
        time(self.row.expires_ms)
    }

    /// When the grant ended, if it has.
    async fn ended_at(&self) -> Option<DateTime> {
        self.row.ended_ms.map(time)
    }

    async fn state(&self) -> GrantState {
        self.row.state.into()
    }

    /// The user was a member before the grant: its end removes nothing.
    async fn standing(&self) -> bool {
        self.row.standing
    }

    /// Past its end and still active: the removal failed and is being tried again with
    /// backoff (see `lastError`).
    async fn overdue(&self) -> bool {
        self.row.overdue(store::now_ms())
    }

    /// From the due time to the upstream's answer to the removal (or to the finding that
    /// nothing needed removing), in milliseconds: the revocation lag.
    async fn revocation_lag_ms(&self) -> Option<i64> {
        self.row.lag_ms
    }

    /// Failed removal attempts so far.
    async fn attempts(&self) -> i32 {
        i32::try_from(self.row.attempts).unwrap_or(i32::MAX)
    }

    /// Why the last removal attempt (or the grant's add) failed.
    async fn last_error(&self) -> Option<&str> {
        Some(self.row.last_error.as_str()).filter(|e| !e.is_empty())
    }

    /// Every change of state, oldest first.
    async fn history(&self, ctx: &Context<'_>) -> Result<Vec<GrantHistoryEntry>> {
        let events = service(ctx)?
            .store()
            .grant_events(&self.row.id)
            .await
            .map_err(unavailable)?;
        Ok(events
            .into_iter()
            .map(|e| GrantHistoryEntry {
                at: time(e.at_ms),
                state: e.state.into(),
                note: e.note,
            })
            .collect())
    }
}

/// Which grants to show; conditions combine with AND.
#[derive(InputObject, Default)]
pub struct GrantFilter {
    pub state: Option<GrantState>,
    /// The user (a User id, or an e-mail address).
    pub user_id: Option<ID>,
    /// The group (a Group id, or the upstream's id).
    pub group_id: Option<ID>,
    /// Grants that end before this time.
    pub expiring_before: Option<DateTime>,
}

/// An edge to a grant.
#[derive(SimpleObject)]
pub struct GrantEdge {
    pub cursor: String,
    pub node: Grant,
}

/// One page of grants, newest first.
#[derive(SimpleObject)]
pub struct GrantConnection {
    pub edges: Vec<GrantEdge>,
    pub page_info: Box<PageInfo>,
    /// Grants matching the filter, over all pages.
    pub total_count: i64,
}

/// `Org.grants`: a forward page of `org`'s grants, newest first.
pub async fn list(
    ctx: &Context<'_>,
    org: &crate::directory::Directory,
    first: Option<i32>,
    after: Option<String>,
    filter: Option<GrantFilter>,
) -> Result<GrantConnection> {
    let args = page_args(GRANT_ORDER, first, after, None, None)?;
    let after = match args.after {
        None => None,
        Some(SortKey::Text(mut k)) if k.len() == 1 => k.pop(),
        Some(_) => return Err(bad_input("`after` is not a cursor this gateway issued")),
    };
    let f = filter.unwrap_or_default();
    let dirs = ctx.data::<Directories>()?;
    let user_key = match &f.user_id {
        Some(id) => Some(
            user_of(dirs, id, Some(org), &["filter", "userId"])
                .await
                .map_err(|e| bad_input(e.message))?
                .1
                .into_string(),
        ),
        None => None,
    };
    let group_id = match &f.group_id {
        Some(id) => Some(
            group_of(dirs, id, Some(org), &["filter", "groupId"])
                .map_err(|e| bad_input(e.message))?
                .1
                .into_string(),
        ),
        None => None,
    };
    let filter = StoreFilter {
        org: org.org_id().to_string(),
        state: f.state.map(Into::into),
        user_key,
        group_id,
        expiring_before: f.expiring_before.map(ms_of),
    };
    page(ctx, filter, args.first, after).await
}

/// `User.grants` and `Group.grants`: a forward page of one user's or one group's grants in
/// `org`, newest first.
pub async fn list_of(
    ctx: &Context<'_>,
    org: &crate::directory::Directory,
    user_key: Option<&str>,
    group_id: Option<&str>,
    first: Option<i32>,
    after: Option<String>,
    state: Option<GrantState>,
) -> Result<GrantConnection> {
    let args = page_args(GRANT_ORDER, first, after, None, None)?;
    let after = match args.after {
        None => None,
        Some(SortKey::Text(mut k)) if k.len() == 1 => k.pop(),
        Some(_) => return Err(bad_input("`after` is not a cursor this gateway issued")),
    };
    let filter = StoreFilter {
        org: org.org_id().to_string(),
        state: state.map(Into::into),
        user_key: user_key.map(str::to_owned),
        group_id: group_id.map(str::to_owned),
        expiring_before: None,
    };
    page(ctx, filter, args.first, after).await
}

/// One page of the grants `filter` matches, after the grant `after`.
async fn page(
    ctx: &Context<'_>,
    filter: StoreFilter,
    first: Option<usize>,
    after: Option<String>,
) -> Result<GrantConnection> {
    let size = first.unwrap_or(50);
    let store = service(ctx)?.store();
    let limit = i64::try_from(size).unwrap_or(100).saturating_add(1);
    let mut rows = store
        .list_grants(&filter, after.as_deref(), limit)
        .await
        .map_err(unavailable)?;
    let more = rows.len() > size;
    rows.truncate(size);
    let total_count = store.count_grants(&filter).await.map_err(unavailable)?;
    let page_info = PageInfo::of_grants(
        more,
        after.is_some(),
        rows.first().map(|g| g.id.clone()),
        rows.last().map(|g| g.id.clone()),
    );
    Ok(GrantConnection {
        page_info: Box::new(page_info),
        edges: rows
            .into_iter()
            .map(|g| GrantEdge {
                cursor: grant_cursor(&g.id),
                node: Grant { row: Box::new(g) },
            })
            .collect(),
        total_count,
    })
}

/// `Query.node` for a grant of `org`.
pub async fn node(ctx: &Context<'_>, org: &str, key: &str) -> Result<Option<Grant>> {
    let row = service(ctx)?
        .store()
        .grant(key)
        .await
        .map_err(unavailable)?;
    Ok(row
        .filter(|g| g.org == org)
        .map(|g| Grant { row: Box::new(g) }))
}
