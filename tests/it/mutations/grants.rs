//! `grantGroupAccess`, `revokeGrant`, `extendGrant`, `Org.grants`, `User.grants` and
//! `Group.grants` through HTTP: payloads, user errors, and the membership at the emulator.

use serde_json::{Value, json};

use super::{
    GRANT_FIELDS, assert_failed_with, assert_success, log_since, members_at_emulator, mutate,
    writes,
};
use crate::support::TestApp;

/// A warmed app, a group with members, and a user outside it.
async fn setup() -> (TestApp, String, String) {
    let app = TestApp::one(30, 3).await;
    app.warm().await;
    let snap = app.gateway.dirs.all()[0].snapshot();
    let group = snap
        .groups()
        .iter()
        .find(|g| !g.member_keys.is_empty())
        .expect("a group with members")
        .clone();
    let outsider = snap
        .users()
        .iter()
        .map(|u| u.email().to_lowercase())
        .find(|e| !group.member_keys.contains(e))
        .expect("a user outside the group");
    (app, group.id.clone(), outsider)
}

async fn grant(app: &TestApp, group: &str, user: &str, duration: &str) -> Value {
    mutate(
        app,
        "grantGroupAccess",
        json!({ "userId": user, "groupId": group, "duration": duration, "reason": "incident 42" }),
    )
    .await
}

#[tokio::test]
async fn grant_group_access_adds_the_member_and_the_grant_reads_back_by_org_and_node() {
    let (app, group, user) = setup().await;
    let mark = app.emulator().requests().len();
    let payload = grant(&app, &group, &user, "4h").await;
    assert_success(&payload);
    let g = &payload["grant"];
    assert_eq!(g["state"], "ACTIVE", "{payload:#}");
    assert_eq!(g["standing"], false);
    assert_eq!(g["overdue"], false);
    assert_eq!(g["reason"], "incident 42");
    assert_eq!(g["grantedBy"], "test-admin");
    assert_eq!(
        g["user"]["email"].as_str().map(str::to_lowercase),
        Some(user.clone())
    );
    assert_eq!(g["group"]["upstreamId"], group.as_str());
    assert_eq!(g["revocationLagMs"], Value::Null);
    let states: Vec<_> = g["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["state"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(states, ["PENDING", "ACTIVE"]);
    assert_eq!(writes(&log_since(&app, mark)).len(), 1, "one PATCH");
    assert!(members_at_emulator(&app, &group).contains(&user));

    let listed = app
        .query(
            "query($user: ID!) { org { grants(first: 10, filter: { state: ACTIVE, userId: $user }) \
             { totalCount edges { cursor node { id state } } pageInfo { hasNextPage endCursor } } } }",
            json!({ "user": user }),
        )
        .await;
    assert!(listed.get("errors").is_none(), "{listed:#}");
    let conn = &listed["data"]["org"]["grants"];
    assert_eq!(conn["totalCount"], 1, "{listed:#}");
    assert_eq!(conn["edges"][0]["node"]["id"], g["id"]);
    assert_eq!(conn["pageInfo"]["hasNextPage"], false);

    let node = app
        .query(
            &format!("query($id: ID!) {{ node(id: $id) {{ ... on Grant {{ {GRANT_FIELDS} }} }} }}"),
            json!({ "id": g["id"] }),
        )
        .await;
    assert!(node.get("errors").is_none(), "{node:#}");
    assert_eq!(node["data"]["node"]["reason"], "incident 42");
    assert_eq!(node["data"]["node"]["expiresAt"], g["expiresAt"]);
}

#[tokio::test]
async fn grants_past_the_maximum_or_without_one_end_are_refused_before_anything_is_sent() {
    let (app, group, user) = setup().await;
    let mark = app.emulator().requests().len();
    let long = grant(&app, &group, &user, "8days").await;
    let error = assert_failed_with(&long, "GRANT_TOO_LONG");
    assert_eq!(error["field"], json!(["input", "duration"]));
    let both = mutate(
        &app,
        "grantGroupAccess",
        json!({ "userId": user, "groupId": group, "duration": "1h",
                "expiresAt": "2099-01-01T00:00:00Z", "reason": "x" }),
    )
    .await;
    assert_failed_with(&both, "INVALID_DURATION");
    let garbled = grant(&app, &group, &user, "soon").await;
    assert_failed_with(&garbled, "INVALID_DURATION");
    let unexplained = mutate(
        &app,
        "grantGroupAccess",
        json!({ "userId": user, "groupId": group, "duration": "1h", "reason": "  " }),
    )
    .await;
    let error = assert_failed_with(&unexplained, "INVALID_REASON");
    assert_eq!(error["field"], json!(["input", "reason"]));
    assert!(log_since(&app, mark).is_empty(), "nothing sent");
    assert!(!members_at_emulator(&app, &group).contains(&user));
}

#[tokio::test]
async fn revoke_grant_removes_the_member_now_and_a_second_revocation_is_refused() {
    let (app, group, user) = setup().await;
    let granted = grant(&app, &group, &user, "4h").await;
    let id = granted["grant"]["id"].clone();
    let mark = app.emulator().requests().len();
    let revoked = mutate(&app, "revokeGrant", json!({ "id": id })).await;
    assert_success(&revoked);
    assert_eq!(revoked["grant"]["state"], "REVOKED", "{revoked:#}");
    assert!(revoked["grant"]["revocationLagMs"].is_i64());
    assert_eq!(writes(&log_since(&app, mark)).len(), 1, "one PATCH");
    assert!(!members_at_emulator(&app, &group).contains(&user));
    let again = mutate(&app, "revokeGrant", json!({ "id": id })).await;
    assert_failed_with(&again, "GRANT_NOT_ACTIVE");

    let log = app
        .query(
            "{ org { auditLog(first: 4) { edges { node { actor action outcome } } } } }",
            json!({}),
        )
        .await;
    assert!(log.get("errors").is_none(), "{log:#}");
    let rows: Vec<(String, String, String)> = log["data"]["org"]["auditLog"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let n = &e["node"];
            let s = |k: &str| n[k].as_str().unwrap_or_default().to_owned();
            (s("actor"), s("action"), s("outcome"))
        })
        .collect();
    let row = |actor: &str, action: &str, outcome: &str| {
        (actor.to_owned(), action.to_owned(), outcome.to_owned())
    };
    assert_eq!(
        rows,
        [
            row("test-admin", "revokeGrant", "FAILED"),
            row("test-admin", "revokeGrant", "SUCCESS"),
            row("system", "grant.revoke", "SUCCESS"),
            row("test-admin", "grantGroupAccess", "SUCCESS"),
        ],
        "newest first: the grant, the removal, the revocation, the refused second one"
    );
}

