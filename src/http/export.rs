//! `GET /export/audit?org=…&since=…&until=…&format=csv|jsonl`: one organization's audit log,
//! oldest row first, streamed a page of rows at a time (never the whole log in memory), for
//! auditor and admin keys within their organizations.

use std::borrow::Cow;
use std::time::SystemTime;

use axum::body::{Body, Bytes};
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use futures_util::StreamExt;
use futures_util::stream;
use percent_encoding::percent_decode_str;

use super::mask::RequestId;
use super::{AppState, edge_error};
use crate::graphql::errors::Code;
use crate::store::{
    AuditFilter, EXPORT_CHUNK, ExportFormat, Store, StoreError, Window, parse_time_bound,
};

/// What the query string asks for.
#[derive(Debug, PartialEq)]
struct Params {
    org: String,
    since_ms: Option<i64>,
    until_ms: Option<i64>,
    format: ExportFormat,
}

/// Reads the query string; a message naming the parameter when it cannot.
fn params(raw: Option<&str>, now: SystemTime) -> Result<Params, String> {
    let (mut org, mut since, mut until, mut format) = (None, None, None, None);
    for pair in raw.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        let (name, value) = (decode(name)?, decode(value)?);
        let slot = match name.as_str() {
            "org" => &mut org,
            "since" => &mut since,
            "until" => &mut until,
            "format" => &mut format,
            other => {
                return Err(format!(
                    "unknown parameter `{}`; this endpoint takes org, since, until and format",
                    other.chars().take(40).collect::<String>()
                ));
            }
        };
        if slot.replace(value).is_some() {
            return Err(format!("`{name}` is given more than once"));
        }
    }
    let org = org.filter(|o| !o.is_empty()).ok_or(
        "`org` is required: the id of the organization whose audit log to export".to_owned(),
    )?;
    let bound = |name: &str, value: Option<String>| {
        value
            .map(|v| parse_time_bound(&v, now).map_err(|e| format!("`{name}`: {e}")))
            .transpose()
    };
    let format = match format {
        None => ExportFormat::default(),
        Some(f) => f.parse().map_err(|e| format!("`format`: {e}"))?,
    };
    Ok(Params {
        org,
        since_ms: bound("since", since)?,
        until_ms: bound("until", until)?,
        format,
    })
}

fn decode(text: &str) -> Result<String, String> {
    let spaced = text.replace('+', " ");
    percent_decode_str(&spaced)
        .decode_utf8()
        .map(Cow::into_owned)
        .map_err(|_| "the query string is not UTF-8".to_owned())
}

/// The caller, when its key may read `what` (the auditor's or the admin's role); else the
/// answer to send: 401 without a valid key, 403 with another role.
pub(super) fn auditor<'a>(
    state: &'a AppState,
    headers: &HeaderMap,
    id: &RequestId,
    what: &str,
) -> Result<&'a crate::auth::Principal, Box<Response>> {
    let Some(principal) = super::graphql::authenticate(state, headers) else {
        let mut response = edge_error(
            StatusCode::UNAUTHORIZED,
            Code::Unauthenticated,
            "send a valid API key as `Authorization: Bearer <key>`",
            Some(id),
        );
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        return Err(Box::new(response));
    };
    if !principal.role.reads_audit() {
        let message = format!(
            "this API key ({}) has the {} role; {what} needs the auditor or admin role",
            principal.name, principal.role
        );
        return Err(Box::new(edge_error(
            StatusCode::FORBIDDEN,
            Code::Forbidden,
            &message,
            Some(id),
        )));
    }
    Ok(principal)
}

/// What an evidence export of one object asks for: the object's id (a global id of `kind`, in
/// an organization the key may reach) and whether the answer is CSV (the default) or the other
/// format, `format=<other>`; else the answer to send (401, 403, 400, or 404 for an id that does
/// not decode, is of another kind or names an organization out of reach: all look alike).
pub(super) fn evidence(
    state: &AppState,
    headers: &HeaderMap,
    rid: &RequestId,
    raw: Option<&str>,
    (what, kind, other): (&str, crate::graphql::ids::Kind, &str),
    id: &str,
) -> Result<(crate::graphql::ids::GlobalId, bool), Box<Response>> {
    let fail = |status, code, message: &str| Box::new(edge_error(status, code, message, Some(rid)));
    let principal = auditor(state, headers, rid, &format!("exporting {what}s"))?;
    let csv = match raw.unwrap_or("") {
        "" | "format=csv" => true,
        f if f.strip_prefix("format=") == Some(other) => false,
        _ => {
            let message = format!(
                "this endpoint takes one parameter, `format=csv` (the default) or `format={other}`"
            );
            return Err(fail(StatusCode::BAD_REQUEST, Code::BadRequest, &message));
        }
    };
    let found = crate::graphql::ids::GlobalId::decode(id)
        .filter(|g| g.kind == kind)
        .filter(|g| {
            state.dirs.get(g.org.as_str()).is_some() && principal.orgs.allows(g.org.as_str())
        });
    match found {
        Some(g) => Ok((g, csv)),
        None => Err(fail(
            StatusCode::NOT_FOUND,
            Code::NotFound,
            &format!("no such {what} for this API key"),
        )),
    }
}

