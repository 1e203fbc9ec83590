//! Pages by intent: what a caller asks for (a filter, an order, a Relay window) and the one
//! decision of when a mirror still loading may answer it. GraphQL, the proxy and the REST view
//! ask these questions the same way.

use std::sync::Arc;

use super::{
    Directory, DirectoryError, GroupOrderField, GroupRec, Page, PageArgs, Snapshot, SortKey,
    Status, UserFilter, UserOrderField,
};

/// Lower-cased, or nothing when blank: how a search text is compared.
fn normalize_search(search: Option<String>) -> Option<String> {
    search.map(|s| s.to_lowercase()).filter(|s| !s.is_empty())
}

impl UserFilter {
    /// A filter as a caller states it: the search text is normalized here.
    pub(crate) fn new(
        search: Option<String>,
        status: Option<Status>,
        member_of: Option<String>,
        in_no_group: Option<bool>,
    ) -> UserFilter {
        UserFilter {
            search: normalize_search(search),
            status,
            member_of,
            in_no_group,
        }
    }
}

/// A page of users: which users, in which order, which window.
#[derive(Clone, Debug, Default)]
pub(crate) struct UserQuery {
    pub(crate) filter: UserFilter,
    pub(crate) order: UserOrderField,
    pub(crate) desc: bool,
    pub(crate) page: PageArgs,
}

/// A page of groups: a search over names, an order, a window.
#[derive(Clone, Debug, Default)]
pub(crate) struct GroupQuery {
    /// Normalized by `GroupQuery::new`.
    pub(crate) search: Option<String>,
    pub(crate) order: GroupOrderField,
    pub(crate) desc: bool,
    pub(crate) page: PageArgs,
}

impl GroupQuery {
    pub(crate) fn new(
        search: Option<String>,
        order: GroupOrderField,
        desc: bool,
        page: PageArgs,
    ) -> Self {
        GroupQuery {
            search: normalize_search(search),
            order,
            desc,
            page,
        }
    }
}

/// A page with the snapshot it was read from: positions in the page are positions in it.
pub(crate) struct SnapshotPage<T> {
    pub(crate) snapshot: Arc<Snapshot>,
    pub(crate) page: Page<T>,
}

impl UserQuery {
    /// Whether the pages read so far can answer this exactly while the mirror still loads: only
    /// the upstream's own order, forwards, unfiltered (each upstream page extends it in place).
    pub(crate) fn streams(&self) -> bool {
        self.order == UserOrderField::Directory
            && !self.desc
            && self.filter.is_empty()
            && self.page.last.is_none()
            && self.page.before.is_none()
    }
}

impl Directory {
    /// A page of users from the mirror. A mirror that has not loaded once answers a streaming
    /// query (`UserQuery::streams`) as soon as the users it needs (one more than the page, to
    /// know whether another follows) have arrived; every other query waits for the load.
    pub(crate) async fn page_users(
        &self,
        query: &UserQuery,
    ) -> Result<SnapshotPage<u32>, DirectoryError> {
        let snapshot = if query.streams() {
            let after = query.page.after.clone();
            let want = query.page.first.unwrap_or(0) + 1;
            self.snapshot_until(move |s| {
                let seen = match &after {
                    Some(SortKey::Seq(seq)) => s.users().partition_point(|u| u.seq <= *seq),
                    _ => 0,
                };
                s.user_count() >= seen + want
            })
            .await?
        } else {
            self.complete_snapshot().await?
        };
        // The gateway's own open invitations matter only to a status filter.
        let invites = if query.filter.status.is_some() {
            self.open_invites()
        } else {
            Default::default()
        };
        let page = snapshot.page_users(
            &query.filter,
            query.order,
            query.desc,
            &query.page,
            &invites,
        );
        Ok(SnapshotPage { snapshot, page })
    }

    /// A page of groups from the mirror, once the group list has loaded.
    pub(crate) async fn page_groups(
        &self,
        query: &GroupQuery,
    ) -> Result<SnapshotPage<Arc<GroupRec>>, DirectoryError> {
        let snapshot = self.snapshot_with_groups().await?;
        let page = snapshot.page_groups(
            query.search.as_deref(),
            query.order,
            query.desc,
            &query.page,
        );
        Ok(SnapshotPage { snapshot, page })
    }
}
