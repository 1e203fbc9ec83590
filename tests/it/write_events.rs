//! The gateway's own writes in the organization's event log: one event per user or group a
//! write left changed, with its actor, in the same transaction as the write's audit row; none
//! for a write that did not happen.

use serde_json::{Value, json};

use crate::mutations::{assert_success, joined_users, mutate, user_id};
use crate::support::TestApp;

const EVENTS: &str = "{ org { events(first: 50) { edges { node { seq kind actor subjectKind subjectId data } } } } }";

async fn events(app: &TestApp) -> Vec<Value> {
    let body = app.data(EVENTS, json!({})).await;
    body["org"]["events"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"].clone())
        .collect()
}

#[tokio::test]
async fn writes_that_happened_are_events_with_their_actor_and_refused_ones_are_not() {
    let app = TestApp::one(30, 3).await;
    app.warm().await;
    let users = joined_users(&app);
    let invited = mutate(
        &app,
        "inviteUser",
        json!({ "email": "new.hire@example.com", "givenName": "New", "familyName": "Hire" }),
    )
    .await;
    assert_success(&invited);
    let refused = mutate(
        &app,
        "inviteUser",
        json!({ "email": "not an address", "givenName": "No", "familyName": "Body" }),
    )
    .await;
    assert_eq!(refused["outcome"], "FAILED", "{refused:#}");
    let id = user_id(&app, &users[0]).await;
    assert_success(&mutate(&app, "deactivateUser", json!({ "id": id })).await);
    let created = mutate(
        &app,
        "createGroup",
        json!({ "name": "Incident Responders", "memberIds": [users[1], users[2]] }),
    )
    .await;
    assert_success(&created);
    let group = created["group"]["id"].as_str().unwrap().to_owned();
    let removed = mutate(
        &app,
        "removeGroupMembers",
        json!({ "groupId": group, "userIds": [user_id(&app, &users[1]).await] }),
    )
    .await;
    assert_success(&removed);

    let log = events(&app).await;
    let seen: Vec<(&str, &str, &str)> = log
        .iter()
        .map(|e| {
            (
                e["kind"].as_str().unwrap(),
                e["actor"].as_str().unwrap(),
                e["subjectKind"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            ("user.invited", "test-admin", "User"),
            ("user.deactivated", "test-admin", "User"),
            ("group.created", "test-admin", "Group"),
            ("group.members_removed", "test-admin", "Group"),
        ],
        "{log:#?}"
    );
    assert_eq!(log[0]["data"]["email"], "new.hire@example.com");
    assert_eq!(log[1]["data"]["email"], users[0].to_lowercase().as_str());
    assert_eq!(log[1]["data"]["outcome"], "SUCCESS");
    let seqs: Vec<i64> = log.iter().map(|e| e["seq"].as_i64().unwrap()).collect();
    assert_eq!(seqs, [1, 2, 3, 4]);
    // The group's event names the group (a node) and the users the input named.
    assert_eq!(log[3]["subjectId"], group.as_str());
    let named = log[3]["data"]["users"].as_array().unwrap();
    assert_eq!(named.len(), 1, "{log:#?}");
    let node = app
        .data(
            "query($id: ID!) { node(id: $id) { ... on Group { name memberCount } } }",
            json!({ "id": log[3]["subjectId"] }),
        )
        .await;
    assert_eq!(node["node"]["name"], "Incident Responders");
    assert_eq!(node["node"]["memberCount"], 1);
}
