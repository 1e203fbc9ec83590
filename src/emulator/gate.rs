//! The middleware in front of every SCIM route: request log and stats, bearer check, the
//! sliding-window rate limit per token, and injected faults (latency, 500s, hangs, forced 429s).
//! The books it keeps are `traffic::GateState`, held in `EmulatorState`.

use axum::extract::{Request, State};
use axum::http::{Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tokio::time::Instant;

use super::errors::{ScimError, finish};
use super::state::EmulatorState;
use super::traffic::Verdict;

fn authorized(req: &Request, token: &str) -> bool {
    req.headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().split_once(' '))
        .is_some_and(|(scheme, given)| {
            scheme.eq_ignore_ascii_case("bearer") && given.trim() == token
        })
}

/// The middleware: see the module doc. Runs for every route under the SCIM base path.
pub(crate) async fn gate(State(s): State<EmulatorState>, req: Request, next: Next) -> Response {
    let shared = s.shared();
    let path = req
        .uri()
        .path_and_query()
        .map_or_else(|| req.uri().path().to_owned(), |p| p.as_str().to_owned());
    let is_write = !matches!(*req.method(), Method::GET | Method::HEAD);

    let (request, verdict, latency) = {
        let mut g = s.gate_state();
        // Read the clock under the lock so arrivals are recorded in order.
        let now = Instant::now();
        let t_ms = now.duration_since(shared.started_at).as_millis() as u64;
        let request = g.arrive(now, t_ms, req.method(), path, shared.window);
        let verdict = if authorized(&req, &shared.token) {
            g.decide(now, shared.limit, shared.window, is_write)
        } else {
            Verdict::Reject(ScimError::new(
                StatusCode::UNAUTHORIZED,
                None,
                "Missing or invalid bearer token",
            ))
        };
        (request, verdict, g.latency())
    };
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }

    let response = match verdict {
        Verdict::Reject(err) => err.render(shared.profile, &shared.switches),
        Verdict::Fail => ScimError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            None,
            "Internal server error (injected fault)",
        )
        .render(shared.profile, &shared.switches),
        Verdict::Hang { apply, for_ } => {
            s.gate_state().complete(request, 0);
            if apply {
                drop(next.run(req).await);
            }
            let mut closing = shared.closing.subscribe();
            tokio::select! {
                _ = tokio::time::sleep(for_) => {}
                _ = closing.wait_for(|c| *c) => {}
            }
            // The client has most likely given up by now; a proxy would answer 504.
            return ScimError::new(
                StatusCode::GATEWAY_TIMEOUT,
                None,
                "Timed out (injected fault)",
            )
            .render(shared.profile, &shared.switches);
        }
        Verdict::Handle => finish(next.run(req).await, shared.profile, &shared.switches),
    };
    s.gate_state().complete(request, response.status().as_u16());
    response
}

/// Unknown paths under the SCIM base (after the gate: an unauthenticated probe gets 401).
pub(crate) async fn not_found() -> Response {
    ScimError::not_found("Resource path not found").into_response()
}

pub(crate) async fn method_not_allowed() -> Response {
    ScimError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        None,
        "Method not allowed on this path",
    )
    .into_response()
}
