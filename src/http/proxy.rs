//! `/{org}/scim/v2/{*path}`: the SCIM proxy. Any SCIM request, forwarded 1:1 to the
//! organization's upstream with the gateway's API key and organization scope (the client never
//! holds the SCIM token), through the organization's budget in the lane its change deserves,
//! writes journaled and audited like mutations (`Idempotency-Key` honoured). Every answer,
//! the gateway's own refusals included, is SCIM-shaped
//! (`urn:ietf:params:scim:api:messages:2.0:Error` for errors).

use std::borrow::Cow;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use percent_encoding::percent_decode_str;
use serde_json::Value;

use super::AppState;
use super::mask::RequestId;
use crate::auth::Role;
use crate::directory::{ProxyFailure, ProxyReply, ProxyRequest, ProxyTarget, proxy_is_write};
use crate::graphql::errors::Code;
use crate::graphql::mutation::{ProxyPayload, proxy_call};

/// The path below an organization where its SCIM root is served.
pub(crate) const ROOT: &str = "/scim/v2";
/// Where each answer came from: `mirror` (no upstream call) or `upstream`.
pub(crate) const ANSWERED_FROM: &str = "x-scimgate-answered-from";
/// The budget lane a forwarded request took.
pub(crate) const LANE: &str = "x-scimgate-lane";
/// `unknown` when a write's outcome is unknown (it was not sent again).
pub(crate) const OUTCOME: &str = "x-scimgate-outcome";
/// The gateway's stable code for its own refusals (`UNAUTHENTICATED`, `NOT_FOUND`, ...).
pub(crate) const CODE: &str = "x-scimgate-code";
const SCIM_JSON: &str = "application/scim+json";

/// The most query parameters, and characters per value, a forwarded request may carry.
const MAX_PARAMS: usize = 20;
const MAX_PARAM_LEN: usize = 2_000;

#[utoipa::path(method(get, post, put, patch, delete), path = "/{org}/scim/v2/{path}", tag = "scim-proxy",
    params(
        ("org" = String, Path, description = "The organization"),
        ("path" = String, Path, description = "Below the SCIM root: Users, Users/{id}, Groups, Groups/{id}, .search, ServiceProviderConfig, ResourceTypes, Schemas"),
        ("If-Match" = Option<String>, Header, description = "Forwarded"),
        ("Idempotency-Key" = Option<String>, Header, description = "For writes: a repeat with the same request returns the first answer and sends nothing"),
    ),
    request_body(content = serde_json::Value, content_type = "application/scim+json", description = "A SCIM resource or PatchOp, forwarded as sent"),
    responses(
        (status = 200, description = "The upstream's answer, as it sent it (`x-scimgate-answered-from`: mirror or upstream; `x-scimgate-lane`)", content_type = "application/scim+json", body = serde_json::Value),
        (status = 201, description = "Created upstream", content_type = "application/scim+json", body = serde_json::Value),
        (status = 204, description = "Deleted upstream"),
        (status = 400, description = "Bad input (the gateway's refusal, `x-scimgate-code`) or the upstream's", content_type = "application/scim+json", body = crate::http::openapi::ScimError),
        (status = 401, description = "No valid gateway API key", content_type = "application/scim+json", body = crate::http::openapi::ScimError),
        (status = 403, description = "The key's role cannot do this", content_type = "application/scim+json", body = crate::http::openapi::ScimError),
        (status = 404, description = "No such organization for this key, endpoint, or resource", content_type = "application/scim+json", body = crate::http::openapi::ScimError),
        (status = 409, description = "The upstream reports a conflict", content_type = "application/scim+json", body = crate::http::openapi::ScimError),
        (status = 429, description = "The budget is taken (`Retry-After`)", content_type = "application/scim+json", body = crate::http::openapi::ScimError),
        (status = 502, description = "The upstream failed; with `x-scimgate-outcome: unknown` a write's outcome is unknown and it was not sent again", content_type = "application/scim+json", body = crate::http::openapi::ScimError),
        (status = 504, description = "No answer in time; for a write, the outcome is unknown", content_type = "application/scim+json", body = crate::http::openapi::ScimError),
    ))]
pub(crate) async fn handle(
    State(state): State<AppState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let id = RequestId::from_headers(&headers);
    let mut response = match forward(&state, &method, &uri, &headers, &body, &id).await {
        Ok(reply) => reply_response(reply),
        Err(refusal) => refusal.into_response(),
    };
    id.stamp(&mut response);
    response
}

/// A refusal by the gateway itself, before anything was sent.
struct Refusal {
    status: StatusCode,
    code: Code,
    scim_type: Option<&'static str>,
    detail: String,
}

