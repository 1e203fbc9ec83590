//! The subscription root: an organization's directory events as they are recorded, over
//! graphql-transport-ws (`/graphql/ws`) and over SSE (`/graphql` with
//! `Accept: text/event-stream`). Each event comes from the durable log, in order and without
//! gaps; a client that keeps the last cursor resumes exactly there.

use async_graphql::{Context, ID, Result, Subscription as SubscriptionRoot};
use futures_util::Stream;

use super::connection::{EVENT_ORDER, page_args};
use super::errors::{Code, bad_input};
use super::guard::RoleGuard;
use super::query::find_org;
use super::types::audit::seq_of;
use super::types::event::{DirectoryEventEdge, MAX_KINDS, edge_of};
use super::types::{store_failed, store_of};
use crate::auth::Role;
use crate::directory::DirectoryReads;
use crate::store::FollowError;

pub struct Subscription;

#[SubscriptionRoot]
impl Subscription {
    /// The organization's directory events (the same as `Org.events`), one edge per event as
    /// it is recorded, oldest first. `after` (an edge's cursor) resumes right after that
    /// event: nothing lost, nothing repeated, including events recorded while the client was
    /// away; without it the subscription starts with the next event. `kinds` keeps only those
    /// kinds. `org` is the organization's global id or slug (optional when the gateway serves
    /// one). A resume after an event past `events.retention` is refused with
    /// `EVENTS_EXPIRED`, and so is a subscriber that falls that far behind: the events
    /// between are gone, so read the directory again and subscribe without `after`.
    #[graphql(guard = "RoleGuard(Role::Read)")]
    async fn directory_events(
        &self,
        ctx: &Context<'_>,
        org: Option<ID>,
        after: Option<String>,
        kinds: Option<Vec<String>>,
    ) -> Result<impl Stream<Item = Result<DirectoryEventEdge>> + use<>> {
        let dir =
            find_org(ctx, org)?.ok_or_else(|| Code::NotFound.error("no such organization"))?;
        let after = seq_of(
            page_args(EVENT_ORDER, Some(0), after, None, None)?.after,
            "after",
        )?;
        let kinds = kinds.unwrap_or_default();
        if kinds.len() > MAX_KINDS {
            return Err(bad_input(format!(
                "`kinds` may name at most {MAX_KINDS} kinds, got {}",
                kinds.len()
            )));
        }
        let store = store_of(ctx, "the event log")?;
        let follow = store
            .follow_events(dir.org_id().as_str(), after, kinds)
            .await
            .map_err(followed)?;
        Ok(futures_util::stream::unfold(
            Some(follow),
            |state| async move {
                let mut follow = state?;
                match follow.next().await {
                    Ok(event) => Some((Ok(edge_of(Box::new((*event).clone()))), Some(follow))),
                    // The error is the subscription's last message.
                    Err(e) => Some((Err(followed(e)), None)),
                }
            },
        ))
    }
}

fn followed(e: FollowError) -> async_graphql::Error {
    match e {
        FollowError::Expired(through) => Code::EventsExpired.error(format!(
            "the events after this cursor (up to event {through}) are past the log's retention and were removed; read the directory again and subscribe without `after`"
        )),
        FollowError::Store(e) => store_failed("the event log")(e),
    }
}