#[tokio::test]
async fn extend_grant_moves_the_end_within_the_maximum() {
    let (app, group, user) = setup().await;
    let granted = grant(&app, &group, &user, "1h").await;
    let id = granted["grant"]["id"].clone();
    let ends =
        |v: &Value| humantime::parse_rfc3339(v["grant"]["expiresAt"].as_str().unwrap()).unwrap();
    let before = ends(&granted);
    let extended = mutate(&app, "extendGrant", json!({ "id": id, "by": "2h" })).await;
    assert_success(&extended);
    assert_eq!(
        ends(&extended).duration_since(before).unwrap().as_secs(),
        7_200
    );
    let too_far = mutate(&app, "extendGrant", json!({ "id": id, "by": "7days" })).await;
    let error = assert_failed_with(&too_far, "GRANT_TOO_LONG");
    assert_eq!(error["field"], json!(["input", "by"]));
    let bad_id = mutate(&app, "extendGrant", json!({ "id": "nope", "by": "1h" })).await;
    assert_failed_with(&bad_id, "INVALID_ID");
}

#[tokio::test]
async fn read_keys_see_grants_but_may_not_grant_and_other_organizations_see_none() {
    use scimgate::auth::Role;
    use scimgate::config::LimitsConfig;

    use crate::support::{OrgSpec, error_code, spawn_app_with};

    let app = spawn_app_with(
        vec![OrgSpec::new("acme", 30, 3), OrgSpec::new("globex", 30, 3)],
        &[
            ("acme-read", Role::Read, &["acme"]),
            ("globex-read", Role::Read, &["globex"]),
        ],
        LimitsConfig::default(),
    )
    .await;
    app.warm().await;
    let snap = app.gateway.dirs.get("acme").unwrap().snapshot();
    let group = snap.groups()[0].clone();
    let user = snap
        .users()
        .iter()
        .map(|u| u.email().to_lowercase())
        .find(|e| !group.member_keys.contains(e))
        .unwrap();
    let found = app
        .data(
            r#"query($g: ID!) { org(id: "acme") { group(id: $g) { id } } }"#,
            json!({ "g": group.id }),
        )
        .await;
    let group_id = found["org"]["group"]["id"].clone();
    let input = json!({ "userId": user, "groupId": group_id, "duration": "1h", "reason": "x" });
    let text = super::mutation_text("grantGroupAccess");
    let mark = app.emulator().requests().len();
    let refused = app
        .query_as(&app.keys["acme-read"], &text, json!({ "input": input }))
        .await;
    assert_eq!(error_code(&refused), "FORBIDDEN", "{refused:#}");
    assert!(log_since(&app, mark).is_empty(), "a read key sent nothing");

    let granted = app.query(&text, json!({ "input": input })).await;
    let id = granted["data"]["grantGroupAccess"]["grant"]["id"].clone();
    assert!(id.is_string(), "{granted:#}");
    let read = r#"query($id: ID!) { node(id: $id) { ... on Grant { state } }
        org(id: "acme") { grants(first: 5) { totalCount } } }"#;
    let seen = app
        .query_as(&app.keys["acme-read"], read, json!({ "id": id }))
        .await;
    assert!(seen.get("errors").is_none(), "{seen:#}");
    assert_eq!(seen["data"]["node"]["state"], "ACTIVE");
    assert_eq!(seen["data"]["org"]["grants"]["totalCount"], 1);
    let foreign = app
        .query_as(
            &app.keys["globex-read"],
            r#"query($id: ID!) { node(id: $id) { id } }"#,
            json!({ "id": id }),
        )
        .await;
    assert!(foreign.get("errors").is_none(), "{foreign:#}");
    assert_eq!(
        foreign["data"]["node"],
        Value::Null,
        "another organization's grant looks absent"
    );
}