pub(crate) async fn audit(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let id = RequestId::from_headers(&headers);
    let fail = |status, code, message: &str| edge_error(status, code, message, Some(&id));
    let principal = match auditor(&state, &headers, &id, "the audit log") {
        Ok(p) => p,
        Err(refused) => return *refused,
    };
    let p = match params(raw.as_deref(), SystemTime::now()) {
        Ok(p) => p,
        Err(message) => return fail(StatusCode::BAD_REQUEST, Code::BadRequest, &message),
    };
    // An organization the key may not reach looks like one that does not exist.
    if state.dirs.get(p.org.as_str()).is_none() || !principal.orgs.allows(&p.org) {
        let shown: String = p.org.chars().take(100).collect();
        let message = format!("no organization {shown:?} for this API key");
        return fail(StatusCode::NOT_FOUND, Code::NotFound, &message);
    }
    let unavailable = || {
        fail(
            StatusCode::SERVICE_UNAVAILABLE,
            Code::StoreUnavailable,
            "the audit log cannot be read now: the gateway's store is unavailable; try again later",
        )
    };
    let Some(store) = state.store.clone() else {
        return unavailable();
    };
    let filter = AuditFilter {
        orgs: Some(vec![p.org.clone()]),
        since_ms: p.since_ms,
        until_ms: p.until_ms,
        ..AuditFilter::default()
    };
    // The first page before the answer starts: a store that is down gets a coded error.
    let pages = Pages {
        store,
        filter,
        above: None,
    };
    let (first, pages) = match pages.next().await {
        Ok(step) => step,
        Err(e) => {
            tracing::error!(error = %e, "the audit log could not be read for an export");
            return unavailable();
        }
    };
    let format = p.format;
    let mut head = format.header();
    head.extend(format.rows(&first));
    let rest = stream::unfold(pages, move |pages| async move {
        let (rows, next) = match pages?.next().await {
            Ok(step) => step,
            Err(e) => {
                // The status is sent: ending the body early is all that is left to say.
                tracing::error!(error = %e, "an audit export stopped: the store could not be read");
                return Some((Err(e), None));
            }
        };
        (!rows.is_empty()).then(|| (Ok(Bytes::from(format.rows(&rows))), next))
    });
    let body = stream::once(async { Ok::<_, StoreError>(Bytes::from(head)) }).chain(rest);
    let mut response = Response::new(Body::from_stream(body));
    let filename = format!(
        "attachment; filename=\"audit-{}.{}\"",
        file_safe(&p.org),
        format.extension()
    );
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(format.content_type()),
    );
    if let Ok(v) = HeaderValue::from_str(&filename) {
        headers.insert(header::CONTENT_DISPOSITION, v);
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    id.stamp(&mut response);
    response
}

/// Walks the log oldest row first, `EXPORT_CHUNK` rows a step.
struct Pages {
    store: Store,
    filter: AuditFilter,
    above: Option<i64>,
}

impl Pages {
    /// One page, and what reads the next (`None` after a short page: the log's end).
    async fn next(mut self) -> Result<(Vec<crate::store::AuditEntry>, Option<Pages>), StoreError> {
        let window = Window {
            above: self.above,
            ..Window::default()
        };
        let rows = self
            .store
            .audit_page(&self.filter, window, EXPORT_CHUNK)
            .await?;
        let full = i64::try_from(rows.len()).is_ok_and(|n| n >= EXPORT_CHUNK);
        self.above = rows.last().map(|r| r.seq);
        Ok((rows, full.then_some(self)))
    }
}

/// An organization id as a file name's part: letters, digits, `.`, `-` and `_`.
fn file_safe(org: &str) -> String {
    org.chars()
        .take(100)
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use super::*;

    #[test]
    fn parameters_are_named_when_they_are_wrong() {
        let now = UNIX_EPOCH + Duration::from_secs(86_400);
        assert_eq!(
            params(Some("org=acme&since=12h&format=jsonl"), now),
            Ok(Params {
                org: "acme".into(),
                since_ms: Some(12 * 3_600_000),
                until_ms: None,
                format: ExportFormat::Jsonl,
            })
        );
        assert_eq!(
            params(Some("org=acme&until=1970-01-01T00%3A00%3A01Z"), now).map(|p| p.until_ms),
            Ok(Some(1_000))
        );
        let err = |q: &str| params(Some(q), now).unwrap_err();
        assert!(err("since=1d").starts_with("`org` is required"));
        assert!(err("org=acme&since=soon").starts_with("`since`: expected"));
        assert!(err("org=acme&until=x").starts_with("`until`: "));
        assert!(err("org=acme&format=xml").starts_with("`format`: "));
        assert!(err("org=acme&org=globex").contains("more than once"));
        assert!(err("org=acme&sinse=1d").starts_with("unknown parameter `sinse`"));
        assert_eq!(file_safe("a\"b/c.d"), "a_b_c.d");
    }
}
