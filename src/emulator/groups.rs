//! `/Groups` handlers: list (members inside), get, create (200 on Amplitude, inviting unknown
//! e-mails), PatchOp add/remove/replace, PUT, delete; group ids as numbers or strings.

use std::collections::{BTreeSet, HashMap};

use axum::body::Bytes;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use serde_json::{Value, json};

use super::config::{GroupIdFormat, MemberChange};
use super::errors::{ScimError, parse_json};
use super::filter::{Filter, Lit};
use super::group_patch::{Action, plan};
use super::query::{Page, parse_query};
use super::rfc::{self, Projection, origin};
use super::state::EmulatorState;
use super::store::{Directory, GroupRec, validate_email};
use super::users::{Answer, answer_one, created, path_id};
use super::versions::{check_if_match, not_modified, with_etag};
use crate::scim::Profile;
use crate::scim::wire::{self, ListResponse};

/// Where a group is written, which decides a number or a string id on Amplitude ("mixed").
#[derive(Clone, Copy, PartialEq, Eq)]
enum IdAt {
    List,
    Create,
    Get,
    Write,
}

fn group_value(s: &EmulatorState, group: wire::Group, at: IdAt) -> Value {
    let mut v = serde_json::to_value(group).unwrap_or_default();
    let numeric = s.profile() == Profile::Amplitude
        && match s.switches().group_id_format {
            GroupIdFormat::Number => true,
            GroupIdFormat::String => false,
            GroupIdFormat::Mixed => matches!(at, IdAt::List | IdAt::Create),
        };
    if numeric
        && let Some(n) = v
            .get("id")
            .and_then(Value::as_str)
            .and_then(|id| id.parse::<u64>().ok())
    {
        v["id"] = json!(n);
    }
    v
}

/// A group as the profile answers it; `origin` is the SCIM root for RFC 7644's `meta.location`.
fn render(
    s: &EmulatorState,
    dir: &Directory,
    seq: u64,
    at: IdAt,
    origin: &str,
) -> Result<Value, ScimError> {
    let missing = || ScimError::not_found("Group not found");
    match s.profile() {
        Profile::Amplitude => Ok(group_value(
            s,
            dir.render_group(seq).ok_or_else(missing)?,
            at,
        )),
        Profile::Rfc7644 => rfc::group_json(dir, seq, origin).ok_or_else(missing),
    }
}

fn version(dir: &Directory, seq: u64) -> u64 {
    dir.group(seq).map_or(0, |g| g.version)
}

fn group_seq(dir: &Directory, id: &str) -> Result<u64, ScimError> {
    dir.group_seq(id)
        .ok_or_else(|| ScimError::not_found(format!("Group {id} not found")))
}

/// The attribute values a filter sees on a group.
pub(crate) fn group_attr<'a>(
    dir: &'a Directory,
    g: &'a GroupRec,
) -> impl Fn(&str) -> Vec<Lit> + 'a {
    let rfc = dir.profile == Profile::Rfc7644;
    move |attr: &str| match attr {
        "externalid" if rfc => g.external_id.iter().map(|e| Lit::Str(e.clone())).collect(),
        "meta.created" if rfc => vec![Lit::Str(g.created.clone())],
        "meta.lastmodified" if rfc => vec![Lit::Str(g.modified.clone())],
        "displayname" => vec![Lit::Str(g.name.clone())],
        "id" => vec![Lit::Str(g.id.clone())],
        "members" | "members.value" => g
            .members
            .iter()
            .filter_map(|m| dir.user(*m))
            .map(|u| Lit::Str(u.id.clone()))
            .collect(),
        _ => Vec::new(),
    }
}

