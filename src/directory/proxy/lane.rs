//! Which budget lane a forwarded SCIM request takes, read off the request alone (and, for a
//! group `PUT`, the mirror's members): revocations go `Critical`, other writes `Write`,
//! reads `Interactive`. Where a request cannot be told apart, it goes the more urgent way:
//! a revocation is never queued behind ordinary writes.

use serde_json::Value;

use crate::budget::Lane;
use crate::directory::Snapshot;

/// What a path below the SCIM root names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Target {
    /// `/Users/{id}`, the id percent-decoded.
    User(String),
    /// `/Groups/{id}`.
    Group(String),
    /// `/Users`.
    Users,
    /// `/Groups`.
    Groups,
    /// `/.search`, `/Users/.search`, `/Groups/.search`: a query sent as a POST.
    Search,
    /// Discovery: `/ServiceProviderConfig`, `/ResourceTypes`, `/Schemas`.
    Other,
}

impl Target {
    pub(crate) fn of(path: &str) -> Target {
        let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        let decode = |s: &str| {
            percent_encoding::percent_decode_str(s)
                .decode_utf8_lossy()
                .into_owned()
        };
        match segments.as_slice() {
            [_, ".search"] | [".search"] => Target::Search,
            ["Users"] => Target::Users,
            ["Groups"] => Target::Groups,
            ["Users", id] => Target::User(decode(id)),
            ["Groups", id] => Target::Group(decode(id)),
            _ => Target::Other,
        }
    }
}

/// Whether the request changes something (a `POST` to a `.search` endpoint is a read).
pub(crate) fn is_write(method: &reqwest::Method, target: &Target) -> bool {
    !(*method == reqwest::Method::GET
        || *method == reqwest::Method::HEAD
        || (*method == reqwest::Method::POST && *target == Target::Search))
}

/// The lane of a request: `Critical` for `DELETE`, a user set `active: false` (by `PUT` or
/// `PATCH`), and a group change that may remove members (a `remove` operation, a `replace`
/// of `members`, or a `PUT` whose members leave out one the mirror has, or of a group it
/// lacks); `Write` for the other writes; `Interactive` for reads.
pub(crate) fn lane_of(
    method: &reqwest::Method,
    target: &Target,
    body: Option<&Value>,
    snapshot: &Snapshot,
) -> Lane {
    if !is_write(method, target) {
        return Lane::Interactive;
    }
    let critical = match (method.as_str(), target) {
        ("DELETE", _) => true,
        ("PUT", Target::User(_)) => {
            body.is_some_and(|b| b.get("active") == Some(&Value::Bool(false)))
        }
        ("PATCH", Target::User(_)) => operations(body).any(deactivates),
        ("PATCH", Target::Group(_)) => operations(body).any(removes_members),
        ("PUT", Target::Group(id)) => match snapshot.group(id) {
            Some(group) => {
                let kept: Vec<String> = members_of(body);
                group
                    .member_keys
                    .iter()
                    .any(|key| !kept.iter().any(|k| k.eq_ignore_ascii_case(key)))
            }
            None => true,
        },
        _ => false,
    };
    if critical {
        Lane::Critical
    } else {
        Lane::Write
    }
}

/// A PatchOp's operations (`Operations`, or `operations` as some clients write it).
fn operations(body: Option<&Value>) -> impl Iterator<Item = &Value> {
    body.and_then(|b| b.get("Operations").or_else(|| b.get("operations")))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
}

fn op_is(op: &Value, name: &str) -> bool {
    op.get("op")
        .and_then(Value::as_str)
        .is_some_and(|o| o.eq_ignore_ascii_case(name))
}

fn path_is(op: &Value, name: &str) -> bool {
    op.get("path")
        .and_then(Value::as_str)
        .is_some_and(|p| p.trim().to_ascii_lowercase().starts_with(name))
}

/// `replace`/`add` of `active` with `false`, by path or in a value object.
fn deactivates(op: &Value) -> bool {
    if !(op_is(op, "replace") || op_is(op, "add")) {
        return op_is(op, "remove") && path_is(op, "active");
    }
    let value = op.get("value");
    let falsy = |v: Option<&Value>| {
        matches!(v, Some(Value::Bool(false))) || v.and_then(Value::as_str) == Some("false")
    };
    if path_is(op, "active") {
        return falsy(value);
    }
    op.get("path").is_none() && falsy(value.and_then(|v| v.get("active")))
}

