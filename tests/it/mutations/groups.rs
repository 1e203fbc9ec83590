//! Groups: create (POST), rename, delete (DELETE), add and remove members (PATCH; Amplitude's
//! value-array removal, RFC 7644's on the generic profile), and members the mirror does not know.

use scimgate::scim::Profile;
use serde_json::{Value, json};

use super::{
    assert_failed_with, assert_success, base, emails_of, field_of, group_id_in, group_path,
    joined_users, log_since, members_at_emulator, mutate, user_id, writes,
};
use crate::support::{OrgSpec, TestApp, spawn_app};

const READ_GROUP: &str = r#"query($id: ID!, $email: String!) { org {
  group(id: $id) { id upstreamId name memberCount members(first: 100) { totalCount edges { node { email } } } }
  groups(first: 100) { totalCount edges { node { name } } }
  user(email: $email) { groups(first: 100) { edges { node { upstreamId name } } } }
  memberOf: users(first: 1, filter: { memberOf: $id }) { totalCount }
} }"#;

/// Reads `READ_GROUP` and asserts it cost no upstream call.
async fn read_without_calls(app: &TestApp, group: &str, email: &str) -> Value {
    let calls = app.upstream_calls();
    let data = app
        .data(READ_GROUP, json!({ "id": group, "email": email }))
        .await;
    assert_eq!(
        app.upstream_calls(),
        calls,
        "the read after the write is served from the mirror"
    );
    data["org"].clone()
}

fn upstream_ids_of_user(org: &Value) -> Vec<String> {
    org["user"]["groups"]["edges"]
        .as_array()
        .map(|edges| {
            edges
                .iter()
                .map(|e| {
                    e["node"]["upstreamId"]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned()
                })
                .collect()
        })
        .unwrap_or_default()
}

fn sorted_lower(emails: &[String]) -> Vec<String> {
    let mut v: Vec<String> = emails.iter().map(|e| e.to_lowercase()).collect();
    v.sort();
    v
}

#[tokio::test]
async fn create_group_posts_the_group_with_its_members_and_reads_it_back() {
    let app = TestApp::one(120, 4).await;
    app.warm().await;
    let members: Vec<String> = joined_users(&app).into_iter().skip(2).take(3).collect();
    let ids = vec![
        json!(user_id(&app, &members[0]).await),
        json!(user_id(&app, &members[1]).await),
        json!(members[2]),
    ];
    let mark = app.emulator().requests().len();

    let p = mutate(
        &app,
        "createGroup",
        json!({ "name": "Revenue Operations", "memberIds": ids, "clientMutationId": "new-group" }),
    )
    .await;
    assert_success(&p);
    assert_eq!(p["clientMutationId"], "new-group");
    assert_eq!(p["group"]["name"], "Revenue Operations");
    assert_eq!(p["group"]["memberCount"], 3);
    assert_eq!(emails_of(&p["group"]["members"]), sorted_lower(&members));
    assert_eq!(
        writes(&log_since(&app, mark)),
        vec![("POST".to_owned(), format!("{}/groups", base(&app)))]
    );
    let created = app
        .emulator()
        .state()
        .groups()
        .into_iter()
        .find(|g| g.display_name == "Revenue Operations")
        .expect("the group exists at the emulator");
    let upstream_id = created.id.unwrap().to_string();
    assert_eq!(p["group"]["upstreamId"], upstream_id.as_str());
    assert_eq!(
        members_at_emulator(&app, &upstream_id),
        sorted_lower(&members)
    );

    let org = read_without_calls(&app, &upstream_id, &members[0]).await;
    assert_eq!(org["group"]["id"], p["group"]["id"]);
    assert_eq!(org["group"]["name"], "Revenue Operations");
    assert_eq!(org["group"]["memberCount"], 3);
    assert_eq!(emails_of(&org["group"]["members"]), sorted_lower(&members));
    assert_eq!(org["groups"]["totalCount"], 5);
    assert_eq!(org["memberOf"]["totalCount"], 3);
    assert!(upstream_ids_of_user(&org).contains(&upstream_id), "{org}");
}

