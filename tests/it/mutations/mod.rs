//! The GraphQL mutations through real HTTP: each write checked at the emulator (its state and
//! its request log), read back with no extra upstream call, validated before any call, and
//! truthful about its outcome under faults and a saturated budget.

mod bulk;
mod faults;
mod grants;
mod groups;
mod idempotency;
mod invites;
mod journal;
mod priority;
mod users;
mod validation;
mod without_graphql;

use percent_encoding::percent_decode_str;
use scimgate::emulator::LoggedRequest;
use serde_json::Value;

use crate::support::TestApp;

/// What every payload has.
const COMMON: &str = "clientMutationId outcome userErrors { code field message }";

pub const USER_FIELDS: &str = "id email givenName familyName status \
    groups(first: 100) { totalCount edges { node { upstreamId name } } }";

pub const GROUP_FIELDS: &str = "id upstreamId name memberCount \
    members(first: 100) { totalCount edges { node { email } } }";

pub const GRANT_FIELDS: &str = "id state standing overdue reason grantedBy grantedAt expiresAt \
    revocationLagMs userEmail user { email } group { upstreamId name } history { state note }";

/// The payload's own fields, by mutation.
fn payload_fields(name: &str) -> String {
    match name {
        "inviteUser" => format!("user {{ {USER_FIELDS} }} groupsApplied {{ id upstreamId name }}"),
        "updateUser" | "deactivateUser" => format!("user {{ {USER_FIELDS} }}"),
        "deleteUser" => "deletedUserId".to_owned(),
        "deactivateUsers" => "dryRun upstreamCalls estimatedSeconds \
            results { id email outcome userError { code field message } }"
            .to_owned(),
        "createGroup" | "renameGroup" | "addGroupMembers" | "removeGroupMembers" => {
            format!("group {{ {GROUP_FIELDS} }}")
        }
        "deleteGroup" => "deletedGroupId".to_owned(),
        "grantGroupAccess" | "revokeGrant" | "extendGrant" => format!("grant {{ {GRANT_FIELDS} }}"),
        "refreshDirectory" => {
            "org { slug } estimatedCalls estimatedSeconds alreadyRunning".to_owned()
        }
        other => panic!("no payload fields for mutation {other}"),
    }
}

/// `mutation($input: XInput!) { x(input: $input) { ... } }` for mutation `x`.
pub fn mutation_text(name: &str) -> String {
    let mut input_type = name[..1].to_uppercase();
    input_type.push_str(&name[1..]);
    format!(
        "mutation($input: {input_type}Input!) {{ {name}(input: $input) {{ {COMMON} {} }} }}",
        payload_fields(name)
    )
}

/// Runs mutation `name` and returns the whole response body.
pub async fn mutate_body(app: &TestApp, name: &str, input: Value) -> Value {
    app.query(&mutation_text(name), serde_json::json!({ "input": input }))
        .await
}

/// Runs mutation `name`, fails on any top-level error, and returns `data.<name>`.
pub async fn mutate(app: &TestApp, name: &str, input: Value) -> Value {
    let body = mutate_body(app, name, input).await;
    assert!(
        body.get("errors").is_none(),
        "{name}: unexpected top-level errors: {body:#}"
    );
    body["data"][name].clone()
}

/// The codes of a payload's `userErrors`, in order.
pub fn error_codes(payload: &Value) -> Vec<String> {
    payload["userErrors"]
        .as_array()
        .unwrap_or_else(|| panic!("no userErrors in {payload:#}"))
        .iter()
        .map(|e| e["code"].as_str().unwrap_or("<no code>").to_owned())
        .collect()
}

/// Asserts outcome FAILED with exactly one user error of `code`; returns that error.
pub fn assert_failed_with(payload: &Value, code: &str) -> Value {
    assert_eq!(payload["outcome"], "FAILED", "{payload:#}");
    assert_eq!(error_codes(payload), vec![code.to_owned()], "{payload:#}");
    let error = payload["userErrors"][0].clone();
    assert!(
        !error["message"]
            .as_str()
            .unwrap_or_default()
            .trim()
            .is_empty(),
        "a user error says why: {error}"
    );
    error
}

