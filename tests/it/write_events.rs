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

#[tokio::test]
async fn a_refresh_records_what_changed_behind_the_gateways_back_and_not_its_own_writes() {
    use scimgate::scim::wire::User;

    let app = TestApp::one(30, 3).await;
    app.warm().await;
    let users = joined_users(&app);
    let dir = app.gateway.dirs.all()[0].clone();
    // One write through the gateway: an event of its own, and nothing again at the refresh.
    let id = user_id(&app, &users[0]).await;
    assert_success(&mutate(&app, "deactivateUser", json!({ "id": id })).await);
    // Behind its back: a user added, another removed, a member added to a group.
    let emu = app.emulator();
    emu.state()
        .add_user(User::new("side.door@example.com", "Side", "Door"))
        .unwrap();
    assert!(emu.state().remove_user(&users[1]));
    let group = emu.state().groups()[0].clone();
    let gid = group.id.clone().unwrap().to_string();
    let members: Vec<String> = group
        .members
        .iter()
        .map(|m| m.value.to_lowercase())
        .collect();
    let outsider = users[2..]
        .iter()
        .find(|u| !members.contains(&u.to_lowercase()))
        .unwrap()
        .clone();
    let op = json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{ "op": "add", "path": "members", "value": [{ "value": outsider }] }],
    });
    let answer = reqwest::Client::new()
        .patch(format!("{}/Groups/{gid}", emu.base_url()))
        .bearer_auth(emu.token())
        .json(&op)
        .send()
        .await
        .unwrap();
    assert!(answer.status().is_success());
    // A refresh already under way (one a write started) may have read before the changes:
    // refresh until one that began after them has run.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let log = loop {
        dir.refresh().await.unwrap();
        let log = events(&app).await;
        if log.iter().any(|e| e["kind"] == "user.added") {
            break log;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no refresh found the changes: {log:#?}"
        );
    };
    let seen: Vec<(&str, &str)> = log
        .iter()
        .map(|e| (e["kind"].as_str().unwrap(), e["actor"].as_str().unwrap()))
        .collect();
    assert_eq!(seen[0], ("user.deactivated", "test-admin"), "{log:#?}");
    let mut found: Vec<(&str, &str)> = seen[1..].to_vec();
    found.sort_unstable();
    found.dedup();
    // The removed user also left its groups (if it had any); the deactivation through the
    // gateway is not found again.
    let mut expected = vec![
        ("group.members_added", "refresh"),
        ("user.added", "refresh"),
        ("user.removed", "refresh"),
    ];
    if dir.snapshot().users().iter().all(|u| u.key() != users[1])
        && found.contains(&("group.members_removed", "refresh"))
    {
        expected.insert(1, ("group.members_removed", "refresh"));
    }
    assert_eq!(found, expected, "{log:#?}");
    for left in log.iter().filter(|e| e["kind"] == "group.members_removed") {
        assert_eq!(
            left["data"]["users"],
            json!([users[1].to_lowercase()]),
            "{left:#}"
        );
    }
    assert!(
        log[1..]
            .iter()
            .all(|e| e["data"]["email"] != users[0].to_lowercase().as_str()),
        "{log:#?}"
    );
    let added = log
        .iter()
        .find(|e| e["kind"] == "group.members_added")
        .unwrap();
    assert_eq!(added["data"]["users"], json!([outsider.to_lowercase()]));
    assert_eq!(added["data"]["source"], "upstream");
    let new_user = log.iter().find(|e| e["kind"] == "user.added").unwrap();
    assert_eq!(new_user["data"]["email"], "side.door@example.com");
    // Nothing changed since: a second refresh records nothing.
    dir.refresh().await.unwrap();
    assert_eq!(events(&app).await.len(), log.len());
}
