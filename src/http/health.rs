//! `/healthz` (the process is up) and `/readyz` (every organization's credential is accepted
//! and its mirror has loaded once).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde_json::json;

use super::AppState;

pub async fn healthz() -> impl IntoResponse {
    Json(json!({ "status": "ok" }))
}

pub async fn readyz(State(state): State<AppState>) -> impl IntoResponse {
    let orgs: Vec<_> = state
        .dirs
        .all()
        .iter()
        .map(|d| {
            let budget = d.budget();
            json!({
                "org": d.org_id(),
                "ready": d.is_ready(),
                "mirrorLoaded": d.snapshot().complete,
                "credentialRevoked": budget.credential_revoked,
            })
        })
        .collect();
    let ready = state.dirs.all().iter().all(|d| d.is_ready());
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        Json(json!({ "status": if ready { "ready" } else { "not ready" }, "orgs": orgs })),
    )
}
