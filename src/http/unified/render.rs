//! The unified view's shapes: one normalized JSON object per user and per group, the same
//! for every organization's SCIM dialect, with the raw SCIM resource under `remote_data` when
//! asked; ids are the GraphQL API's global ids, so either API takes the other's.

use serde_json::{Value, json};

use crate::directory::{Directory, GroupRec, Snapshot, Status, UserRec};
use crate::graphql::ids::{GlobalId, Kind};

pub(super) fn status(s: Status) -> &'static str {
    match s {
        Status::Active => "ACTIVE",
        Status::Invited => "INVITED",
        Status::Deactivated => "DEACTIVATED",
    }
}

pub(super) fn user_id(dir: &Directory, key: &str) -> String {
    GlobalId::new(Kind::User, dir.org_id().as_str(), key).encode()
}

pub(super) fn group_id(dir: &Directory, id: &str) -> String {
    GlobalId::new(Kind::Group, dir.org_id().as_str(), id).encode()
}

/// A user: `id`, `remote_id`, `email`, `emails`, `first_name`, `last_name`, `status`,
/// `groups` (their ids), `remote_data` (the SCIM resource) when `remote` is asked.
pub(super) fn user(dir: &Directory, snapshot: &Snapshot, rec: &UserRec, remote: bool) -> Value {
    let groups: Vec<String> = snapshot
        .groups_of(rec.key())
        .map(|g| group_id(dir, &g.id))
        .collect();
    let mut out = json!({
        "id": user_id(dir, rec.key()),
        "remote_id": rec.id(),
        "email": rec.email(),
        "emails": [rec.email()],
        "first_name": rec.given_name(),
        "last_name": rec.family_name(),
        "status": status(rec.status(dir.has_open_invite(rec.key()))),
        "groups": groups,
    });
    if remote {
        out["remote_data"] = serde_json::to_value(rec.resource()).unwrap_or_default();
    }
    out
}

/// A group: `id`, `remote_id`, `name`, `members` (user ids), `remote_data` when asked.
pub(super) fn group(dir: &Directory, rec: &GroupRec, remote: bool) -> Value {
    let members: Vec<String> = rec.member_keys.iter().map(|k| user_id(dir, k)).collect();
    let mut out = json!({
        "id": group_id(dir, &rec.id),
        "remote_id": rec.id,
        "name": rec.group.display_name,
        "members": members,
    });
    if remote {
        out["remote_data"] = serde_json::to_value(rec.resource()).unwrap_or_default();
    }
    out
}
