//! `extensions.cost`, on the answer of a request that asks for it (`"extensions": {"cost":
//! true}` in the request, or the header `x-scimgate-cost: 1`): what answering it cost where it
//! matters here, the upstream, and how fresh what it read was.
//!
//! `upstreamCalls` counts the requests sent upstream on this request's behalf: its point reads
//! and its writes, retries included. A read another request had already started, which this
//! one shared (the point cache, a refresh), is counted by the request that started it; a
//! refresh is never counted, it runs in the background lane. `answeredFrom` is `CACHE` (the
//! response cache), `UPSTREAM` (at least one call) or `MIRROR`.

use async_graphql::Value;
use axum::http::HeaderMap;
use serde_json::json;

use super::AppState;
use crate::auth::Principal;
use crate::directory::DirectoryReads;
use crate::graphql;

/// The header that asks for the cost, as the `extensions` flag does.
pub(super) const HEADER: &str = "x-scimgate-cost";

/// Marks `request` as asking for its cost when the header says so.
pub(super) fn ask_by_header(headers: &HeaderMap, request: &mut async_graphql::Request) {
    if headers
        .get(HEADER)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| !matches!(v.trim(), "" | "0" | "false"))
    {
        request
            .extensions
            .insert("cost".into(), Value::Boolean(true));
    }
}

/// Whether `request` asks for its cost.
pub(super) fn wanted(request: &async_graphql::Request) -> bool {
    matches!(request.extensions.get("cost"), Some(Value::Boolean(true)))
}

/// The cost of an answer: `calls` made for it, `cached` when the response cache gave it, and
/// each organization the caller can see as it stands now.
pub(super) fn of(
    state: &AppState,
    principal: &Principal,
    calls: u32,
    cached: bool,
) -> serde_json::Value {
    let dirs = graphql::visible_handles(&state.schema, principal);
    let orgs: Vec<serde_json::Value> = dirs
        .all()
        .iter()
        .map(|dir| {
            let (mirror, _) = dir.sync();
            let budget = dir.budget();
            let age = mirror
                .snapshot
                .fetched_at
                .and_then(|t| t.elapsed().ok())
                .map(|a| (a.as_secs_f64() * 1_000.0).round() / 1_000.0);
            json!({
                "org": dir.org_id().as_str(),
                "mirror": {
                    "generation": mirror.generation,
                    "complete": mirror.snapshot.complete,
                    "ageSeconds": age,
                },
                "budget": {
                    "limit": budget.limit,
                    "windowSeconds": budget.window.as_secs_f64(),
                    "remaining": budget.remaining,
                    // What a read would wait for its slot now (0 while the window has room).
                    "nextSlotMs": u64::try_from(budget.expected_wait[2].as_millis()).unwrap_or(u64::MAX),
                },
            })
        })
        .collect();
    let from = if cached {
        "CACHE"
    } else if calls > 0 {
        "UPSTREAM"
    } else {
        "MIRROR"
    };
    json!({ "answeredFrom": from, "upstreamCalls": calls, "orgs": orgs })
}

/// `body` (a GraphQL answer as JSON text) with `cost` as its `extensions.cost`.
pub(super) fn with(body: String, cost: serde_json::Value) -> String {
    let Ok(mut answer) = serde_json::from_str::<serde_json::Value>(&body) else {
        return body;
    };
    let Some(object) = answer.as_object_mut() else {
        return body;
    };
    let extensions = object.entry("extensions").or_insert_with(|| json!({}));
    match extensions.as_object_mut() {
        Some(extensions) => {
            extensions.insert("cost".into(), cost);
            answer.to_string()
        }
        None => body,
    }
}