impl Refusal {
    fn new(status: StatusCode, code: Code, detail: impl Into<String>) -> Refusal {
        Refusal {
            status,
            code,
            scim_type: None,
            detail: detail.into(),
        }
    }

    fn typed(mut self, scim_type: &'static str) -> Refusal {
        self.scim_type = Some(scim_type);
        self
    }

    fn into_response(self) -> Response {
        let reply = ProxyReply::error(self.status.as_u16(), self.scim_type, &self.detail);
        let mut response = reply_response(reply);
        response.headers_mut().insert(
            HeaderName::from_static(CODE),
            HeaderValue::from_static(self.code.as_str()),
        );
        if self.status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

async fn forward(
    state: &AppState,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &Bytes,
    id: &RequestId,
) -> Result<ProxyReply, Refusal> {
    let (org, path) = split(uri.path())?;
    let Some(principal) = super::graphql::authenticate(state, headers) else {
        return Err(Refusal::new(
            StatusCode::UNAUTHORIZED,
            Code::Unauthenticated,
            "send a valid API key of this gateway as `Authorization: Bearer <key>` (not the organization's SCIM token, which only the gateway holds)",
        ));
    };
    // An organization the key may not reach looks like one that does not exist.
    let dir = match state.dirs.get(org.as_ref()) {
        Some(dir) if principal.orgs.allows(&org) => dir,
        _ => {
            let shown: String = org.chars().take(100).collect();
            return Err(Refusal::new(
                StatusCode::NOT_FOUND,
                Code::NotFound,
                format!("no organization {shown:?} for this API key"),
            ));
        }
    };
    if let Err(reason) = crate::directory::check_proxy_path(path) {
        return Err(Refusal::new(StatusCode::NOT_FOUND, Code::NotFound, reason));
    }
    if ![
        Method::GET,
        Method::POST,
        Method::PUT,
        Method::PATCH,
        Method::DELETE,
    ]
    .contains(method)
    {
        return Err(Refusal::new(
            StatusCode::METHOD_NOT_ALLOWED,
            Code::MethodNotAllowed,
            format!("{method} is not a SCIM method; use GET, POST, PUT, PATCH or DELETE"),
        ));
    }
    let write = proxy_is_write(method, &ProxyTarget::of(path));
    let needed = if write { Role::Write } else { Role::Read };
    if principal.role < needed {
        return Err(Refusal::new(
            StatusCode::FORBIDDEN,
            Code::Forbidden,
            format!(
                "this API key ({}) has the {} role; this request needs {needed}",
                principal.name, principal.role
            ),
        ));
    }
    let query = query_pairs(uri.query())?;
    let json = json_body(method, body)?;
    let text_header = |name: HeaderName| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .filter(|v| !v.is_empty())
    };
    let if_match = text_header(header::IF_MATCH).filter(|v| v.len() <= 256);
    let request = ProxyRequest {
        method,
        path,
        query: &query,
        body: json.as_ref(),
        if_match,
    };
    if !write {
        return Ok(dir.proxy(request).await);
    }
    let key = text_header(HeaderName::from_static("idempotency-key")).map(str::to_owned);
    let call = proxy_call(
        dir.org_id().as_str(),
        |v| dir.user_key(v).into_string(),
        &request,
        key,
    );
    let work = async { Ok(ProxyPayload::new(dir.proxy(request).await)) };
    match call
        .run_outside(&state.schema, principal, &id.0, work)
        .await
    {
        Ok(payload) => Ok(payload.reply),
        Err(message) => Err(Refusal::new(
            StatusCode::BAD_REQUEST,
            Code::BadUserInput,
            message.replace("`idempotencyKey`", "the Idempotency-Key header"),
        )
        .typed("invalidValue")),
    }
}

/// The organization and the path below its SCIM root, from `/{org}/scim/v2/{path}` (the path
/// kept percent-encoded, as it is forwarded).
fn split(full: &str) -> Result<(Cow<'_, str>, &str), Refusal> {
    let not_found = || {
        Refusal::new(
            StatusCode::NOT_FOUND,
            Code::NotFound,
            "no such SCIM endpoint",
        )
    };
    let rest = full.strip_prefix('/').ok_or_else(not_found)?;
    let (org, below) = rest.split_once('/').ok_or_else(not_found)?;
    let path = below.strip_prefix(&ROOT[1..]).ok_or_else(not_found)?;
    if !path.starts_with('/') {
        return Err(not_found());
    }
    let org = percent_decode_str(org)
        .decode_utf8()
        .map_err(|_| not_found())?;
    Ok((org, path))
}

/// The query string as decoded pairs, in order.
fn query_pairs(raw: Option<&str>) -> Result<Vec<(String, String)>, Refusal> {
    let bad = |detail: String| {
        Refusal::new(StatusCode::BAD_REQUEST, Code::BadRequest, detail).typed("invalidValue")
    };
    let mut pairs = Vec::new();
    for pair in raw.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        let decode = |s: &str| {
            percent_decode_str(&s.replace('+', " "))
                .decode_utf8()
                .map(Cow::into_owned)
                .map_err(|_| bad("the query string is not UTF-8".to_owned()))
        };
        let (name, value) = (decode(name)?, decode(value)?);
        if name.len() > 100 || value.len() > MAX_PARAM_LEN {
            return Err(bad(format!(
                "a query parameter is longer than {MAX_PARAM_LEN} characters"
            )));
        }
        pairs.push((name, value));
    }
    if pairs.len() > MAX_PARAMS {
        return Err(bad(format!("at most {MAX_PARAMS} query parameters")));
    }
    Ok(pairs)
}