#[tokio::test]
async fn rename_group_changes_only_the_name_at_the_emulator_and_in_reads() {
    let app = TestApp::one(120, 4).await;
    app.warm().await;
    let group = app.emulator().state().groups()[2].clone();
    let upstream_id = group.id.unwrap().to_string();
    let members_before = members_at_emulator(&app, &upstream_id);
    let gid = group_id_in(&app, None, &upstream_id).await;
    let mark = app.emulator().requests().len();

    let p = mutate(
        &app,
        "renameGroup",
        json!({ "id": gid, "name": "Growth & Lifecycle", "clientMutationId": "rename" }),
    )
    .await;
    assert_success(&p);
    assert_eq!(p["clientMutationId"], "rename");
    assert_eq!(p["group"]["id"], gid.as_str());
    assert_eq!(p["group"]["name"], "Growth & Lifecycle");
    assert_eq!(p["group"]["memberCount"], members_before.len());
    let sent = writes(&log_since(&app, mark));
    assert_eq!(sent.len(), 1, "one write: {sent:?}");
    assert_eq!(sent[0].1, group_path(&app, &upstream_id));
    let stored = app.emulator().state().group(&upstream_id).unwrap();
    assert_eq!(stored.display_name, "Growth & Lifecycle");
    assert_eq!(members_at_emulator(&app, &upstream_id), members_before);

    let anyone = joined_users(&app)[0].clone();
    let org = read_without_calls(&app, &gid, &anyone).await;
    assert_eq!(org["group"]["name"], "Growth & Lifecycle");
    assert_eq!(org["group"]["memberCount"], members_before.len());
    assert_eq!(emails_of(&org["group"]["members"]), members_before);
    assert_eq!(org["groups"]["totalCount"], 4);
}

#[tokio::test]
async fn delete_group_sends_delete_and_the_group_disappears_from_reads() {
    let app = TestApp::one(120, 4).await;
    app.warm().await;
    let group = app.emulator().state().groups()[3].clone();
    let upstream_id = group.id.unwrap().to_string();
    let former = group.members[0].value.clone();
    let gid = group_id_in(&app, None, &upstream_id).await;
    let mark = app.emulator().requests().len();

    let p = mutate(
        &app,
        "deleteGroup",
        json!({ "id": gid, "clientMutationId": "drop-group" }),
    )
    .await;
    assert_success(&p);
    assert_eq!(p["clientMutationId"], "drop-group");
    assert_eq!(p["deletedGroupId"], gid.as_str());
    assert_eq!(
        writes(&log_since(&app, mark)),
        vec![("DELETE".to_owned(), group_path(&app, &upstream_id))]
    );
    assert!(app.emulator().state().group(&upstream_id).is_none());

    let calls = app.upstream_calls();
    let data = app
        .data(
            r#"query($id: ID!, $email: String!) { org {
                group(id: $id) { name }
                groups(first: 100) { totalCount }
                user(email: $email) { groups(first: 100) { edges { node { upstreamId } } } } } }"#,
            json!({ "id": upstream_id, "email": former }),
        )
        .await;
    assert_eq!(app.upstream_calls(), calls, "served from the mirror");
    let org = &data["org"];
    assert!(org["group"].is_null(), "{org}");
    assert_eq!(org["groups"]["totalCount"], 3);
    assert!(!upstream_ids_of_user(org).contains(&upstream_id), "{org}");
}

