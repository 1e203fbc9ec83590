//! `/Groups` handlers: list (members inside), get, create (200 on Amplitude, inviting unknown
//! e-mails), PatchOp add/remove/replace, PUT, delete; group ids as numbers or strings.

use std::collections::BTreeSet;

use axum::body::Bytes;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use serde_json::{Value, json};

use super::config::{GroupIdFormat, MemberChange};
use super::errors::{ScimError, parse_json};
use super::filter::{Filter, Lit};
use super::query::{Page, parse_query};
use super::state::EmulatorState;
use super::store::{Directory, GroupRec, now_iso, validate_email};
use super::users::{Answer, created, path_id};
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

fn render(s: &EmulatorState, dir: &Directory, seq: u64, at: IdAt) -> Result<Value, ScimError> {
    let group = dir
        .render_group(seq)
        .ok_or_else(|| ScimError::not_found("Group not found"))?;
    Ok(group_value(s, group, at))
}

fn group_seq(dir: &Directory, id: &str) -> Result<u64, ScimError> {
    dir.group_seq(id)
        .ok_or_else(|| ScimError::not_found(format!("Group {id} not found")))
}

fn group_attr<'a>(dir: &'a Directory, g: &'a GroupRec) -> impl Fn(&str) -> Vec<Lit> + 'a {
    move |attr: &str| match attr {
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

pub(crate) async fn list(State(s): State<EmulatorState>, RawQuery(raw): RawQuery) -> Answer {
    let q = parse_query(raw.as_deref());
    let page = match s.switches().group_paging {
        true => Page::from_query(&q, s.profile())?,
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
    let resources = seqs
        .into_iter()
        .map(|seq| render(&s, &dir, seq, IdAt::List))
        .collect::<Result<Vec<_>, _>>()?;
    drop(dir);
    let ipp = page.items_per_page(s.profile(), resources.len());
    let body = ListResponse::new(resources, total as u64, page.start as u64, ipp);
    Ok(s.respond(StatusCode::OK, &body))
}

pub(crate) async fn get(
    State(s): State<EmulatorState>,
    id: Result<Path<String>, PathRejection>,
) -> Answer {
    let id = path_id(id)?;
    let dir = s.dir();
    let body = render(&s, &dir, group_seq(&dir, &id)?, IdAt::Get)?;
    drop(dir);
    Ok(s.respond(StatusCode::OK, &body))
}

/// `[{"value": "..."}]` (or one such object) as a list of values.
fn member_values(v: &Value) -> Result<Vec<String>, ScimError> {
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

/// `displayName` (required) and `members` (optional) of a POST or PUT body.
fn parse_group(body: &[u8]) -> Result<(String, Vec<String>), ScimError> {
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
    Ok((name.to_owned(), members))
}

pub(crate) async fn create(
    State(s): State<EmulatorState>,
    headers: HeaderMap,
    body: Bytes,
) -> Answer {
    let (name, values) = parse_group(&body)?;
    let mut dir = s.dir();
    dir.check_group_name(&name, None)?;
    check_members(&dir, &values)?;
    let now = now_iso();
    let members = resolve_members(&mut dir, &values, &now);
    let seq = dir.create_group(&name, members, &now);
    let body = render(&s, &dir, seq, IdAt::Create)?;
    drop(dir);
    Ok(match s.profile() {
        Profile::Amplitude => s.respond(StatusCode::OK, &body),
        Profile::Rfc7644 => {
            let id = body
                .get("id")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned();
            created(&s, &headers, "Groups", &id, &body)
        }
    })
}

pub(crate) async fn replace(
    State(s): State<EmulatorState>,
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
    let (name, values) = parse_group(&body)?;
    let mut dir = s.dir();
    let seq = group_seq(&dir, &id)?;
    dir.check_group_name(&name, Some(seq))?;
    check_members(&dir, &values)?;
    let now = now_iso();
    let members = resolve_members(&mut dir, &values, &now);
    if let Some(group) = dir.group_mut(seq) {
        group.name = name;
        group.members = members;
        group.modified = now;
    }
    let body = render(&s, &dir, seq, IdAt::Write)?;
    drop(dir);
    Ok(s.respond(StatusCode::OK, &body))
}

/// One PatchOp operation on a group, validated before anything changes.
enum Action {
    Add(Vec<String>),
    Remove(Vec<String>),
    RemoveAll,
    RemoveWhere(Filter),
    Rename(String),
    ReplaceMembers(Vec<String>),
}

fn plan(s: &EmulatorState, op: &wire::PatchOperation) -> Result<Vec<Action>, ScimError> {
    let switches = s.switches();
    let path = op.path.as_deref().map(str::trim);
    let lower = path.map(str::to_ascii_lowercase);
    let value = || {
        op.value
            .as_ref()
            .ok_or_else(|| ScimError::invalid_value("a value is required"))
    };
    let name = |v: &Value| {
        v.as_str()
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .map(|n| Action::Rename(n.to_owned()))
            .ok_or_else(|| ScimError::invalid_value("displayName must be a non-empty string"))
    };
    // A pathless add or replace carries an object of attributes.
    let pathless = |members: fn(Vec<String>) -> Action| -> Result<Vec<Action>, ScimError> {
        let obj = value()?.as_object().ok_or_else(|| {
            ScimError::invalid_value("a pathless operation needs an object value")
        })?;
        let mut actions = Vec::new();
        for (k, v) in obj {
            match k.to_ascii_lowercase().as_str() {
                "members" => actions.push(members(member_values(v)?)),
                "displayname" if switches.group_replace => actions.push(name(v)?),
                "displayname" => {
                    return Err(ScimError::invalid_syntax(
                        "renaming a group is not supported",
                    ));
                }
                _ => {}
            }
        }
        Ok(actions)
    };
    let action = match (op.op.to_ascii_lowercase().as_str(), lower.as_deref()) {
        ("add", None) => return pathless(Action::Add),
        ("add", Some("members")) => Action::Add(member_values(value()?)?),
        ("remove", None) => return Err(ScimError::bad_request("noTarget", "remove needs a path")),
        ("remove", Some("members")) => match &op.value {
            None | Some(Value::Null) => Action::RemoveAll,
            Some(v) => Action::Remove(member_values(v)?),
        },
        ("remove", Some(p)) if p.starts_with("members[") && p.ends_with(']') => {
            if !switches.filter_path_remove {
                return Err(ScimError::invalid_path(
                    "filter paths are not supported: remove with path \"members\" and a value array",
                ));
            }
            let inner = path
                .map(|p| &p["members[".len()..p.len() - 1])
                .unwrap_or_default();
            Action::RemoveWhere(Filter::parse(inner, switches.rich_filters, &["value"])?)
        }
        ("replace", _) if !switches.group_replace => {
            return Err(ScimError::invalid_syntax(
                "replace is not supported on Groups: use add and remove",
            ));
        }
        ("replace", None) => return pathless(Action::ReplaceMembers),
        ("replace", Some("displayname")) => name(value()?)?,
        ("replace", Some("members")) => Action::ReplaceMembers(member_values(value()?)?),
        ("add" | "remove" | "replace", Some(p)) => {
            return Err(ScimError::invalid_path(format!("unsupported path {p:?}")));
        }
        (other, _) => {
            return Err(ScimError::invalid_syntax(format!(
                "unknown PatchOp op {other:?}"
            )));
        }
    };
    Ok(vec![action])
}

pub(crate) async fn patch(
    State(s): State<EmulatorState>,
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
    for action in &actions {
        match action {
            Action::Add(v) | Action::ReplaceMembers(v) => check_members(&dir, v)?,
            Action::Rename(name) => dir.check_group_name(name, Some(seq))?,
            _ => {}
        }
    }
    let now = now_iso();
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
        }
    }
    group.modified = now;
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
    for (member, added) in changes {
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
    let body = render(&s, &dir, seq, IdAt::Write)?;
    drop(dir);
    Ok(s.respond(StatusCode::OK, &body))
}

pub(crate) async fn delete(
    State(s): State<EmulatorState>,
    id: Result<Path<String>, PathRejection>,
) -> Answer {
    let id = path_id(id)?;
    let mut dir = s.dir();
    let seq = group_seq(&dir, &id)?;
    dir.delete_group(seq);
    Ok(StatusCode::NO_CONTENT.into_response())
}
