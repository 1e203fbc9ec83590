//! `/graphql` per the GraphQL-over-HTTP spec: POST with JSON, GET with query parameters (queries
//! only), answers as `application/graphql-response+json` when asked, else `application/json`.
//! Every request carries an API key and a request id; every error leaves with a code.

use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::AppState;
use super::mask::{RequestId, mask, mask_to_string};
use super::metrics::GraphqlTimer;
use crate::auth::Principal;
use crate::graphql;
use crate::graphql::errors::Code;

const GRAPHQL_RESPONSE: &str = "application/graphql-response+json";
const JSON: &str = "application/json";

fn accept(headers: &HeaderMap) -> &str {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

/// The quality a client's `Accept` gives `media` (its most specific matching range), or `None`
/// when no range matches. `q=0` means "not this one".
fn quality(accept: &str, media: &str) -> Option<f32> {
    let (kind, _) = media.split_once('/')?;
    let mut best: Option<(u8, f32)> = None;
    for range in accept.split(',') {
        let mut parts = range.split(';');
        let name = parts.next().unwrap_or("").trim().to_ascii_lowercase();
        let specificity = if name == media {
            2
        } else if name == format!("{kind}/*") {
            1
        } else if name == "*/*" {
            0
        } else {
            continue;
        };
        let q = parts
            .find_map(|p| {
                let (key, value) = p.split_once('=')?;
                key.trim()
                    .eq_ignore_ascii_case("q")
                    .then(|| value.trim().parse::<f32>().ok())?
            })
            .unwrap_or(1.0);
        if best.is_none_or(|(s, _)| specificity > s) {
            best = Some((specificity, q));
        }
    }
    best.map(|(_, q)| q)
}

/// Whether to answer as `application/graphql-response+json`: when the client accepts it at least
/// as much as `application/json` (the spec's preference on a tie). No `Accept`, or one that
/// names neither, gets `application/json`, which every legacy client reads.
fn wants_graphql_response(headers: &HeaderMap) -> bool {
    let accept = accept(headers);
    let exact = |media: &str| {
        accept.split(',').any(|r| {
            r.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .eq_ignore_ascii_case(media)
        })
    };
    let Some(gql) = quality(accept, GRAPHQL_RESPONSE).filter(|q| *q > 0.0) else {
        return false;
    };
    // A bare `*/*` keeps the legacy type: only a client that names the new type gets it.
    exact(GRAPHQL_RESPONSE) && gql >= quality(accept, JSON).unwrap_or(0.0)
}

/// An error before any GraphQL ran, in GraphQL's error shape.
fn request_error(
    status: StatusCode,
    code: Code,
    message: &str,
    gql: bool,
    id: &RequestId,
) -> Response {
    let body = code.body(message, Some(&id.0));
    respond(status, body.to_string(), gql, id)
}

/// A GraphQL-over-HTTP request body. `query` is required: a body without it (say a typo
/// `"qeury"`) is a bad request, not an empty document.
#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct Wire {
    query: Option<String>,
    #[serde(default)]
    operation_name: Option<String>,
    #[serde(default)]
    variables: Option<async_graphql::Variables>,
    #[serde(default)]
    extensions: Option<async_graphql::Extensions>,
}

impl Wire {
    fn into_request(self) -> Option<async_graphql::Request> {
        let mut request = async_graphql::Request::new(self.query?);
        request.operation_name = self.operation_name;
        request.variables = self.variables.unwrap_or_default();
        request.extensions = self.extensions.unwrap_or_default();
        Some(request)
    }
}

fn no_query(gql: bool, id: &RequestId) -> Response {
    bad_request(
        "the request has no `query`: send the GraphQL document as `query` (a string)",
        gql,
        id,
    )
}

/// A request the gateway cannot read as GraphQL over HTTP: 400 with `BAD_REQUEST`.
fn bad_request(message: &str, gql: bool, id: &RequestId) -> Response {
    request_error(StatusCode::BAD_REQUEST, Code::BadRequest, message, gql, id)
}

/// The client's principal, from `Authorization: Bearer <key>`.
pub(super) fn authenticate<'a>(state: &'a AppState, headers: &HeaderMap) -> Option<&'a Principal> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok();
    state.keys.authenticate_bearer(value)
}

fn unauthenticated(gql: bool, id: &RequestId) -> Response {
    let mut response = request_error(
        StatusCode::UNAUTHORIZED,
        Code::Unauthenticated,
        "send a valid API key as `Authorization: Bearer <key>`",
        gql,
        id,
    );
    response
        .headers_mut()
        .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    response
}