#[tokio::test]
async fn add_group_members_patches_the_group_and_reads_back_the_members() {
    let app = TestApp::one(120, 4).await;
    app.warm().await;
    let group = app.emulator().state().groups()[0].clone();
    let upstream_id = group.id.unwrap().to_string();
    let before = members_at_emulator(&app, &upstream_id);
    let newcomers: Vec<String> = joined_users(&app)
        .into_iter()
        .filter(|e| !before.contains(&e.to_lowercase()))
        .take(2)
        .collect();
    let gid = group_id_in(&app, None, &upstream_id).await;
    let ids = vec![
        json!(user_id(&app, &newcomers[0]).await),
        json!(newcomers[1]),
    ];
    let mark = app.emulator().requests().len();

    let p = mutate(
        &app,
        "addGroupMembers",
        json!({ "groupId": gid, "userIds": ids, "clientMutationId": "add-two" }),
    )
    .await;
    assert_success(&p);
    assert_eq!(p["clientMutationId"], "add-two");
    assert_eq!(p["group"]["memberCount"], before.len() + 2);
    assert_eq!(
        writes(&log_since(&app, mark)),
        vec![("PATCH".to_owned(), group_path(&app, &upstream_id))]
    );
    let mut expected = before.clone();
    expected.extend(newcomers.iter().map(|e| e.to_lowercase()));
    expected.sort();
    assert_eq!(members_at_emulator(&app, &upstream_id), expected);

    let org = read_without_calls(&app, &gid, &newcomers[1]).await;
    assert_eq!(org["group"]["memberCount"], expected.len());
    assert_eq!(emails_of(&org["group"]["members"]), expected);
    assert_eq!(org["memberOf"]["totalCount"], expected.len());
    assert!(upstream_ids_of_user(&org).contains(&upstream_id), "{org}");
}

#[tokio::test]
async fn remove_group_members_on_amplitude_uses_the_value_array_form() {
    let app = TestApp::one(120, 4).await;
    // The emulator answers 400 to the RFC filter path on this profile: a 200 proves the value array.
    assert!(!app.emulator().state().switches().filter_path_remove);
    app.warm().await;
    let group = app.emulator().state().groups()[1].clone();
    let upstream_id = group.id.unwrap().to_string();
    let before = members_at_emulator(&app, &upstream_id);
    let leaving: Vec<String> = before.iter().skip(1).take(2).cloned().collect();
    let gid = group_id_in(&app, None, &upstream_id).await;
    let ids = vec![json!(user_id(&app, &leaving[0]).await), json!(leaving[1])];
    let mark = app.emulator().requests().len();

    let p = mutate(
        &app,
        "removeGroupMembers",
        json!({ "groupId": upstream_id, "userIds": ids, "clientMutationId": "remove-two" }),
    )
    .await;
    assert_success(&p);
    assert_eq!(p["clientMutationId"], "remove-two");
    assert_eq!(p["group"]["memberCount"], before.len() - 2);
    let log = log_since(&app, mark);
    let sent: Vec<(String, String, u16)> = log
        .iter()
        .filter(|r| r.method != "GET")
        .map(|r| (r.method.clone(), super::decoded(&r.path), r.status))
        .collect();
    assert_eq!(
        sent,
        vec![("PATCH".to_owned(), group_path(&app, &upstream_id), 200)],
        "one PATCH, accepted"
    );
    let expected: Vec<String> = before
        .iter()
        .filter(|e| !leaving.contains(e))
        .cloned()
        .collect();
    assert_eq!(members_at_emulator(&app, &upstream_id), expected);

    let org = read_without_calls(&app, &gid, &leaving[0]).await;
    assert_eq!(org["group"]["memberCount"], expected.len());
    assert_eq!(org["memberOf"]["totalCount"], expected.len());
    assert!(!upstream_ids_of_user(&org).contains(&upstream_id), "{org}");
}

