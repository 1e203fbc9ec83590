//! `/Users` handlers: list with paging and filters, get by id (the e-mail on Amplitude),
//! invite (`POST`), replace (`PUT`, full-body `PATCH`), PatchOp where switched on, delete.

use axum::body::Bytes;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use std::collections::HashMap;

use super::errors::{ScimError, parse_json};
use super::filter::{Filter, Lit};
use super::query::{Page, parse_query};
use super::rfc::{self, Projection, origin};
use super::state::EmulatorState;
use super::store::{Directory, UserRec, validate_email};
use super::user_patch::{UserPatch, parse_emails};
use super::versions::{check_if_match, not_modified, with_etag};
use crate::scim::Profile;
use crate::scim::wire::{self, ListResponse, PATCH_SCHEMA};

const SIMPLE_ATTRS: &[&str] = &["username", "emails.value", "emails"];

pub(crate) type Answer = Result<Response, ScimError>;

/// The decoded `{id}` path segment; axum has already percent-decoded it.
pub(crate) fn path_id(p: Result<Path<String>, PathRejection>) -> Result<String, ScimError> {
    p.map(|Path(id)| id)
        .map_err(|e| ScimError::invalid_value(format!("invalid resource id: {e}")))
}

/// The attribute values a filter sees on a user.
pub(crate) fn user_attr<'a>(dir: &'a Directory, u: &'a UserRec) -> impl Fn(&str) -> Vec<Lit> + 'a {
    let rfc = dir.profile == Profile::Rfc7644;
    move |attr: &str| {
        let (given, family) = dir.shown_names(u);
        let s = |v: &str| vec![Lit::Str(v.to_owned())];
        match attr {
            "emails.value" | "emails" if rfc => {
                u.emails.iter().map(|e| Lit::Str(e.value.clone())).collect()
            }
            "username" | "emails.value" | "emails" => s(&u.email),
            "id" => s(&u.id),
            "active" => vec![Lit::Bool(u.active)],
            "name.givenname" => given.map(s).unwrap_or_default(),
            "name.familyname" => family.map(s).unwrap_or_default(),
            "meta.resourcetype" => s("User"),
            "externalid" if rfc => u.external_id.as_deref().map(s).unwrap_or_default(),
            "meta.created" if rfc => s(&u.created),
            "meta.lastmodified" if rfc => s(&u.modified),
            _ => Vec::new(),
        }
    }
}