/// Asserts outcome SUCCESS with no user errors.
pub fn assert_success(payload: &Value) {
    assert_eq!(payload["outcome"], "SUCCESS", "{payload:#}");
    assert_eq!(
        payload["userErrors"].as_array().map(Vec::len),
        Some(0),
        "{payload:#}"
    );
}

/// The `[String]` of a user error's `field`.
pub fn field_of(error: &Value) -> Vec<String> {
    error["field"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|s| s.as_str().unwrap_or_default().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// A user's global id, read from the (warm) mirror of the only organization.
pub async fn user_id(app: &TestApp, email: &str) -> String {
    user_id_in(app, None, email).await
}

pub async fn user_id_in(app: &TestApp, org: Option<&str>, email: &str) -> String {
    let data = app
        .data(
            "query($org: ID, $email: String!) { org(id: $org) { user(email: $email) { id } } }",
            serde_json::json!({ "org": org, "email": email }),
        )
        .await;
    data["org"]["user"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no user {email}: {data}"))
        .to_owned()
}

/// A group's global id, from its upstream id.
pub async fn group_id_in(app: &TestApp, org: Option<&str>, upstream_id: &str) -> String {
    let data = app
        .data(
            "query($org: ID, $id: ID!) { org(id: $org) { group(id: $id) { id } } }",
            serde_json::json!({ "org": org, "id": upstream_id }),
        )
        .await;
    data["org"]["group"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no group {upstream_id}: {data}"))
        .to_owned()
}

/// The emulator's log from request number `mark` on (`mark` = the log's length earlier).
pub fn log_since(app: &TestApp, mark: usize) -> Vec<LoggedRequest> {
    app.emulator().requests().into_iter().skip(mark).collect()
}

/// Every request but GETs, as `(method, decoded path)`.
pub fn writes(log: &[LoggedRequest]) -> Vec<(String, String)> {
    log.iter()
        .filter(|r| r.method != "GET")
        .map(|r| (r.method.clone(), decoded(&r.path)))
        .collect()
}

/// A logged path, percent-decoded and lower-cased (e-mails are case-insensitive ids).
pub fn decoded(path: &str) -> String {
    percent_decode_str(path).decode_utf8_lossy().to_lowercase()
}

/// `/scim/1/Users/<id>` (or the profile's base), as `decoded` writes it.
pub fn user_path(app: &TestApp, id: &str) -> String {
    format!("{}/users/{}", base(app), id.to_lowercase())
}

pub fn group_path(app: &TestApp, id: &str) -> String {
    format!("{}/groups/{}", base(app), id.to_lowercase())
}

pub fn base(app: &TestApp) -> String {
    app.emulator().state().profile().base_path().to_lowercase()
}

/// The e-mails of a group at the emulator, lower-cased and sorted.
pub fn members_at_emulator(app: &TestApp, group_id: &str) -> Vec<String> {
    let group = app
        .emulator()
        .state()
        .group(group_id)
        .unwrap_or_else(|| panic!("group {group_id} at the emulator"));
    let mut emails: Vec<String> = group
        .members
        .iter()
        .map(|m| m.value.to_lowercase())
        .collect();
    emails.sort();
    emails
}

/// Seeded users who have joined (real names), in creation order.
pub fn joined_users(app: &TestApp) -> Vec<String> {
    app.emulator()
        .state()
        .users()
        .into_iter()
        .filter(|u| u.given_name() != Some("NO_GIVEN_NAME"))
        .map(|u| u.user_name)
        .collect()
}

/// The e-mails a GraphQL connection of users lists, lower-cased and sorted.
pub fn emails_of(connection: &Value) -> Vec<String> {
    let mut emails: Vec<String> = connection["edges"]
        .as_array()
        .unwrap_or_else(|| panic!("not a connection: {connection}"))
        .iter()
        .map(|e| {
            e["node"]["email"]
                .as_str()
                .unwrap_or_default()
                .to_lowercase()
        })
        .collect();
    emails.sort();
    emails
}
