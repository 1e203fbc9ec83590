//! The `/_emulator` control surface for tests and demos: stats, request log, faults, reset,
//! accepting invites and changing the directory behind the gateway's back (no auth, no budget).

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;

use super::config::{Faults, LoggedRequest, Stats};
use super::errors::{ScimError, parse_json};
use super::state::EmulatorState;
use crate::scim::wire::User;

pub(crate) const ADMIN_PATH: &str = "/_emulator";

pub(crate) fn routes() -> Router<EmulatorState> {
    Router::new()
        .route(&format!("{ADMIN_PATH}/health"), get(|| async { "ok" }))
        .route(&format!("{ADMIN_PATH}/stats"), get(stats))
        .route(&format!("{ADMIN_PATH}/requests"), get(requests))
        .route(&format!("{ADMIN_PATH}/members"), get(members))
        .route(
            &format!("{ADMIN_PATH}/faults"),
            post(set_faults).get(faults),
        )
        .route(&format!("{ADMIN_PATH}/reset"), post(reset))
        .route(&format!("{ADMIN_PATH}/accept"), post(accept))
        .route(&format!("{ADMIN_PATH}/state"), get(state))
        .route(&format!("{ADMIN_PATH}/users"), post(add_user))
        .route(
            &format!("{ADMIN_PATH}/users/{{email}}"),
            delete(remove_user),
        )
}

async fn stats(State(s): State<EmulatorState>) -> Json<Stats> {
    Json(s.stats())
}

/// The memberships PATCHes changed, in order.
async fn members(State(s): State<EmulatorState>) -> Json<Vec<super::config::MemberChange>> {
    Json(s.member_changes())
}

async fn requests(State(s): State<EmulatorState>) -> Json<Vec<LoggedRequest>> {
    Json(s.requests())
}

async fn faults(State(s): State<EmulatorState>) -> Json<Faults> {
    Json(s.faults())
}

async fn set_faults(
    State(s): State<EmulatorState>,
    body: Bytes,
) -> Result<Json<Faults>, ScimError> {
    let faults: Faults = serde_json::from_value(parse_json(&body)?)
        .map_err(|e| ScimError::invalid_value(format!("invalid faults: {e}")))?;
    let rates_ok = [faults.error_rate, faults.timeout_rate]
        .iter()
        .all(|r| (0.0..=1.0).contains(r));
    if !rates_ok || !faults.force_429_secs.is_finite() || faults.force_429_secs < 0.0 {
        return Err(ScimError::invalid_value(
            "rates must be within 0..=1 and force_429_secs >= 0",
        ));
    }
    s.set_faults(faults.clone());
    Ok(Json(faults))
}

async fn reset(State(s): State<EmulatorState>) -> StatusCode {
    s.reset();
    StatusCode::NO_CONTENT
}

#[derive(Deserialize)]
struct AcceptRequest {
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    all: bool,
}

async fn accept(State(s): State<EmulatorState>, body: Bytes) -> Result<Response, ScimError> {
    let request: AcceptRequest = serde_json::from_value(parse_json(&body)?).map_err(|e| {
        ScimError::invalid_value(format!("expected {{\"email\"}} or {{\"all\": true}}: {e}"))
    })?;
    let accepted = match (request.all, request.email) {
        (true, _) => s.accept_all(),
        (false, Some(email)) => usize::from(s.accept(&email)),
        (false, None) => {
            return Err(ScimError::invalid_value(
                "expected {\"email\"} or {\"all\": true}",
            ));
        }
    };
    Ok(Json(json!({ "accepted": accepted })).into_response())
}

async fn state(State(s): State<EmulatorState>) -> Response {
    Json(json!({ "users": s.users(), "groups": s.groups(), "pending": s.pending() }))
        .into_response()
}

async fn add_user(State(s): State<EmulatorState>, body: Bytes) -> Result<Response, ScimError> {
    let user: User = serde_json::from_value(parse_json(&body)?)
        .map_err(|e| ScimError::invalid_value(format!("invalid user: {e}")))?;
    let user = s.add_accepted_user(user)?;
    Ok((StatusCode::CREATED, Json(user)).into_response())
}

async fn remove_user(
    State(s): State<EmulatorState>,
    Path(email): Path<String>,
) -> Result<StatusCode, ScimError> {
    if s.remove_user(&email) {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ScimError::not_found(format!("no user {email}")))
    }
}