pub(crate) async fn list(
    State(s): State<EmulatorState>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Answer {
    list_with(&s, &headers, &parse_query(raw.as_deref()))
}

/// `POST /Groups/.search` (RFC 7644): the body's parameters, answered as a GET would be.
pub(crate) async fn search(
    State(s): State<EmulatorState>,
    headers: HeaderMap,
    body: Bytes,
) -> Answer {
    list_with(&s, &headers, &rfc::search_query(&body)?)
}

fn list_with(s: &EmulatorState, headers: &HeaderMap, q: &HashMap<String, String>) -> Answer {
    let page = match s.switches().group_paging {
        true => Page::from_query(q, s.profile())?,
        false => Page::all(),
    };
    let filter = match q.get("filter").filter(|f| !f.trim().is_empty()) {
        Some(f) => Some(Filter::parse(
            f,
            s.switches().rich_filters,
            &["displayname"],
        )?),
        None => None,
    };
    let dir = s.dir();
    let (seqs, total) = page.take(
        dir.groups()
            .filter(|(_, g)| {
                filter
                    .as_ref()
                    .is_none_or(|f| f.matches(&group_attr(&dir, g)))
            })
            .map(|(seq, _)| seq),
    );
    let origin = origin(headers, s);
    let projection = Projection::for_profile(s.profile(), q);
    let resources = seqs
        .into_iter()
        .map(|seq| render(s, &dir, seq, IdAt::List, &origin).map(|v| projection.apply(v)))
        .collect::<Result<Vec<_>, _>>()?;
    drop(dir);
    let ipp = page.items_per_page(s.profile(), resources.len());
    let body = ListResponse::new(resources, total as u64, page.start as u64, ipp);
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
    let seq = group_seq(&dir, &id)?;
    let version = version(&dir, seq);
    if s.profile() == Profile::Rfc7644
        && let Some(unchanged) = not_modified(&headers, version)
    {
        return Ok(unchanged);
    }
    let body = render(&s, &dir, seq, IdAt::Get, &origin(&headers, &s))?;
    drop(dir);
    let body = Projection::for_profile(s.profile(), &parse_query(raw.as_deref())).apply(body);
    Ok(answer_one(&s, StatusCode::OK, body, version))
}

/// `[{"value": "..."}]` (or one such object) as a list of values.
pub(crate) fn member_values(v: &Value) -> Result<Vec<String>, ScimError> {
    let one = |m: &Value| match m.get("value") {
        Some(Value::String(s)) => Ok(s.trim().to_owned()),
        Some(Value::Number(n)) => Ok(n.to_string()),
        _ => Err(ScimError::invalid_value(
            "members must be objects with a string value",
        )),
    };
    match v {
        Value::Array(items) => items.iter().map(one).collect(),
        Value::Object(_) => Ok(vec![one(v)?]),
        _ => Err(ScimError::invalid_value(
            "members must be an array of {\"value\": ...}",
        )),
    }
}

/// Fails unless every value can become a member: an existing user, or (Amplitude) an e-mail
/// that will be invited.
fn check_members(dir: &Directory, values: &[String]) -> Result<(), ScimError> {
    for value in values.iter().filter(|v| dir.user_seq(v).is_none()) {
        match dir.profile {
            Profile::Amplitude => validate_email(value)?,
            Profile::Rfc7644 => {
                return Err(ScimError::invalid_value(format!("no user with id {value}")));
            }
        }
    }
    Ok(())
}

/// Existing users' sequence numbers; unknown e-mails are invited (call `check_members` first).
fn resolve_members(dir: &mut Directory, values: &[String], now: &str) -> BTreeSet<u64> {
    values
        .iter()
        .filter_map(|v| dir.user_seq(v).or_else(|| dir.invite(v, now).ok()))
        .collect()
}

/// A POST or PUT body: `displayName` (required), `members` and `externalId` (optional).
struct GroupBody {
    name: String,
    members: Vec<String>,
    external_id: Option<String>,
}

fn parse_group(body: &[u8]) -> Result<GroupBody, ScimError> {
    let v = parse_json(body)?;
    if !v.is_object() {
        return Err(ScimError::invalid_syntax("the body must be a JSON object"));
    }
    let name = v
        .get("displayName")
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .ok_or_else(|| ScimError::invalid_value("displayName is required"))?;
    let members = match v.get("members") {
        None | Some(Value::Null) => Vec::new(),
        Some(m) => member_values(m)?,
    };
    let external_id = v
        .get("externalId")
        .and_then(Value::as_str)
        .map(str::to_owned);
    Ok(GroupBody {
        name: name.to_owned(),
        members,
        external_id,
    })
}

pub(crate) async fn create(
    State(s): State<EmulatorState>,
    headers: HeaderMap,
    body: Bytes,
) -> Answer {
    let request = parse_group(&body)?;
    let mut dir = s.dir();
    dir.check_group_name(&request.name, None)?;
    check_members(&dir, &request.members)?;
    let now = dir.stamp();
    let members = resolve_members(&mut dir, &request.members, &now);
    let seq = dir.create_group(&request.name, members, &now);
    let rfc = s.profile() == Profile::Rfc7644;
    if rfc && let Some(group) = dir.group_mut(seq) {
        group.external_id = request.external_id;
    }
    let body = render(&s, &dir, seq, IdAt::Create, &origin(&headers, &s))?;
    let version = version(&dir, seq);
    drop(dir);
    Ok(match s.profile() {
        Profile::Amplitude => s.respond(StatusCode::OK, &body),
        Profile::Rfc7644 => {
            let id = body
                .get("id")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned();
            with_etag(created(&s, &headers, "Groups", &id, &body), version)
        }
    })
}

pub(crate) async fn replace(
    State(s): State<EmulatorState>,
    headers: HeaderMap,
    id: Result<Path<String>, PathRejection>,
    body: Bytes,
) -> Answer {
    let id = path_id(id)?;
    if !s.switches().group_put {
        return Err(ScimError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            None,
            "PUT is not supported on Groups; use PATCH",
        ));
    }
    let request = parse_group(&body)?;
    let rfc = s.profile() == Profile::Rfc7644;
    let mut dir = s.dir();
    let seq = group_seq(&dir, &id)?;
    if rfc {
        check_if_match(&headers, version(&dir, seq))?;
    }
    dir.check_group_name(&request.name, Some(seq))?;
    check_members(&dir, &request.members)?;
    let now = dir.stamp();
    let members = resolve_members(&mut dir, &request.members, &now);
    let mut touched = Vec::new();
    if let Some(group) = dir.group_mut(seq) {
        touched = group.members.union(&members).copied().collect();
        group.name = request.name;
        group.members = members;
        if rfc {
            group.external_id = request.external_id;
        }
    }
    dir.touch_group(seq, &now);
    dir.touch_users(touched, &now);
    let body = render(&s, &dir, seq, IdAt::Write, &origin(&headers, &s))?;
    let version = version(&dir, seq);
    drop(dir);
    Ok(answer_one(&s, StatusCode::OK, body, version))
}