pub(crate) async fn post(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let id = RequestId::from_headers(&headers);
    let gql = wants_graphql_response(&headers);
    let Some(principal) = authenticate(&state, &headers) else {
        tracing::info!(request_id = %id.0, "request without a valid API key");
        return unauthenticated(gql, &id);
    };
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let media = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if media != JSON && media != GRAPHQL_RESPONSE {
        let message = "send the GraphQL request as JSON with `Content-Type: application/json`";
        return request_error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Code::BadRequest,
            message,
            gql,
            &id,
        );
    }
    let max = state.limits.max_body_bytes as usize;
    let Ok(bytes) = axum::body::to_bytes(body, max).await else {
        let message = format!("the request body is over the limit of {max} bytes");
        return request_error(
            StatusCode::PAYLOAD_TOO_LARGE,
            Code::RequestTooLarge,
            &message,
            gql,
            &id,
        );
    };
    if bytes.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'[') {
        return batch(&state, &bytes, principal, gql, &id).await;
    }
    let request = match serde_json::from_slice::<Wire>(&bytes) {
        Ok(wire) => match wire.into_request() {
            Some(r) => r,
            None => return no_query(gql, &id),
        },
        Err(e) => {
            let message = format!("the body is not a GraphQL request in JSON: {e}");
            return bad_request(&message, gql, &id);
        }
    };
    if super::stream::wants_event_stream(&headers) {
        return super::stream::sse(&state, request, principal, &id);
    }
    let mut request = request;
    super::cost::ask_by_header(&headers, &mut request);
    let (status, body, retry_after, cache) = execute(&state, request, principal, gql, &id).await;
    with_cache_state(
        with_retry_after(respond(status, body, gql, &id), retry_after),
        cache,
    )
}

/// A JSON array of operations: refused unless batching is on, then at most `max_batch`.
async fn batch(
    state: &AppState,
    bytes: &[u8],
    principal: &Principal,
    gql: bool,
    id: &RequestId,
) -> Response {
    let limits = &state.limits;
    if !limits.batching {
        let message = "batched operations (a JSON array) are turned off on this gateway; send one operation per request";
        return request_error(
            StatusCode::BAD_REQUEST,
            Code::BatchingDisabled,
            message,
            gql,
            id,
        );
    }
    let requests = match serde_json::from_slice::<Vec<Wire>>(bytes) {
        Ok(wires) => match wires
            .into_iter()
            .map(Wire::into_request)
            .collect::<Option<Vec<_>>>()
        {
            Some(r) => r,
            None => return no_query(gql, id),
        },
        Err(e) => {
            return request_error(
                StatusCode::BAD_REQUEST,
                Code::BadRequest,
                &format!("the body is not a batch of GraphQL requests: {e}"),
                gql,
                id,
            );
        }
    };
    if requests.len() > limits.max_batch as usize {
        let message = format!(
            "the batch has {} operations, over the limit of {} by {}",
            requests.len(),
            limits.max_batch,
            requests.len() - limits.max_batch as usize
        );
        return request_error(StatusCode::BAD_REQUEST, Code::BatchLimit, &message, gql, id);
    }
    let mut bodies = Vec::with_capacity(requests.len());
    for request in requests {
        bodies.push(execute(state, request, principal, gql, id).await.1);
    }
    respond(StatusCode::OK, format!("[{}]", bodies.join(",")), gql, id)
}

pub(crate) async fn get(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let id = RequestId::from_headers(&headers);
    let gql = wants_graphql_response(&headers);
    let query = query.unwrap_or_default();
    if query.is_empty()
        && accept(&headers).contains("text/html")
        && let Some(page) = &state.graphiql
    {
        return page.response();
    }
    let event_stream = super::stream::wants_event_stream(&headers);
    // A browser's `EventSource` cannot send headers: its key may come as `access_token`.
    let token = event_stream
        .then(|| super::stream::access_token(&query))
        .flatten();
    let principal = match &token {
        Some(token) => state
            .keys
            .authenticate_bearer(Some(&format!("Bearer {token}"))),
        None => authenticate(&state, &headers),
    };
    let Some(principal) = principal else {
        return unauthenticated(gql, &id);
    };
    if query.len() > state.limits.max_body_bytes as usize {
        let message = format!(
            "the query string is over the limit of {} bytes",
            state.limits.max_body_bytes
        );
        return request_error(
            StatusCode::URI_TOO_LONG,
            Code::RequestTooLarge,
            &message,
            gql,
            &id,
        );
    }
    let request = match async_graphql::http::parse_query_string(&query) {
        Ok(r) if r.query.is_empty() => return no_query(gql, &id),
        Ok(r) => r,
        Err(e) => {
            let message = format!("the query string is not a GraphQL request: {e}");
            return bad_request(&message, gql, &id);
        }
    };
    if is_mutation(&request) {
        let mut response = request_error(
            StatusCode::METHOD_NOT_ALLOWED,
            Code::BadRequest,
            "mutations are accepted only with POST",
            gql,
            &id,
        );
        response
            .headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("POST"));
        return response;
    }
    if event_stream {
        return super::stream::sse(&state, request, principal, &id);
    }
    let mut request = request;
    super::cost::ask_by_header(&headers, &mut request);
    let (status, body, retry_after, cache) = execute(&state, request, principal, gql, &id).await;
    with_cache_state(
        with_retry_after(respond(status, body, gql, &id), retry_after),
        cache,
    )
}

