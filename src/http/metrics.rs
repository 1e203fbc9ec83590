//! `GET /metrics`: the process's metrics in the Prometheus text format, behind an optional
//! bearer token. Gauges that describe state are set here, at each scrape, from the
//! directories' own views (see [`per_scrape`]); counters and histograms are recorded where
//! things happen.

use std::time::{Instant, SystemTime};

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use metrics::{counter, gauge};
use ring::hmac;
use secrecy::ExposeSecret;

use super::AppState;
use super::mask::RequestId;
use crate::directory::Directories;
use crate::graphql::errors::Code;
use crate::metrics::{self as names, LANES};

/// The token `/metrics` asks for, kept as an HMAC tag under a key drawn at start: a presented
/// token is checked by `hmac::verify`, which compares in constant time.
pub(crate) struct MetricsGate {
    key: hmac::Key,
    tag: hmac::Tag,
}

impl MetricsGate {
    pub(crate) fn new(token: &secrecy::SecretString) -> MetricsGate {
        let key = hmac::Key::new(hmac::HMAC_SHA256, &rand::random::<[u8; 32]>());
        let tag = hmac::sign(&key, token.expose_secret().as_bytes());
        MetricsGate { key, tag }
    }

    /// Whether an `Authorization` header's value is `Bearer <the token>` (scheme in any case).
    fn allows(&self, authorization: Option<&str>) -> bool {
        let Some((scheme, token)) = authorization.and_then(|v| v.split_once(' ')) else {
            return false;
        };
        scheme.eq_ignore_ascii_case("bearer")
            && hmac::verify(&self.key, token.trim().as_bytes(), self.tag.as_ref()).is_ok()
    }
}

pub(super) async fn metrics(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if let Some(gate) = &state.metrics_gate {
        let authorization = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        if !gate.allows(authorization) {
            let id = RequestId::from_headers(&headers);
            let mut response = super::edge_error(
                StatusCode::UNAUTHORIZED,
                Code::Unauthenticated,
                "send the metrics token as `Authorization: Bearer <token>`",
                Some(&id),
            );
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            return response;
        }
    }
    per_scrape(&state).await;
    let text = names::install().render();
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
        )],
        text,
    )
        .into_response()
}

/// The scrape-time hook: every gauge whose value is state is set here, just before rendering.
/// The directories', the grants' and the webhook backlog.
async fn per_scrape(state: &AppState) {
    directory_gauges(&state.dirs);
    if let Some(cache) = &state.response_cache {
        gauge!(names::RESPONSE_CACHE_BYTES).set(cache.bytes() as f64);
    }
    if let Some(store) = &state.store {
        grant_gauges(&state.dirs, store).await;
        match store.delivery_backlog().await {
            Ok(backlog) => {
                for (endpoint, n) in backlog {
                    gauge!(names::WEBHOOK_BACKLOG, "endpoint" => endpoint).set(n as f64);
                }
            }
            Err(e) => tracing::warn!(error = %e, "the webhook backlog could not be read"),
        }
    }
}

/// Per organization: grants not ended, overdue, and the oldest overdue's age, from one store
/// read. A store that cannot be read leaves the last values (and logs).
async fn grant_gauges(dirs: &Directories, store: &crate::store::Store) {
    let now = crate::store::now_ms();
    let counts = match store.grant_counts(now).await {
        Ok(counts) => counts,
        Err(e) => {
            tracing::warn!(error = %e, "the grant gauges could not be read from the store");
            return;
        }
    };
    for dir in dirs.all() {
        let org = dir.org_id().as_str();
        let c = counts
            .iter()
            .find(|c| c.org == org)
            .cloned()
            .unwrap_or_default();
        gauge!(names::GRANTS_ACTIVE, "org" => org.to_owned()).set(c.active as f64);
        gauge!(names::GRANTS_OVERDUE, "org" => org.to_owned()).set(c.overdue as f64);
        let age = c
            .oldest_overdue_ms
            .map_or(0.0, |due| (now - due).max(0) as f64 / 1_000.0);
        gauge!(names::GRANTS_OVERDUE_AGE, "org" => org.to_owned()).set(age);
    }
}

