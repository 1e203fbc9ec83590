//! `/Users` handlers: list with paging and filters, get by id (the e-mail on Amplitude),
//! invite (`POST`), replace (`PUT`, full-body `PATCH`), PatchOp where switched on, delete.

use axum::body::Bytes;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use super::errors::{ScimError, parse_json};
use super::filter::{Filter, Lit};
use super::query::{Page, parse_query};
use super::state::EmulatorState;
use super::store::{Directory, UserRec, now_iso, validate_email};
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
fn user_attr<'a>(dir: &'a Directory, u: &'a UserRec) -> impl Fn(&str) -> Vec<Lit> + 'a {
    move |attr: &str| {
        let (given, family) = dir.shown_names(u);
        let s = |v: &str| vec![Lit::Str(v.to_owned())];
        match attr {
            "username" | "emails.value" | "emails" => s(&u.email),
            "id" => s(&u.id),
            "active" => vec![Lit::Bool(u.active)],
            "name.givenname" => given.map(s).unwrap_or_default(),
            "name.familyname" => family.map(s).unwrap_or_default(),
            "meta.resourcetype" => s("User"),
            _ => Vec::new(),
        }
    }
}

pub(crate) async fn list(State(s): State<EmulatorState>, RawQuery(raw): RawQuery) -> Answer {
    let q = parse_query(raw.as_deref());
    let page = Page::from_query(&q, s.profile())?;
    let filter = match q.get("filter").filter(|f| !f.trim().is_empty()) {
        Some(f) => Some(Filter::parse(f, s.switches().rich_filters, SIMPLE_ATTRS)?),
        None => None,
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
        Some(f) => match SIMPLE_ATTRS.iter().find_map(|a| f.eq_string(a)) {
            // The identity providers' lookup: answered from the index.
            Some(email) => page.take(dir.user_seq_by_email(email).into_iter()),
            None => page.take(
                dir.users()
                    .filter(|(_, u)| f.matches(&user_attr(&dir, u)))
                    .map(|(seq, _)| seq),
            ),
        },
    };
    let with_groups = s.profile() == Profile::Rfc7644;
    let resources: Vec<wire::User> = seqs
        .0
        .iter()
        .filter_map(|seq| dir.render_user(*seq, with_groups))
        .collect();
    let ipp = page.items_per_page(s.profile(), resources.len());
    let body = ListResponse::new(resources, seqs.1 as u64, page.start as u64, ipp);
    drop(dir);
    Ok(s.respond(StatusCode::OK, &body))
}

pub(crate) async fn get(
    State(s): State<EmulatorState>,
    id: Result<Path<String>, PathRejection>,
) -> Answer {
    let id = path_id(id)?;
    let dir = s.dir();
    let user = dir
        .user_seq(&id)
        .and_then(|seq| dir.render_user(seq, true))
        .ok_or_else(|| user_not_found(&id))?;
    drop(dir);
    Ok(s.respond(StatusCode::OK, &user))
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
    let mut dir = s.dir();
    // Amplitude sends an invitation: the user stays pending until accepted.
    let seq = dir.create_user(&email, given, family, amplitude, &now_iso())?;
    if amplitude {
        drop(dir);
        return Ok(s.respond(StatusCode::CREATED, &echo(request, &email)));
    }
    let stored = dir
        .render_user(seq, true)
        .ok_or_else(|| user_not_found(&email))?;
    drop(dir);
    let id = stored.id.clone().unwrap_or_default();
    Ok(created(&s, &headers, "Users", &id, &stored))
}

pub(crate) async fn replace(
    State(s): State<EmulatorState>,
    id: Result<Path<String>, PathRejection>,
    body: Bytes,
) -> Answer {
    let id = path_id(id)?;
    replace_with(&s, &id, &body)
}

/// PUT, and PATCH with a full user body: names and `active` change; `groups` is ignored.
fn replace_with(s: &EmulatorState, id: &str, body: &[u8]) -> Answer {
    let mut dir = s.dir();
    let seq = dir.user_seq(id).ok_or_else(|| user_not_found(id))?;
    let (stored_id, email) = dir
        .user(seq)
        .map(|u| (u.id.clone(), u.email.clone()))
        .ok_or_else(|| user_not_found(id))?;
    let (request, user) = parse_user(body, Some(&email))?;
    if !user.user_name.trim().eq_ignore_ascii_case(&email) {
        return Err(ScimError::bad_request(
            "mutability",
            "userName (the e-mail) cannot change",
        ));
    }
    let current = dir.user(seq).cloned().ok_or_else(|| user_not_found(id))?;
    let (given, family) = match &user.name {
        Some(_) => (
            user.given_name().map(str::to_owned),
            user.family_name().map(str::to_owned),
        ),
        None => (current.given, current.family),
    };
    dir.update_user(seq, given, family, user.active, &now_iso());
    let answer = match s.profile() {
        Profile::Amplitude => echo(request, &stored_id),
        Profile::Rfc7644 => after_update(&dir, seq, &request, &stored_id),
    };
    drop(dir);
    Ok(s.respond(StatusCode::OK, &answer))
}

