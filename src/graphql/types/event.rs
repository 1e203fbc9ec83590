//! The directory event log as GraphQL: `Org.events` pages an organization's events oldest
//! first by sequence number, so a client that keeps its last cursor resumes exactly where it
//! left off; `last` without `before` gives the newest.

use std::time::{Duration, UNIX_EPOCH};

use async_graphql::{Context, ID, Json, Object, Result, SimpleObject};

use super::audit::seq_of;
use super::{DateTime, store_failed, store_of};
use crate::graphql::connection::{EVENT_ORDER, PageInfo, event_cursor, page_args};
use crate::graphql::errors::{Code, bad_input};
use crate::graphql::ids::{GlobalId, Kind};
use crate::store::{self, Resume};

/// Most kinds one request may filter on.
pub(crate) const MAX_KINDS: usize = 50;

/// One thing that happened in an organization: the gateway's own writes (`user.invited`,
/// `user.updated`, `user.deactivated`, `user.deleted`, `group.created`, `group.renamed`,
/// `group.deleted`, `group.members_added`, `group.members_removed`) and the life of time-bound
/// grants (`grant.granted`, `grant.extended`, `grant.expiring`, `grant.expired`,
/// `grant.revoked`, `grant.failed`, `grant.overdue`), and what a refresh found changed behind
/// the gateway's back (actor `refresh`: `user.added`, `user.removed`, `user.deactivated`,
/// `user.renamed`, `group.created`, `group.renamed`, `group.deleted`, `group.members_added`,
/// `group.members_removed`), and each access snapshot taken (`snapshot.taken`, actor the key
/// or `system` for a scheduled one). Kept `events.retention` (default 30 days).
pub struct DirectoryEvent {
    event: Box<store::Event>,
}

/// An edge to an event: the event and where it stands.
#[derive(SimpleObject)]
pub struct DirectoryEventEdge {
    /// Where this edge stands; pass it as `after` to resume after this event.
    pub cursor: String,
    /// The event.
    pub node: DirectoryEvent,
}

/// One page of events, oldest first.
#[derive(SimpleObject)]
pub struct DirectoryEventConnection {
    /// The events of this page, oldest first.
    pub edges: Vec<DirectoryEventEdge>,
    /// Where this page stands in the whole log.
    pub page_info: Box<PageInfo>,
}

#[Object]
impl DirectoryEvent {
    /// The event's place in its organization's log: 1, 2, 3, … without gaps.
    async fn seq(&self) -> i64 {
        self.event.seq
    }

    /// When it happened.
    async fn at(&self) -> DateTime {
        let ms = u64::try_from(self.event.at_ms).unwrap_or(0);
        DateTime(UNIX_EPOCH + Duration::from_millis(ms))
    }

    /// What happened, dotted: `grant.expiring`.
    async fn kind(&self) -> &str {
        &self.event.kind
    }

    /// The kind of object it happened to: `Grant`.
    async fn subject_kind(&self) -> &str {
        match self.event.object_kind.as_str() {
            "grant" => "Grant",
            "user" => "User",
            "group" => "Group",
            "snapshot" => "Snapshot",
            other => other,
        }
    }

    /// The object's global id, for `Query.node` (a grant's, for grant events).
    async fn subject_id(&self) -> ID {
        let e = &self.event;
        let kind = match e.object_kind.as_str() {
            "user" => Kind::User,
            "group" => Kind::Group,
            "snapshot" => Kind::Snapshot,
            _ => Kind::Grant,
        };
        ID(GlobalId::new(kind, &e.org, &e.object_id).encode())
    }

    /// The API key's name that caused it, or `system` (the scheduler, a refresh).
    async fn actor(&self) -> &str {
        &self.event.actor
    }

    /// The event's details as JSON: for writes `outcome`, `requestId`, `email` (users),
    /// `users` (the users a group write named) and the `input`; for grant events the grant's
    /// store id, the user's key and
    /// e-mail, the group's id, `expiresAtMs`, `reason`, `grantedBy`, and per kind `note`,
    /// `lagMs` (expired, revoked), `warnBeforeMs` and `remainingMs` (expiring), `error` and
    /// `nextTryAtMs` (overdue); for `snapshot.taken` the snapshot's `seq`, `trigger`,
    /// `userCount`, `groupCount`, `complete` and `hash`.
    async fn data(&self) -> Json<serde_json::Value> {
        Json(serde_json::from_str(&self.event.data).unwrap_or(serde_json::Value::Null))
    }
}

/// The edge of one event, as a subscription gives it.
pub(crate) fn edge_of(event: Box<store::Event>) -> DirectoryEventEdge {
    DirectoryEventEdge {
        cursor: event_cursor(u64::try_from(event.seq).unwrap_or(0)),
        node: DirectoryEvent { event },
    }
}

/// `Org.events`: a page of `org`'s events. Forward pages (`first`/`after`) walk to newer
/// events; backward ones (`last`/`before`) to older. Resuming `after` an event that retention
/// has removed since is refused with `EVENTS_EXPIRED`: the events between are gone.
pub async fn list(
    ctx: &Context<'_>,
    org: &str,
    first: Option<i32>,
    after: Option<String>,
    last: Option<i32>,
    before: Option<String>,
    kinds: Option<Vec<String>>,
) -> Result<DirectoryEventConnection> {
    let args = page_args(EVENT_ORDER, first, after, last, before)?;
    let after = seq_of(args.after, "after")?;
    let before = seq_of(args.before, "before")?;
    let kinds = kinds.unwrap_or_default();
    if kinds.len() > MAX_KINDS {
        return Err(bad_input(format!(
            "`kinds` may name at most {MAX_KINDS} kinds, got {}",
            kinds.len()
        )));
    }
    let backward = args.last.is_some();
    let size = args.last.or(args.first).unwrap_or_default();
    let from = if backward {
        Resume::Before(before.unwrap_or(i64::MAX))
    } else {
        Resume::After(after.unwrap_or(0))
    };
    let limit = i64::try_from(size).unwrap_or(i64::MAX).saturating_add(1);
    let mut page = store_of(ctx, "the event log")?
        .events_page(org, &kinds, from, limit)
        .await
        .map_err(store_failed("the event log"))?;
    if let Some(after) = after
        && after < page.pruned_through
    {
        return Err(Code::EventsExpired.error(format!(
            "the events after this cursor (up to event {}) are past the log's retention and were removed; start again from the oldest kept (no `after`) and reconcile by reading",
            page.pruned_through
        )));
    }
    let more = page.events.len() > size;
    page.events.truncate(size);
    if backward {
        page.events.reverse();
    }
    let (has_next_page, has_previous_page) = if backward {
        (before.is_some_and(|b| b <= page.head), more)
    } else {
        (more, after.is_some_and(|a| a > page.pruned_through))
    };
    let seq = |e: &store::Event| u64::try_from(e.seq).unwrap_or(0);
    let page_info = PageInfo::of_seq(
        EVENT_ORDER,
        has_next_page,
        has_previous_page,
        page.events.first().map(seq),
        page.events.last().map(seq),
    );
    Ok(DirectoryEventConnection {
        page_info: Box::new(page_info),
        edges: page
            .events
            .into_iter()
            .map(|e| DirectoryEventEdge {
                cursor: event_cursor(seq(&e)),
                node: DirectoryEvent { event: Box::new(e) },
            })
            .collect(),
    })
}