/// Per organization: the budget (queues, refusals, remaining, pause, revocation) and the
/// mirror (age, size, completeness), from `Directory::budget()` and `Directory::snapshot()`.
fn directory_gauges(dirs: &Directories) {
    let now = SystemTime::now();
    for dir in dirs.all() {
        let org = dir.org_id().to_string();
        let budget = dir.budget();
        for (i, lane) in LANES.into_iter().enumerate() {
            gauge!(names::BUDGET_QUEUE_DEPTH, "org" => org.clone(), "lane" => lane)
                .set(budget.queued[i] as f64);
            counter!(names::BUDGET_REFUSED, "org" => org.clone(), "lane" => lane)
                .absolute(budget.refused[i]);
        }
        gauge!(names::BUDGET_LIMIT, "org" => org.clone()).set(f64::from(budget.limit));
        gauge!(names::BUDGET_REMAINING, "org" => org.clone()).set(f64::from(budget.remaining));
        let paused = budget
            .paused_until
            .and_then(|until| until.duration_since(now).ok())
            .map_or(0.0, |left| left.as_secs_f64());
        gauge!(names::BUDGET_PAUSED, "org" => org.clone()).set(paused);
        gauge!(names::CREDENTIAL_REVOKED, "org" => org.clone())
            .set(f64::from(u8::from(budget.credential_revoked)));
        let snapshot = dir.snapshot();
        if let Some(fetched) = snapshot.fetched_at {
            let age = now.duration_since(fetched).unwrap_or_default();
            gauge!(names::MIRROR_AGE, "org" => org.clone()).set(age.as_secs_f64());
        }
        gauge!(names::MIRROR_USERS, "org" => org.clone()).set(snapshot.user_count() as f64);
        gauge!(names::MIRROR_GROUPS, "org" => org.clone()).set(snapshot.group_count() as f64);
        gauge!(names::MIRROR_COMPLETE, "org" => org).set(f64::from(u8::from(snapshot.complete)));
    }
}

/// What `/graphql` records of one operation: its name, its outcome (`ok`, `errors`, or
/// `refused` by a limit or the budget) and its time.
pub(super) struct GraphqlTimer {
    started: Instant,
    operation: Option<String>,
    /// The document, kept while no `operationName` names the operation: `prepare` takes the
    /// request, and a refused one's name is still wanted.
    text: Option<String>,
    refused: bool,
}

impl GraphqlTimer {
    pub(super) fn start(request: &async_graphql::Request) -> GraphqlTimer {
        let operation = request.operation_name.clone();
        GraphqlTimer {
            started: Instant::now(),
            text: operation.is_none().then(|| request.query.clone()),
            operation,
            refused: false,
        }
    }

    /// The request passed the limits: its operation's name from the document they parsed.
    pub(super) fn prepared(&mut self, request: &mut async_graphql::Request) {
        self.text = None;
        self.operation = operation_name(request);
    }

    /// The request was turned away before it ran: by a limit (`refused`), or as a document
    /// that does not parse or validate (an error).
    pub(super) fn refused(&mut self, error: &async_graphql::ServerError) {
        self.refused = ![Code::GraphqlParseFailed, Code::GraphqlValidationFailed]
            .iter()
            .any(|c| has_code(error, *c));
        // Parsed only within the token limit, which the check enforced before parsing.
        if let Some(text) = self.text.take()
            && !has_code(error, Code::TokenLimit)
        {
            self.operation = operation_name(&mut async_graphql::Request::new(text));
        }
    }

    /// Answered from the response cache: an operation that went well.
    pub(super) fn cached(self, operation: Option<&str>) {
        names::graphql_request(operation, "ok", self.started.elapsed());
    }

    pub(super) fn finish(self, response: &async_graphql::Response) {
        let outcome = if self.refused || all_rate_limited(response) {
            "refused"
        } else if response.errors.is_empty() {
            "ok"
        } else {
            "errors"
        };
        names::graphql_request(self.operation.as_deref(), outcome, self.started.elapsed());
    }
}

/// The operation that runs: the request's `operationName`, else the name of the document's
/// only operation (parsed once and kept in the request: the limits check parsed it already).
fn operation_name(request: &mut async_graphql::Request) -> Option<String> {
    use async_graphql::parser::types::DocumentOperations;
    if request.operation_name.is_some() {
        return request.operation_name.clone();
    }
    match &request.parsed_query().ok()?.operations {
        DocumentOperations::Multiple(named) if named.len() == 1 => {
            named.keys().next().map(|n| n.to_string())
        }
        _ => None,
    }
}

fn has_code(error: &async_graphql::ServerError, code: Code) -> bool {
    let code = async_graphql::Value::from(code.as_str());
    error
        .extensions
        .as_ref()
        .is_some_and(|ext| ext.get("code") == Some(&code))
}

/// Whether the budget turned the request away whole: it has errors, each `RATE_LIMITED`.
fn all_rate_limited(response: &async_graphql::Response) -> bool {
    !response.errors.is_empty()
        && response
            .errors
            .iter()
            .all(|e| has_code(e, Code::RateLimited))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_gate_takes_only_the_token_as_a_bearer() {
        let gate = MetricsGate::new(&"s3cret-token".to_owned().into());
        assert!(gate.allows(Some("Bearer s3cret-token")));
        assert!(gate.allows(Some("bearer s3cret-token")));
        assert!(!gate.allows(None));
        assert!(!gate.allows(Some("Bearer s3cret-tokeN")));
        assert!(!gate.allows(Some("Bearer s3cret")));
        assert!(!gate.allows(Some("Basic s3cret-token")));
        assert!(!gate.allows(Some("s3cret-token")));
    }
}
