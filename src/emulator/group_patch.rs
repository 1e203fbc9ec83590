//! A PatchOp on a group planned into actions (RFC 7644 §3.5.2), each validated before the
//! group changes: member additions and removals (by value array or filter path), renames,
//! member replacement and, on RFC 7644, `externalId`.

use serde_json::Value;

use super::errors::ScimError;
use super::filter::Filter;
use super::groups::member_values;
use super::state::EmulatorState;
use crate::scim::Profile;
use crate::scim::wire;

/// One PatchOp operation on a group, validated before anything changes.
pub(crate) enum Action {
    Add(Vec<String>),
    Remove(Vec<String>),
    RemoveAll,
    RemoveWhere(Filter),
    Rename(String),
    ReplaceMembers(Vec<String>),
    /// RFC 7644 only.
    ExternalId(Option<String>),
}

pub(crate) fn plan(s: &EmulatorState, op: &wire::PatchOperation) -> Result<Vec<Action>, ScimError> {
    let switches = s.switches();
    let rfc = s.profile() == Profile::Rfc7644;
    let path = op.path.as_deref().map(str::trim).map(|p| {
        p.strip_prefix(wire::GROUP_SCHEMA)
            .and_then(|rest| rest.strip_prefix(':'))
            .unwrap_or(p)
    });
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
    let external = |v: &Value| {
        v.as_str()
            .map(|e| Action::ExternalId(Some(e.to_owned())))
            .ok_or_else(|| ScimError::invalid_value("externalId must be a string"))
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
                "externalid" if rfc => actions.push(external(v)?),
                _ => {}
            }
        }
        Ok(actions)
    };
    let action = match (op.op.to_ascii_lowercase().as_str(), lower.as_deref()) {
        ("add", None) => return pathless(Action::Add),
        ("add", Some("members")) => Action::Add(member_values(value()?)?),
        ("add" | "replace", Some("externalid")) if rfc => external(value()?)?,
        ("remove", Some("externalid")) if rfc => Action::ExternalId(None),
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