#[tokio::test]
async fn a_group_with_its_own_maximum_refuses_longer_grants_and_extensions_naming_its_limit() {
    let (mut app, group, user) = setup().await;
    let snap = app.gateway.dirs.all()[0].snapshot();
    let name = snap
        .groups()
        .iter()
        .find(|g| g.id == group)
        .unwrap()
        .group
        .display_name
        .clone();
    let other = snap
        .groups()
        .iter()
        .find(|g| g.id != group && !g.member_keys.contains(&user))
        .expect("another group without the user")
        .clone();
    // Configured in another case than the upstream spells it; the lower maximum applies, so
    // a group limit above the organization's changes nothing.
    app.config.grants.groups = [
        (
            name.to_uppercase(),
            std::time::Duration::from_secs(4 * 3_600),
        ),
        (
            other.group.display_name.clone(),
            std::time::Duration::from_secs(30 * 86_400),
        ),
    ]
    .into();
    let app = app.restart().await;
    app.warm().await;
    let mark = app.emulator().requests().len();

    let long = grant(&app, &group, &user, "5h").await;
    let error = assert_failed_with(&long, "GRANT_TOO_LONG");
    assert_eq!(error["field"], json!(["input", "duration"]));
    let message = error["message"].as_str().unwrap();
    assert!(
        message.contains("4h") && message.contains(&name.to_uppercase()),
        "{message}"
    );
    let elsewhere = grant(&app, &other.id, &user, "8days").await;
    let error = assert_failed_with(&elsewhere, "GRANT_TOO_LONG");
    assert!(
        error["message"].as_str().unwrap().contains("7days"),
        "{elsewhere:#}"
    );
    assert!(log_since(&app, mark).is_empty(), "nothing sent");

    let within = grant(&app, &group, &user, "3h").await;
    assert_success(&within);
    let id = within["grant"]["id"].clone();
    let too_far = mutate(&app, "extendGrant", json!({ "id": id, "by": "2h" })).await;
    let error = assert_failed_with(&too_far, "GRANT_TOO_LONG");
    assert_eq!(error["field"], json!(["input", "by"]));
    assert!(
        error["message"].as_str().unwrap().contains("4h"),
        "{too_far:#}"
    );
    let closer = mutate(&app, "extendGrant", json!({ "id": id, "by": "30m" })).await;
    assert_success(&closer);
    assert!(members_at_emulator(&app, &group).contains(&user));
}