/// Any `remove`, or a `replace` of `members` (which drops whoever it leaves out).
fn removes_members(op: &Value) -> bool {
    if op_is(op, "remove") {
        return true;
    }
    op_is(op, "replace")
        && (path_is(op, "members")
            || (op.get("path").is_none()
                && op.get("value").is_some_and(|v| v.get("members").is_some())))
}

/// The member values a group body lists.
fn members_of(body: Option<&Value>) -> Vec<String> {
    body.and_then(|b| b.get("members"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|m| m.get("value"))
        .filter_map(|v| match v {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use reqwest::Method;
    use serde_json::json;

    use super::*;

    fn lane(method: Method, path: &str, body: Value) -> Lane {
        let body = (!body.is_null()).then_some(body);
        lane_of(
            &method,
            &Target::of(path),
            body.as_ref(),
            &Snapshot::empty(),
        )
    }

    #[test]
    fn revocations_go_critical_other_writes_write_and_reads_interactive() {
        use Lane::*;
        let remove =
            json!({ "Operations": [{ "op": "Remove", "path": "members[value eq \"a@x.io\"]" }] });
        let add = json!({ "Operations": [{ "op": "add", "path": "members", "value": [{ "value": "a@x.io" }] }] });
        let off = json!({ "Operations": [{ "op": "replace", "path": "active", "value": false }] });
        let off_in_value =
            json!({ "Operations": [{ "op": "replace", "value": { "active": false } }] });
        let rename =
            json!({ "Operations": [{ "op": "replace", "path": "displayName", "value": "x" }] });
        let replace_members =
            json!({ "Operations": [{ "op": "replace", "path": "members", "value": [] }] });
        let cases = [
            (Method::GET, "/Users", Value::Null, Interactive),
            (Method::GET, "/Users/a%40x.io", Value::Null, Interactive),
            (Method::POST, "/Users/.search", json!({}), Interactive),
            (Method::POST, "/.search", json!({}), Interactive),
            (
                Method::POST,
                "/Users",
                json!({ "userName": "a@x.io" }),
                Write,
            ),
            (
                Method::POST,
                "/Groups",
                json!({ "displayName": "g" }),
                Write,
            ),
            (Method::PUT, "/Users/a", json!({ "active": true }), Write),
            (
                Method::PUT,
                "/Users/a",
                json!({ "active": false }),
                Critical,
            ),
            (Method::PATCH, "/Users/a", off, Critical),
            (Method::PATCH, "/Users/a", off_in_value, Critical),
            (Method::PATCH, "/Users/a", rename.clone(), Write),
            (Method::PATCH, "/Groups/1", remove, Critical),
            (Method::PATCH, "/Groups/1", replace_members, Critical),
            (Method::PATCH, "/Groups/1", add, Write),
            (Method::PATCH, "/Groups/1", rename, Write),
            // A group the mirror does not have: its members cannot be compared.
            (
                Method::PUT,
                "/Groups/1",
                json!({ "displayName": "g", "members": [] }),
                Critical,
            ),
            (Method::DELETE, "/Users/a", Value::Null, Critical),
            (Method::DELETE, "/Groups/1", Value::Null, Critical),
        ];
        for (method, path, body, want) in cases {
            let shown = format!("{method} {path} {body}");
            assert_eq!(lane(method, path, body), want, "{shown}");
        }
    }

    #[test]
    fn targets_are_read_off_the_path() {
        assert_eq!(Target::of("/Users/a%40x.io"), Target::User("a@x.io".into()));
        assert_eq!(Target::of("/Groups/7"), Target::Group("7".into()));
        assert_eq!(Target::of("/Groups/.search"), Target::Search);
        assert_eq!(Target::of("/Schemas/x"), Target::Other);
        assert!(!is_write(&Method::POST, &Target::Search));
        assert!(is_write(&Method::POST, &Target::Users));
    }
}