/// The stored user after a write; a user just removed by `active: false` is shown inactive.
fn after_update(dir: &Directory, seq: u64, request: &Value, id: &str) -> Value {
    match dir.render_user(seq, true) {
        Some(user) => serde_json::to_value(user).unwrap_or_default(),
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
        return replace_with(&s, &id, &body);
    }
    if !s.switches().user_patchop {
        return Err(ScimError::invalid_syntax(
            "PatchOp is not supported on Users: send the full user in a PATCH or PUT",
        ));
    }
    let op: wire::PatchOp = serde_json::from_value(v)
        .map_err(|e| ScimError::invalid_syntax(format!("invalid PatchOp: {e}")))?;
    let mut dir = s.dir();
    let seq = dir.user_seq(&id).ok_or_else(|| user_not_found(&id))?;
    let current = dir.user(seq).cloned().ok_or_else(|| user_not_found(&id))?;
    let mut next = Changes {
        given: current.given.clone(),
        family: current.family.clone(),
        active: current.active,
    };
    for operation in &op.operations {
        next.apply(operation)?;
    }
    let before = dir
        .render_user(seq, true)
        .map(|u| serde_json::to_value(u).unwrap_or_default())
        .unwrap_or_default();
    dir.update_user(seq, next.given, next.family, next.active, &now_iso());
    let answer = after_update(&dir, seq, &before, &current.id);
    drop(dir);
    Ok(s.respond(StatusCode::OK, &answer))
}

/// The attributes a user PatchOp may change.
struct Changes {
    given: Option<String>,
    family: Option<String>,
    active: bool,
}

impl Changes {
    fn apply(&mut self, op: &wire::PatchOperation) -> Result<(), ScimError> {
        let path = op.path.as_deref().map(str::to_ascii_lowercase);
        match op.op.to_ascii_lowercase().as_str() {
            "replace" | "add" => match (path.as_deref(), &op.value) {
                (_, None) => Err(ScimError::invalid_value("a value is required")),
                (None, Some(Value::Object(obj))) => obj
                    .iter()
                    .try_for_each(|(k, v)| self.set(&k.to_ascii_lowercase(), v)),
                (None, Some(_)) => Err(ScimError::invalid_value(
                    "a pathless replace needs an object value",
                )),
                (Some(p), Some(v)) => self.set(p, v),
            },
            "remove" => {
                match path.as_deref() {
                    Some("name.givenname") => self.given = None,
                    Some("name.familyname") => self.family = None,
                    Some(p) => return Err(ScimError::invalid_path(format!("cannot remove {p}"))),
                    None => return Err(ScimError::bad_request("noTarget", "remove needs a path")),
                }
                Ok(())
            }
            other => Err(ScimError::invalid_syntax(format!(
                "unknown PatchOp op {other:?}"
            ))),
        }
    }

    fn set(&mut self, path: &str, v: &Value) -> Result<(), ScimError> {
        let text = |v: &Value| {
            v.as_str()
                .map(str::to_owned)
                .ok_or_else(|| ScimError::invalid_value(format!("{path} must be a string")))
        };
        match path {
            "active" => {
                self.active = v
                    .as_bool()
                    .ok_or_else(|| ScimError::invalid_value("active must be a boolean"))?;
            }
            "name.givenname" => self.given = Some(text(v)?),
            "name.familyname" => self.family = Some(text(v)?),
            "name" => {
                let obj: &Map<String, Value> = v
                    .as_object()
                    .ok_or_else(|| ScimError::invalid_value("name must be an object"))?;
                for (k, v) in obj {
                    self.set(&format!("name.{}", k.to_ascii_lowercase()), v)?;
                }
            }
            // Read-only or immutable here; identity providers resend them.
            "schemas" | "id" | "meta" | "username" | "name.formatted" => {}
            other => {
                return Err(ScimError::invalid_path(format!(
                    "attribute {other} cannot be patched"
                )));
            }
        }
        Ok(())
    }
}

pub(crate) async fn delete(
    State(s): State<EmulatorState>,
    id: Result<Path<String>, PathRejection>,
) -> Answer {
    let id = path_id(id)?;
    let mut dir = s.dir();
    let seq = dir.user_seq(&id).ok_or_else(|| user_not_found(&id))?;
    dir.delete_user(seq);
    Ok(StatusCode::NO_CONTENT.into_response())
}
