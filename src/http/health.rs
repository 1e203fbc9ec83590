//! `/healthz` (the process is up) and `/readyz` (every organization's credential is accepted
//! and its mirror has loaded once). Only an admin key sees `/readyz`'s per-organization detail.

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
    let ready = state.dirs.all().iter().all(|d| d.is_ready());
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let mut body = json!({ "status": if ready { "ready" } else { "not ready" } });
    let admin =
        super::graphql::authenticate(&state, &headers).is_some_and(|p| p.role >= Role::Admin);
    if admin {
        body["orgs"] = state.dirs.all().iter().map(detail).collect();
    }
    (status, Json(body))
}

/// One organization's readiness detail: its mirror, credential and refresh health.
fn detail(d: &Directory) -> Value {
    let mirror = d.state();
    json!({
        "org": d.org_id(),
        "ready": d.is_ready(),
        "mirrorLoaded": mirror.snapshot.complete,
        "credentialRevoked": d.credential_revoked(),
        "refreshing": mirror.refreshing,
        "refreshFailures": mirror.refresh_failures,
        "lastError": mirror.last_error.as_ref().map(|e| e.to_string()),
        "restarts": mirror.restarts,
    })
}