/// The JSON body of a request that carries one (`POST`, `PUT`, `PATCH`).
fn json_body(method: &Method, body: &Bytes) -> Result<Option<Value>, Refusal> {
    let carries = [Method::POST, Method::PUT, Method::PATCH].contains(method);
    if !carries {
        return Ok(None);
    }
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(Refusal::new(
            StatusCode::BAD_REQUEST,
            Code::BadRequest,
            format!("{method} needs a JSON body (a SCIM resource or PatchOp)"),
        )
        .typed("invalidSyntax"));
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(v @ Value::Object(_)) => Ok(Some(v)),
        Ok(_) => Err(Refusal::new(
            StatusCode::BAD_REQUEST,
            Code::BadRequest,
            "the body must be a JSON object (a SCIM resource or PatchOp)",
        )
        .typed("invalidSyntax")),
        Err(e) => Err(Refusal::new(
            StatusCode::BAD_REQUEST,
            Code::BadRequest,
            format!(
                "the body is not JSON (line {}, column {})",
                e.line(),
                e.column()
            ),
        )
        .typed("invalidSyntax")),
    }
}

fn reply_response(reply: ProxyReply) -> Response {
    let status = StatusCode::from_u16(reply.status).unwrap_or(StatusCode::BAD_GATEWAY);
    let mut response = if reply.body.is_empty() {
        status.into_response()
    } else {
        (status, [(header::CONTENT_TYPE, SCIM_JSON)], reply.body).into_response()
    };
    let headers = response.headers_mut();
    let mut put = |name: HeaderName, value: Option<&str>| {
        if let Some(v) = value.and_then(|v| HeaderValue::from_str(v).ok()) {
            headers.insert(name, v);
        }
    };
    put(header::ETAG, reply.etag.as_deref());
    put(header::LOCATION, reply.location.as_deref());
    let wait = reply
        .retry_after
        .map(|d| d.as_secs() + u64::from(d.subsec_nanos() > 0))
        .map(|s| s.max(1).to_string());
    put(header::RETRY_AFTER, wait.as_deref());
    if !reply.lane.is_empty() || reply.from_mirror {
        let from = if reply.from_mirror {
            "mirror"
        } else {
            "upstream"
        };
        put(HeaderName::from_static(ANSWERED_FROM), Some(from));
    }
    put(
        HeaderName::from_static(LANE),
        (!reply.lane.is_empty()).then_some(reply.lane),
    );
    if reply.failure == Some(ProxyFailure::Unknown) {
        put(HeaderName::from_static(OUTCOME), Some("unknown"));
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_org_and_the_path_below_its_root_are_split_off() {
        let (org, path) = split("/acme/scim/v2/Users/a%40x.io").ok().unwrap();
        assert_eq!((org.as_ref(), path), ("acme", "/Users/a%40x.io"));
        assert!(split("/acme/scim/v2").is_err());
        assert!(split("/acme/scim/v1/Users").is_err());
        assert!(split("/acme/scim/v2Users").is_err());
        let q = query_pairs(Some("filter=userName+eq+%22a%40x.io%22&count=5"))
            .ok()
            .unwrap();
        assert_eq!(q[0], ("filter".into(), "userName eq \"a@x.io\"".into()));
        assert_eq!(q[1], ("count".into(), "5".into()));
        assert!(query_pairs(Some("x=%ff")).is_err());
        assert!(json_body(&Method::POST, &Bytes::from_static(b"[1]")).is_err());
        assert!(json_body(&Method::POST, &Bytes::from_static(b"{")).is_err());
        assert!(
            json_body(&Method::DELETE, &Bytes::new())
                .ok()
                .unwrap()
                .is_none()
        );
    }
}
