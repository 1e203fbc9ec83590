//! Access snapshots as GraphQL: `Snapshot` (a `Node`) and `Org.snapshots`, paged newest first
//! by sequence number with opaque cursors. Auditor and admin keys only.

use async_graphql::{Context, Enum, ID, Object, Result, SimpleObject};

use super::audit::seq_of;
use super::grant::time;
use super::{DateTime, store_failed, store_of};
use crate::directory::SortKey;
use crate::graphql::connection::{PageInfo, SNAPSHOT_ORDER, page_args};
use crate::graphql::guard::require_audit;
use crate::graphql::ids::{GlobalId, Kind, encode_cursor};
use crate::store::{self, SnapshotRow};

/// Why a snapshot was taken.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum SnapshotTrigger {
    /// By the organization's schedule (`[orgs.reviews] snapshot_every`).
    Schedule,
    /// By `takeSnapshot`.
    Manual,
    /// Frozen by `startAccessReview` as the review's access.
    Review,
}

impl From<store::SnapshotTrigger> for SnapshotTrigger {
    fn from(t: store::SnapshotTrigger) -> Self {
        match t {
            store::SnapshotTrigger::Schedule => SnapshotTrigger::Schedule,
            store::SnapshotTrigger::Manual => SnapshotTrigger::Manual,
            store::SnapshotTrigger::Review => SnapshotTrigger::Review,
        }
    }
}

/// An organization's access at one moment: every user (e-mail, names, status) with its
/// groups, as the mirror held them, kept in the store. Snapshots are hash-chained per
/// organization: `hash` covers `previousHash`, the metadata and the content.
#[derive(Clone)]
pub struct Snapshot {
    pub row: Box<SnapshotRow>,
}

pub(crate) const WHAT: &str = "snapshots";

#[Object]
impl Snapshot {
    /// The snapshot's global id, for `Query.node` and `snapshotDiff`.
    pub async fn id(&self) -> ID {
        ID(GlobalId::new(Kind::Snapshot, &self.row.org, &self.row.seq.to_string()).encode())
    }

    /// Its position in the organization's chain: 1, 2, 3…
    async fn seq(&self) -> i64 {
        self.row.seq
    }

    async fn taken_at(&self) -> DateTime {
        time(self.row.taken_at_ms)
    }

    async fn trigger(&self) -> SnapshotTrigger {
        self.row.trigger.into()
    }

    /// The API key that took it, or `system` for a scheduled one.
    async fn taken_by(&self) -> &str {
        &self.row.taken_by
    }

    async fn user_count(&self) -> i64 {
        self.row.user_count
    }

    async fn group_count(&self) -> i64 {
        self.row.group_count
    }

    /// When the mirror it was taken from had been fetched from the upstream (null: the
    /// mirror had not loaded yet).
    async fn mirror_fetched_at(&self) -> Option<DateTime> {
        self.row.mirror_fetched_at_ms.map(time)
    }

    /// Whether the mirror held every user and group when it was taken.
    async fn complete(&self) -> bool {
        self.row.complete
    }

    /// SHA-256 over `previousHash`, the metadata and the canonical content, hex.
    async fn hash(&self) -> &str {
        &self.row.hash
    }

    /// The hash of the organization's snapshot before this one (64 zeros for the first).
    async fn previous_hash(&self) -> &str {
        &self.row.previous_hash
    }

    /// SHA-256 of the canonical content alone, hex: equal for snapshots of the same access.
    async fn content_hash(&self) -> &str {
        &self.row.content_hash
    }

    /// The bytes the content takes in the store (gzipped).
    async fn stored_bytes(&self) -> i64 {
        self.row.stored_bytes
    }
}

/// An edge to a snapshot.
#[derive(SimpleObject)]
pub struct SnapshotEdge {
    /// Where this edge stands; pass it as `after` or `before`.
    pub cursor: String,
    pub node: Snapshot,
}

/// One page of snapshots, newest first.
#[derive(SimpleObject)]
pub struct SnapshotConnection {
    pub edges: Vec<SnapshotEdge>,
    pub page_info: Box<PageInfo>,
    /// Snapshots of the organization kept, over all pages.
    pub total_count: i64,
}

/// `Org.snapshots`: a page of `org`'s snapshots, newest first. Forward pages walk to older
/// snapshots, backward ones (`last`/`before`) to newer.
pub async fn list(
    ctx: &Context<'_>,
    org: &str,
    first: Option<i32>,
    after: Option<String>,
    last: Option<i32>,
    before: Option<String>,
) -> Result<SnapshotConnection> {
    let args = page_args(SNAPSHOT_ORDER, first, after, last, before)?;
    let after = seq_of(args.after, "after")?;
    let before = seq_of(args.before, "before")?;
    let store = store_of(ctx, WHAT)?;
    let backward = args.last.is_some();
    let size = args.last.or(args.first).unwrap_or_default();
    let limit = i64::try_from(size).unwrap_or(i64::MAX).saturating_add(1);
    // Newest first: rows after a cursor are older (lower numbers), rows before it newer.
    let mut rows = store
        .snapshots_page(org, before, after, !backward, limit)
        .await
        .map_err(store_failed(WHAT))?;
    let more = rows.len() > size;
    rows.truncate(size);
    if backward {
        rows.reverse();
    }
    let exists = |above: Option<i64>, below: Option<i64>| async move {
        store
            .snapshots_page(org, above, below, false, 1)
            .await
            .map(|r| !r.is_empty())
            .map_err(store_failed(WHAT))
    };
    let (has_next_page, has_previous_page) = if backward {
        let older = match before {
            Some(b) => exists(None, Some(b.saturating_add(1))).await?,
            None => false,
        };
        (older, more)
    } else {
        let newer = match after {
            Some(a) => exists(Some(a.saturating_sub(1)), None).await?,
            None => false,
        };
        (more, newer)
    };
    let total_count = store
        .count_snapshots(org)
        .await
        .map_err(store_failed(WHAT))?;
    let seq = |r: &SnapshotRow| u64::try_from(r.seq).unwrap_or(0);
    let page_info = PageInfo::of_seq(
        SNAPSHOT_ORDER,
        has_next_page,
        has_previous_page,
        rows.first().map(seq),
        rows.last().map(seq),
    );
    Ok(SnapshotConnection {
        page_info: Box::new(page_info),
        edges: rows
            .into_iter()
            .map(|r| SnapshotEdge {
                cursor: encode_cursor(SNAPSHOT_ORDER, &SortKey::Seq(seq(&r))),
                node: Snapshot { row: Box::new(r) },
            })
            .collect(),
        total_count,
    })
}

/// `Query.node` for a snapshot of `org` (`key`: its sequence number); only for keys that may
/// read snapshots.
pub async fn node(ctx: &Context<'_>, org: &str, key: &str) -> Result<Option<Snapshot>> {
    require_audit(ctx)?;
    let Ok(seq) = key.parse::<i64>() else {
        return Ok(None);
    };
    let row = store_of(ctx, WHAT)?
        .snapshot(org, seq)
        .await
        .map_err(store_failed(WHAT))?;
    Ok(row.map(|r| Snapshot { row: Box::new(r) }))
}