pub(crate) async fn patch(
    State(s): State<EmulatorState>,
    headers: HeaderMap,
    id: Result<Path<String>, PathRejection>,
    body: Bytes,
) -> Answer {
    let id = path_id(id)?;
    let op: wire::PatchOp = serde_json::from_value(parse_json(&body)?)
        .map_err(|e| ScimError::invalid_syntax(format!("invalid PatchOp: {e}")))?;
    if op.operations.is_empty() {
        return Err(ScimError::invalid_syntax("Operations is empty"));
    }
    let mut actions = Vec::new();
    for operation in &op.operations {
        actions.extend(plan(&s, operation)?);
    }
    let mut dir = s.dir();
    let seq = group_seq(&dir, &id)?;
    if s.profile() == Profile::Rfc7644 {
        check_if_match(&headers, version(&dir, seq))?;
    }
    for action in &actions {
        match action {
            Action::Add(v) | Action::ReplaceMembers(v) => check_members(&dir, v)?,
            Action::Rename(name) => dir.check_group_name(name, Some(seq))?,
            _ => {}
        }
    }
    let now = dir.stamp();
    let Some(mut group) = dir.group(seq).cloned() else {
        return Err(ScimError::not_found(format!("Group {id} not found")));
    };
    for action in actions {
        match action {
            Action::Add(v) => group.members.extend(resolve_members(&mut dir, &v, &now)),
            Action::ReplaceMembers(v) => group.members = resolve_members(&mut dir, &v, &now),
            Action::Remove(v) => {
                for seq in v.iter().filter_map(|v| dir.user_seq(v)) {
                    group.members.remove(&seq);
                }
            }
            Action::RemoveAll => group.members.clear(),
            Action::RemoveWhere(filter) => group.members.retain(|m| {
                let Some(u) = dir.user(*m) else { return false };
                let display = dir.member_display(u);
                !filter.matches(&|attr: &str| match attr {
                    "value" => vec![Lit::Str(u.id.clone())],
                    "display" => vec![Lit::Str(display.clone())],
                    _ => Vec::new(),
                })
            }),
            Action::Rename(name) => group.name = name,
            Action::ExternalId(e) => group.external_id = e,
        }
    }
    let t_ms = s.started_at().elapsed().as_millis() as u64;
    let before = dir
        .group(seq)
        .map(|g| g.members.clone())
        .unwrap_or_default();
    let changes: Vec<(u64, bool)> = before
        .difference(&group.members)
        .map(|&m| (m, false))
        .chain(group.members.difference(&before).map(|&m| (m, true)))
        .collect();
    let renamed = dir.group(seq).is_some_and(|g| g.name != group.name);
    let touched: Vec<u64> = match renamed {
        // Every member's `groups` shows the new name.
        true => before.union(&group.members).copied().collect(),
        false => changes.iter().map(|(m, _)| *m).collect(),
    };
    for &(member, added) in &changes {
        if let Some(email) = dir.user(member).map(|u| u.email.to_lowercase()) {
            dir.member_log.push(MemberChange {
                t_ms,
                group: group.id.clone(),
                member: email,
                added,
            });
        }
    }
    if let Some(stored) = dir.group_mut(seq) {
        *stored = group;
    }
    dir.touch_group(seq, &now);
    dir.touch_users(touched, &now);
    let body = render(&s, &dir, seq, IdAt::Write, &origin(&headers, &s))?;
    let version = version(&dir, seq);
    drop(dir);
    Ok(answer_one(&s, StatusCode::OK, body, version))
}

pub(crate) async fn delete(
    State(s): State<EmulatorState>,
    headers: HeaderMap,
    id: Result<Path<String>, PathRejection>,
) -> Answer {
    let id = path_id(id)?;
    let mut dir = s.dir();
    let seq = group_seq(&dir, &id)?;
    if s.profile() == Profile::Rfc7644 {
        check_if_match(&headers, version(&dir, seq))?;
    }
    dir.delete_group(seq);
    Ok(StatusCode::NO_CONTENT.into_response())
}
