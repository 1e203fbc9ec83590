//! `/healthz` (the process is up) and `/readyz` (every organization's credential is accepted
//! and its mirror has loaded once; `degraded` while the store cannot be written). Only an
//! admin key sees `/readyz`'s per-organization detail.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use serde_json::{Value, json};

use super::AppState;
use crate::auth::Role;
use crate::directory::Directory;

pub(crate) async fn healthz() -> impl IntoResponse {
    Json(json!({ "status": "ok" }))
}

/// Ready or not, for anyone (probes send no key); with an admin key, each organization's
/// state too. Any other caller, with or without a key, gets the short form: the slugs of the
/// organizations served and their credentials' state are not for every client to see.
pub(crate) async fn readyz(State(state): State<AppState>, headers: HeaderMap) -> impl IntoResponse {
    // A store that cannot be written means every write is refused (reads still work).
    let store_ok = match &state.store {
        Some(store) if !store.writable() => store.ping().await,
        _ => true,
    };
    let ready = state.dirs.all().iter().all(|d| d.is_ready());
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    // Without the store, reads are served and writes refused: `degraded`, still 200, so a
    // load balancer keeps sending the reads that work.
    let word = match (ready, store_ok) {
        (false, _) => "not ready",
        (true, false) => "degraded",
        (true, true) => "ready",
    };
    let mut body = json!({ "status": word });
    let admin =
        super::graphql::authenticate(&state, &headers).is_some_and(|p| p.role >= Role::Admin);
    if admin {
        body["orgs"] = state.dirs.all().iter().map(detail).collect();
        if let Some(store) = &state.store {
            body["store"] = json!({
                "backend": format!("{:?}", store.backend()).to_lowercase(),
                "url": store.shown_url(),
                "writable": store_ok,
            });
        }
    }
    if !store_ok {
        body["writes"] = json!("refused: the store cannot be written");
    }
    (status, Json(body))
}

/// One organization's readiness detail: its mirror, credential and refresh health.
fn detail(d: &Directory) -> Value {
    let mirror = d.state();
    json!({
        "org": d.org_id().as_str(),
        "ready": d.is_ready(),
        "mirrorLoaded": mirror.snapshot.complete,
        "credentialRevoked": d.credential_revoked(),
        "refreshing": mirror.refreshing,
        "refreshFailures": mirror.refresh_failures,
        "lastError": mirror.last_error.as_ref().map(|e| e.to_string()),
        "restarts": mirror.restarts,
    })
}