/// Whether the operation that would run is a mutation (GET may not run one).
fn is_mutation(request: &async_graphql::Request) -> bool {
    use async_graphql::parser::types::OperationType;
    let Ok(doc) = async_graphql::parser::parse_query(&request.query) else {
        return false;
    };
    let mut ops = doc.operations.iter();
    let op = match &request.operation_name {
        Some(name) => ops
            .find(|(n, _)| n.map(|n| n.as_str()) == Some(name.as_str()))
            .map(|(_, op)| op),
        None => ops.next().map(|(_, op)| op),
    };
    op.is_some_and(|op| op.node.ty == OperationType::Mutation)
}

/// Runs one operation; its status, body, `Retry-After` seconds and response-cache state, with
/// `extensions.cost` added when the request asks for it.
async fn execute(
    state: &AppState,
    request: async_graphql::Request,
    principal: &Principal,
    gql: bool,
    id: &RequestId,
) -> (StatusCode, String, Option<u64>, Option<&'static str>) {
    let wants_cost = super::cost::wanted(&request);
    let calls = std::sync::Arc::new(std::sync::atomic::AtomicU32::new(0));
    let run = run(state, request, principal, gql, id);
    let (status, body, retry_after, cache) =
        crate::directory::count_calls(calls.clone(), run).await;
    if !wants_cost {
        return (status, body, retry_after, cache);
    }
    let calls = calls.load(std::sync::atomic::Ordering::Relaxed);
    let cost = super::cost::of(state, principal, calls, cache == Some("hit"));
    (status, super::cost::with(body, cost), retry_after, cache)
}

async fn run(
    state: &AppState,
    request: async_graphql::Request,
    principal: &Principal,
    gql: bool,
    id: &RequestId,
) -> (StatusCode, String, Option<u64>, Option<&'static str>) {
    let mut timer = GraphqlTimer::start(&request);
    let cache = state.response_cache.as_deref();
    let mut filed = None;
    if let Some(cache) = cache
        && let Some(lookup) = cache.lookup(&request, principal, &state.schema).await
    {
        if let Some(body) = cache.get(&lookup).await {
            timer.cached(lookup.operation.as_deref());
            return (StatusCode::OK, body.to_string(), None, Some("hit"));
        }
        filed = Some(lookup);
    }
    let response = match graphql::prepare(request, &state.schema, principal, &id.0) {
        Ok(mut request) => {
            timer.prepared(&mut request);
            if let (Some(cache), Some(lookup)) = (cache, filed.take()) {
                filed = cache.prepare(lookup, &mut request).await;
            }
            state.schema.execute(request).await
        }
        Err(refused) => {
            timer.refused(&refused);
            async_graphql::Response::from_errors(vec![refused])
        }
    };
    timer.finish(&response);
    let filed = filed.filter(|_| response.errors.is_empty());
    let retry_after = retry_after_of(&response);
    // A request that failed before execution (parse, limits, validation) has no data at all:
    // its errors carry no path, and its answer no `data` key (GraphQL spec, "Response").
    let request_failed = response.data == async_graphql::Value::Null
        && !response.errors.is_empty()
        && response.errors.iter().all(|e| e.path.is_empty());
    let status = if gql && request_failed {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    let body = if request_failed {
        let mut body = mask(response, id, &principal.name);
        if let Some(object) = body.as_object_mut() {
            object.remove("data");
        }
        body.to_string()
    } else {
        mask_to_string(response, id, &principal.name)
    };
    let mut state_of = None;
    if let (Some(cache), Some(lookup)) = (cache, filed) {
        cache.put(lookup, &body).await;
        state_of = Some("miss");
    }
    (status, body, retry_after, state_of)
}

/// When every error of a response is `RATE_LIMITED` (the request was refused whole, as far as
/// it got), the longest of their `retryAfter` seconds, for an HTTP `Retry-After` header.
fn retry_after_of(response: &async_graphql::Response) -> Option<u64> {
    use async_graphql::Value;
    let mut longest = None;
    for error in &response.errors {
        let ext = error.extensions.as_ref()?;
        if ext.get("code") != Some(&Value::from(Code::RateLimited.as_str())) {
            return None;
        }
        // An upstream 429 without `Retry-After` gives no time to pass on.
        if let Some(Value::Number(n)) = ext.get("retryAfter") {
            longest = longest.max(n.as_u64());
        }
    }
    longest
}

/// `x-scimgate-cache: hit` on an answer from the response cache, `miss` on one it filed.
fn with_cache_state(mut response: Response, state: Option<&'static str>) -> Response {
    if let Some(state) = state {
        response
            .headers_mut()
            .insert("x-scimgate-cache", HeaderValue::from_static(state));
    }
    response
}

fn with_retry_after(mut response: Response, secs: Option<u64>) -> Response {
    if let Some(secs) = secs {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(secs));
    }
    response
}

fn respond(status: StatusCode, body: String, gql: bool, id: &RequestId) -> Response {
    let content_type = if gql { GRAPHQL_RESPONSE } else { JSON };
    let mut response = (
        status,
        [(header::CONTENT_TYPE, HeaderValue::from_static(content_type))],
        body,
    )
        .into_response();
    id.stamp(&mut response);
    response
}