#[tokio::test]
async fn remove_group_members_on_rfc7644_patches_the_group_and_reads_back() {
    let app = spawn_app(vec![OrgSpec {
        profile: Profile::Rfc7644,
        ..OrgSpec::new("acme", 120, 4)
    }])
    .await;
    assert!(app.emulator().state().switches().filter_path_remove);
    app.warm().await;
    let state = app.emulator().state();
    let group = state.groups()[1].clone();
    let upstream_id = group.id.unwrap().to_string();
    // On RFC 7644 a member's value is the user's opaque id.
    let member_ids: Vec<String> = group.members.iter().map(|m| m.value.clone()).collect();
    let leaving: Vec<String> = member_ids.iter().skip(1).take(2).cloned().collect();
    let emails: Vec<String> = leaving
        .iter()
        .map(|id| state.user(id).expect("member exists").user_name)
        .collect();
    let gid = group_id_in(&app, None, &upstream_id).await;
    let ids = vec![json!(user_id(&app, &emails[0]).await), json!(emails[1])];
    let mark = app.emulator().requests().len();

    let p = mutate(
        &app,
        "removeGroupMembers",
        json!({ "groupId": gid, "userIds": ids }),
    )
    .await;
    assert_success(&p);
    eprintln!(
        "DEBUG payload {p:#} leaving {leaving:?} emails {emails:?} log {:?} after {:?}",
        log_since(&app, mark),
        state.group(&upstream_id).unwrap().members.len()
    );
    assert_eq!(p["group"]["memberCount"], member_ids.len() - 2);
    let sent: Vec<(String, String, u16)> = log_since(&app, mark)
        .iter()
        .filter(|r| r.method != "GET")
        .map(|r| (r.method.clone(), super::decoded(&r.path), r.status))
        .collect();
    assert_eq!(
        sent,
        vec![("PATCH".to_owned(), group_path(&app, &upstream_id), 200)]
    );
    let remaining = state.group(&upstream_id).unwrap().members;
    assert_eq!(remaining.len(), member_ids.len() - 2);
    assert!(remaining.iter().all(|m| !leaving.contains(&m.value)));

    let org = read_without_calls(&app, &gid, &emails[0]).await;
    assert_eq!(org["group"]["memberCount"], member_ids.len() - 2);
    assert!(!upstream_ids_of_user(&org).contains(&upstream_id), "{org}");
}

#[tokio::test]
async fn members_the_mirror_does_not_know_are_not_found_and_nothing_is_written() {
    let app = TestApp::one(120, 4).await;
    app.warm().await;
    let group = app.emulator().state().groups()[0].clone();
    let upstream_id = group.id.unwrap().to_string();
    let before = members_at_emulator(&app, &upstream_id);
    let known = joined_users(&app)
        .into_iter()
        .find(|e| !before.contains(&e.to_lowercase()))
        .unwrap();
    let stranger = "stranger.danger@elsewhere.example";
    let mark = app.emulator().requests().len();

    // Amplitude would invite the stranger: the gateway refuses instead.
    let p = mutate(
        &app,
        "addGroupMembers",
        json!({ "groupId": upstream_id, "userIds": [known, stranger] }),
    )
    .await;
    let error = assert_failed_with(&p, "NOT_FOUND");
    assert_eq!(field_of(&error), ["input", "userIds", "1"]);
    assert_eq!(members_at_emulator(&app, &upstream_id), before);

    let p = mutate(
        &app,
        "createGroup",
        json!({ "name": "Partner Access", "memberIds": [known, stranger] }),
    )
    .await;
    let error = assert_failed_with(&p, "NOT_FOUND");
    assert_eq!(field_of(&error), ["input", "memberIds", "1"]);
    assert!(
        app.emulator().state().user(stranger).is_none(),
        "nobody invited"
    );
    assert_eq!(
        writes(&log_since(&app, mark)),
        vec![],
        "nothing was written"
    );

    // Unknown by a well-formed id (whether the gateway asks the upstream first is its choice).
    let p = mutate(
        &app,
        "renameGroup",
        json!({ "id": "999999", "name": "Nobody's" }),
    )
    .await;
    assert_failed_with(&p, "NOT_FOUND");
    let p = mutate(
        &app,
        "deactivateUser",
        json!({ "id": "ghost.user@example.com" }),
    )
    .await;
    assert_failed_with(&p, "NOT_FOUND");
    let p = mutate(&app, "deleteGroup", json!({ "id": "999999" })).await;
    assert_failed_with(&p, "NOT_FOUND");
}