#[tokio::test]
async fn a_user_and_a_group_list_their_own_grants_by_state_a_page_at_a_time() {
    let (app, group, user) = setup().await;
    let snap = app.gateway.dirs.all()[0].snapshot();
    let other_group = snap
        .groups()
        .iter()
        .find(|g| g.id != group && !g.member_keys.contains(&user))
        .expect("another group without the user")
        .id
        .clone();
    let other_user = snap
        .users()
        .iter()
        .map(|u| u.email().to_lowercase())
        .find(|e| {
            *e != user
                && !snap
                    .groups()
                    .iter()
                    .any(|g| g.id == group && g.member_keys.contains(e))
        })
        .expect("a second user outside the group");
    let first = grant(&app, &group, &user, "1h").await;
    assert_success(&first);
    assert_success(&grant(&app, &other_group, &user, "2h").await);
    assert_success(&grant(&app, &group, &other_user, "3h").await);
    let revoked = mutate(&app, "revokeGrant", json!({ "id": first["grant"]["id"] })).await;
    assert_success(&revoked);

    let body = app
        .query(
            "query($id: ID!) { node(id: $id) { ... on Grant { \
               user { all: grants(first: 10) { totalCount edges { node { state group { upstreamId } } } } \
                      active: grants(first: 10, state: ACTIVE) { totalCount edges { node { group { upstreamId } } } } \
                      one: grants(first: 1) { edges { cursor node { id } } pageInfo { hasNextPage endCursor } } } \
               group { grants(first: 10) { totalCount edges { node { state userEmail } } } \
                       revoked: grants(first: 10, state: REVOKED) { totalCount edges { node { id } } } } } } }",
            json!({ "id": first["grant"]["id"] }),
        )
        .await;
    assert!(body.get("errors").is_none(), "{body:#}");
    let node = &body["data"]["node"];
    let u = &node["user"];
    assert_eq!(u["all"]["totalCount"], 2, "{body:#}");
    assert_eq!(u["active"]["totalCount"], 1, "{body:#}");
    assert_eq!(
        u["active"]["edges"][0]["node"]["group"]["upstreamId"],
        other_group.as_str()
    );
    assert_eq!(u["one"]["pageInfo"]["hasNextPage"], true);
    let g = &node["group"];
    assert_eq!(g["grants"]["totalCount"], 2, "{body:#}");
    let mut emails: Vec<String> = g["grants"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["userEmail"].as_str().unwrap().to_lowercase())
        .collect();
    emails.sort();
    let mut expected = vec![user.clone(), other_user.clone()];
    expected.sort();
    assert_eq!(emails, expected);
    assert_eq!(g["revoked"]["totalCount"], 1);
    assert_eq!(g["revoked"]["edges"][0]["node"]["id"], first["grant"]["id"]);

    // The next page of the user's grants holds the other one.
    let cursor = u["one"]["pageInfo"]["endCursor"].clone();
    let next = app
        .query(
            "query($id: ID!, $after: String) { node(id: $id) { ... on Grant { user { \
               grants(first: 1, after: $after) { edges { node { id } } pageInfo { hasNextPage } } } } } }",
            json!({ "id": first["grant"]["id"], "after": cursor }),
        )
        .await;
    assert!(next.get("errors").is_none(), "{next:#}");
    let page = &next["data"]["node"]["user"]["grants"];
    assert_eq!(page["pageInfo"]["hasNextPage"], false, "{next:#}");
    assert_eq!(page["edges"].as_array().unwrap().len(), 1);
    assert_ne!(
        page["edges"][0]["node"]["id"],
        u["one"]["edges"][0]["node"]["id"]
    );
}