pub(crate) async fn list(
    State(s): State<EmulatorState>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Answer {
    list_with(&s, &headers, &parse_query(raw.as_deref()))
}

/// `POST /Users/.search` (RFC 7644): the body's parameters, answered as a GET would be.
pub(crate) async fn search(
    State(s): State<EmulatorState>,
    headers: HeaderMap,
    body: Bytes,
) -> Answer {
    list_with(&s, &headers, &rfc::search_query(&body)?)
}

fn list_with(s: &EmulatorState, headers: &HeaderMap, q: &HashMap<String, String>) -> Answer {
    let page = Page::from_query(q, s.profile())?;
    let filter = match q.get("filter").filter(|f| !f.trim().is_empty()) {
        Some(f) => Some(Filter::parse(f, s.switches().rich_filters, SIMPLE_ATTRS)?),
        None => None,
    };
    // On RFC 7644 e-mails are not the user name: only userName is indexed.
    let indexed: &[&str] = match s.profile() {
        Profile::Amplitude => SIMPLE_ATTRS,
        Profile::Rfc7644 => &["username"],
    };
    let dir = s.dir();
    let seqs: (Vec<u64>, usize) = match &filter {
        None => (
            dir.users()
                .skip(page.start - 1)
                .take(page.size)
                .map(|(seq, _)| seq)
                .collect(),
            dir.user_count(),
        ),
        Some(f) => match indexed.iter().find_map(|a| f.eq_string(a)) {
            // The identity providers' lookup: answered from the index.
            Some(email) => page.take(dir.user_seq_by_email(email).into_iter()),
            None => page.take(
                dir.users()
                    .filter(|(_, u)| f.matches(&user_attr(&dir, u)))
                    .map(|(seq, _)| seq),
            ),
        },
    };
    let total = seqs.1 as u64;
    if s.profile() == Profile::Rfc7644 {
        let origin = origin(headers, s);
        let projection = Projection::from_query(q);
        let resources: Vec<Value> = seqs
            .0
            .iter()
            .filter_map(|seq| rfc::user_json(&dir, *seq, &origin))
            .map(|v| projection.apply(v))
            .collect();
        drop(dir);
        let n = resources.len() as u64;
        let body = ListResponse::new(resources, total, page.start as u64, n);
        return Ok(s.respond(StatusCode::OK, &body));
    }
    let resources: Vec<wire::User> = seqs
        .0
        .iter()
        .filter_map(|seq| dir.render_user(*seq, false))
        .collect();
    let ipp = page.items_per_page(s.profile(), resources.len());
    let body = ListResponse::new(resources, total, page.start as u64, ipp);
    drop(dir);
    Ok(s.respond(StatusCode::OK, &body))
}

pub(crate) async fn get(
    State(s): State<EmulatorState>,
    headers: HeaderMap,
    id: Result<Path<String>, PathRejection>,
    RawQuery(raw): RawQuery,
) -> Answer {
    let id = path_id(id)?;
    let dir = s.dir();
    let seq = dir.user_seq(&id).ok_or_else(|| user_not_found(&id))?;
    if s.profile() == Profile::Rfc7644 {
        let version = dir.user(seq).map_or(0, |u| u.version);
        if let Some(unchanged) = not_modified(&headers, version) {
            return Ok(unchanged);
        }
        let user =
            rfc::user_json(&dir, seq, &origin(&headers, &s)).ok_or_else(|| user_not_found(&id))?;
        drop(dir);
        let user = Projection::from_query(&parse_query(raw.as_deref())).apply(user);
        return Ok(with_etag(s.respond(StatusCode::OK, &user), version));
    }
    let user = dir
        .render_user(seq, true)
        .ok_or_else(|| user_not_found(&id))?;
    drop(dir);
    Ok(s.respond(StatusCode::OK, &user))
}

/// A single resource answer; on RFC 7644 with its `ETag`.
pub(crate) fn answer_one(
    s: &EmulatorState,
    status: StatusCode,
    body: Value,
    version: u64,
) -> Response {
    let response = s.respond(status, &body);
    match s.profile() {
        Profile::Amplitude => response,
        Profile::Rfc7644 => with_etag(response, version),
    }
}

fn user_not_found(id: &str) -> ScimError {
    ScimError::not_found(format!("User {id} not found"))
}

/// Parses a user body; `fallback_user_name` fills a missing `userName` (PUT/PATCH).
fn parse_user(
    body: &[u8],
    fallback_user_name: Option<&str>,
) -> Result<(Value, wire::User), ScimError> {
    let mut v = parse_json(body)?;
    let obj = v
        .as_object_mut()
        .ok_or_else(|| ScimError::invalid_syntax("the body must be a JSON object"))?;
    let has_name = obj
        .get("userName")
        .and_then(Value::as_str)
        .is_some_and(|n| !n.trim().is_empty());
    let mut parsed = obj.clone();
    if !has_name {
        let fallback =
            fallback_user_name.ok_or_else(|| ScimError::invalid_value("userName is required"))?;
        parsed.insert("userName".into(), json!(fallback));
    }
    let user: wire::User = serde_json::from_value(Value::Object(parsed))
        .map_err(|e| ScimError::invalid_syntax(format!("invalid user: {e}")))?;
    Ok((v, user))
}

/// Amplitude's echo: the request as sent, with `id` and `meta.resourceType` set.
fn echo(mut request: Value, id: &str) -> Value {
    if let Some(obj) = request.as_object_mut() {
        obj.insert("id".into(), json!(id));
        let meta = obj.entry("meta").or_insert_with(|| json!({}));
        if let Some(meta) = meta.as_object_mut() {
            meta.insert("resourceType".into(), json!("User"));
        }
    }
    request
}

fn location(headers: &HeaderMap, s: &EmulatorState, kind: &str, id: &str) -> Option<HeaderValue> {
    let host = headers.get(header::HOST)?.to_str().ok()?;
    let id = Profile::encode_id(id);
    HeaderValue::from_str(&format!(
        "http://{host}{}/{kind}/{id}",
        s.profile().base_path()
    ))
    .ok()
}

/// A 201 with the resource and its `Location` (RFC 7644).
pub(crate) fn created(
    s: &EmulatorState,
    headers: &HeaderMap,
    kind: &str,
    id: &str,
    body: &impl serde::Serialize,
) -> Response {
    let mut response = s.respond(StatusCode::CREATED, body);
    if let Some(loc) = location(headers, s, kind, id) {
        response.headers_mut().insert(header::LOCATION, loc);
    }
    response
}

pub(crate) async fn create(
    State(s): State<EmulatorState>,
    headers: HeaderMap,
    body: Bytes,
) -> Answer {
    let (request, user) = parse_user(&body, None)?;
    let email = user.user_name.trim().to_owned();
    let amplitude = s.profile() == Profile::Amplitude;
    if amplitude {
        validate_email(&email)?;
    }
    let given = user.given_name().map(str::to_owned);
    let family = user.family_name().map(str::to_owned);
    let emails = match request.get("emails") {
        Some(v) if !amplitude => parse_emails(v)?,
        _ => Vec::new(),
    };
    let mut dir = s.dir();
    let now = dir.stamp();
    // Amplitude sends an invitation: the user stays pending until accepted.
    let seq = dir.create_user(&email, given, family, amplitude, &now)?;
    if amplitude {
        drop(dir);
        return Ok(s.respond(StatusCode::CREATED, &echo(request, &email)));
    }
    if let Some(rec) = dir.user_mut(seq) {
        rec.emails = emails;
        rec.external_id = request
            .get("externalId")
            .and_then(Value::as_str)
            .map(str::to_owned);
        rec.active = user.active;
    }
    let origin = origin(&headers, &s);
    let stored = rfc::user_json(&dir, seq, &origin).ok_or_else(|| user_not_found(&email))?;
    let version = dir.user(seq).map_or(0, |u| u.version);
    drop(dir);
    let id = stored["id"].as_str().unwrap_or_default().to_owned();
    Ok(with_etag(
        created(&s, &headers, "Users", &id, &stored),
        version,
    ))
}

pub(crate) async fn replace(
    State(s): State<EmulatorState>,
    headers: HeaderMap,
    id: Result<Path<String>, PathRejection>,
    body: Bytes,
) -> Answer {
    let id = path_id(id)?;
    replace_with(&s, &headers, &id, &body)
}

/// PUT, and PATCH with a full user body: names and `active` change (RFC 7644: `userName`,
/// `externalId` and `emails` too, when sent); `groups` is ignored.
fn replace_with(s: &EmulatorState, headers: &HeaderMap, id: &str, body: &[u8]) -> Answer {
    let rfc = s.profile() == Profile::Rfc7644;
    let mut dir = s.dir();
    let seq = dir.user_seq(id).ok_or_else(|| user_not_found(id))?;
    let current = dir.user(seq).cloned().ok_or_else(|| user_not_found(id))?;
    let (stored_id, email) = (current.id.clone(), current.email.clone());
    if rfc {
        check_if_match(headers, current.version)?;
    }
    let (request, user) = parse_user(body, Some(&email))?;
    let user_name = user.user_name.trim();
    if rfc {
        dir.rename_user(seq, user_name)?;
        let emails = match request.get("emails") {
            Some(v) => Some(parse_emails(v)?),
            None => None,
        };
        if let Some(rec) = dir.user_mut(seq) {
            if let Some(emails) = emails {
                rec.emails = emails;
            }
            if let Some(external) = request.get("externalId") {
                rec.external_id = external.as_str().map(str::to_owned);
            }
            rec.active_unset = false;
        }
    } else if !user_name.eq_ignore_ascii_case(&email) {
        return Err(ScimError::bad_request(
            "mutability",
            "userName (the e-mail) cannot change",
        ));
    }
    let (given, family) = match &user.name {
        Some(_) => (
            user.given_name().map(str::to_owned),
            user.family_name().map(str::to_owned),
        ),
        None => (current.given, current.family),
    };
    let now = dir.stamp();
    dir.update_user(seq, given, family, user.active, &now);
    let answer = match s.profile() {
        Profile::Amplitude => echo(request, &stored_id),
        Profile::Rfc7644 => after_update(&dir, seq, &request, &stored_id, &origin(headers, s)),
    };
    let version = dir.user(seq).map_or(current.version, |u| u.version);
    drop(dir);
    Ok(answer_one(s, StatusCode::OK, answer, version))
}

/// The stored user after a write; a user just removed by `active: false` is shown inactive.
fn after_update(dir: &Directory, seq: u64, request: &Value, id: &str, origin: &str) -> Value {
    let stored = match dir.profile {
        Profile::Amplitude => dir
            .render_user(seq, true)
            .and_then(|u| serde_json::to_value(u).ok()),
        Profile::Rfc7644 => rfc::user_json(dir, seq, origin),
    };
    match stored {
        Some(user) => user,
        None => {
            let mut gone = echo(request.clone(), id);
            if let Some(obj) = gone.as_object_mut() {
                obj.insert("active".into(), json!(false));
                obj.insert("groups".into(), json!([]));
            }
            gone
        }
    }
}

pub(crate) async fn patch(
    State(s): State<EmulatorState>,
    headers: HeaderMap,
    id: Result<Path<String>, PathRejection>,
    body: Bytes,
) -> Answer {
    let id = path_id(id)?;
    let v = parse_json(&body)?;
    let is_patch_op = v.get("Operations").is_some()
        || v.get("schemas")
            .and_then(Value::as_array)
            .is_some_and(|a| a.iter().any(|s| s == PATCH_SCHEMA));
    if !is_patch_op {
        return replace_with(&s, &headers, &id, &body);
    }
    if !s.switches().user_patchop {
        return Err(ScimError::invalid_syntax(
            "PatchOp is not supported on Users: send the full user in a PATCH or PUT",
        ));
    }
    let op: wire::PatchOp = serde_json::from_value(v)
        .map_err(|e| ScimError::invalid_syntax(format!("invalid PatchOp: {e}")))?;
    let rfc = s.profile() == Profile::Rfc7644;
    let mut dir = s.dir();
    let seq = dir.user_seq(&id).ok_or_else(|| user_not_found(&id))?;
    let current = dir.user(seq).cloned().ok_or_else(|| user_not_found(&id))?;
    if rfc {
        check_if_match(&headers, current.version)?;
    }
    let mut next = UserPatch::new(&current, rfc);
    for operation in &op.operations {
        next.apply(operation)?;
    }
    let before = dir
        .render_user(seq, true)
        .map(|u| serde_json::to_value(u).unwrap_or_default())
        .unwrap_or_default();
    let now = dir.stamp();
    next.write(&mut dir, seq, &now)?;
    let answer = after_update(&dir, seq, &before, &current.id, &origin(&headers, &s));
    let version = dir.user(seq).map_or(current.version, |u| u.version);
    drop(dir);
    Ok(answer_one(&s, StatusCode::OK, answer, version))
}

pub(crate) async fn delete(
    State(s): State<EmulatorState>,
    headers: HeaderMap,
    id: Result<Path<String>, PathRejection>,
) -> Answer {
    let id = path_id(id)?;
    let mut dir = s.dir();
    let seq = dir.user_seq(&id).ok_or_else(|| user_not_found(&id))?;
    if s.profile() == Profile::Rfc7644 {
        let version = dir.user(seq).map_or(0, |u| u.version);
        check_if_match(&headers, version)?;
    }
    dir.delete_user(seq);
    Ok(StatusCode::NO_CONTENT.into_response())
}
