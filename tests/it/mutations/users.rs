//! One user at a time: invite (POST), update (PUT), deactivate (Amplitude: PUT active=false),
//! delete (DELETE); each seen at the emulator and read back with no upstream call.

use serde_json::{Value, json};

use super::{
    assert_success, base, emails_of, joined_users, log_since, members_at_emulator, mutate, user_id,
    user_path, writes,
};
use crate::support::TestApp;

/// One user by e-mail, the users the search finds, everyone, and one group's members.
const READ: &str = r#"query($email: String!, $group: ID!) { org {
  user(email: $email) { id email givenName familyName status groups(first: 100) { totalCount } }
  found: users(first: 10, filter: { search: $email }) { totalCount }
  all: users(first: 1) { totalCount }
  group(id: $group) { memberCount members(first: 100) { edges { node { email } } } }
} }"#;

/// Reads `READ` and asserts it cost no upstream call.
async fn read_without_calls(app: &TestApp, email: &str, group: &str) -> Value {
    let calls = app.upstream_calls();
    let data = app
        .data(READ, json!({ "email": email, "group": group }))
        .await;
    assert_eq!(
        app.upstream_calls(),
        calls,
        "the read after the write is served from the mirror"
    );
    data["org"].clone()
}

/// A joined user who belongs to at least one group, and that group's upstream id.
fn member_and_group(app: &TestApp, skip: usize) -> (String, String) {
    let groups = app.emulator().state().groups();
    joined_users(app)
        .into_iter()
        .skip(skip)
        .find_map(|email| {
            groups
                .iter()
                .find(|g| {
                    g.members
                        .iter()
                        .any(|m| m.value.eq_ignore_ascii_case(&email))
                })
                .map(|g| (email.clone(), g.id.as_ref().unwrap().to_string()))
        })
        .expect("a joined user in some group")
}

#[tokio::test]
async fn invite_user_posts_one_invitation_and_reads_back_invited_without_upstream_calls() {
    let app = TestApp::one(120, 4).await;
    app.warm().await;
    let group = app.emulator().state().groups()[0]
        .id
        .clone()
        .unwrap()
        .to_string();
    let mark = app.emulator().requests().len();
    let email = "marisol.ortega@example.com";

    let p = mutate(
        &app,
        "inviteUser",
        json!({ "email": email, "givenName": "Marisol", "familyName": "Ortega",
                "clientMutationId": "invite-marisol" }),
    )
    .await;
    assert_success(&p);
    assert_eq!(p["clientMutationId"], "invite-marisol");
    assert_eq!(p["user"]["email"], email);
    assert_eq!(p["user"]["status"], "INVITED");
    assert_eq!(p["groupsApplied"], json!([]));

    assert_eq!(
        writes(&log_since(&app, mark)),
        vec![("POST".to_owned(), format!("{}/users", base(&app)))],
        "one POST /Users, nothing else written"
    );
    let emu = app.emulator().state();
    assert!(emu.is_pending(email), "pending at the emulator");
    let stored = emu.user(email).expect("the invitee exists at the emulator");
    assert_eq!(stored.given_name(), Some("NO_GIVEN_NAME"));
    assert_eq!(stored.family_name(), Some("NO_FAMILY_NAME"));

    let org = read_without_calls(&app, email, &group).await;
    assert_eq!(org["user"]["email"], email);
    assert_eq!(org["user"]["status"], "INVITED");
    assert_eq!(org["user"]["id"], p["user"]["id"]);
    assert_eq!(org["found"]["totalCount"], 1);
    assert_eq!(org["all"]["totalCount"], 121);

    // The invitation carried the names: they show once the invitee signs up.
    assert!(emu.accept(email));
    let joined = emu.user(email).unwrap();
    assert_eq!(joined.given_name(), Some("Marisol"));
    assert_eq!(joined.family_name(), Some("Ortega"));
}

#[tokio::test]
async fn update_user_puts_the_new_names_and_reads_them_back_without_upstream_calls() {
    let app = TestApp::one(120, 4).await;
    app.warm().await;
    let (email, group) = member_and_group(&app, 5);
    let id = user_id(&app, &email).await;
    let mark = app.emulator().requests().len();

    let p = mutate(
        &app,
        "updateUser",
        json!({ "id": id, "givenName": "Augusta", "familyName": "King-Noel",
                "clientMutationId": "update-names" }),
    )
    .await;
    assert_success(&p);
    assert_eq!(p["clientMutationId"], "update-names");
    assert_eq!(p["user"]["id"], id.as_str());
    assert_eq!(p["user"]["givenName"], "Augusta");
    assert_eq!(p["user"]["familyName"], "King-Noel");
    assert_eq!(p["user"]["status"], "ACTIVE");
    assert_eq!(
        writes(&log_since(&app, mark)),
        vec![("PUT".to_owned(), user_path(&app, &email))],
        "Amplitude's names change through PUT /Users/<email>"
    );
    let stored = app.emulator().state().user(&email).unwrap();
    assert_eq!(stored.given_name(), Some("Augusta"));
    assert_eq!(stored.family_name(), Some("King-Noel"));

    let org = read_without_calls(&app, &email, &group).await;
    assert_eq!(org["user"]["givenName"], "Augusta");
    assert_eq!(org["user"]["familyName"], "King-Noel");
    assert_eq!(org["user"]["status"], "ACTIVE");
    assert_eq!(
        org["found"]["totalCount"], 1,
        "found by the new name's search too"
    );

    // Only the given name: the family name stays.
    let p = mutate(&app, "updateUser", json!({ "id": id, "givenName": "Ada" })).await;
    assert_success(&p);
    assert_eq!(p["clientMutationId"], Value::Null);
    let stored = app.emulator().state().user(&email).unwrap();
    assert_eq!(stored.given_name(), Some("Ada"));
    assert_eq!(stored.family_name(), Some("King-Noel"));
    let org = read_without_calls(&app, &email, &group).await;
    assert_eq!(org["user"]["givenName"], "Ada");
    assert_eq!(org["user"]["familyName"], "King-Noel");
}

#[tokio::test]
async fn deactivate_user_puts_active_false_and_the_user_leaves_every_read() {
    let app = TestApp::one(120, 4).await;
    app.warm().await;
    let (email, group) = member_and_group(&app, 10);
    let members_before = members_at_emulator(&app, &group);
    let id = user_id(&app, &email).await;
    let mark = app.emulator().requests().len();

    let p = mutate(
        &app,
        "deactivateUser",
        json!({ "id": id, "clientMutationId": "offboard-1" }),
    )
    .await;
    assert_success(&p);
    assert_eq!(p["clientMutationId"], "offboard-1");
    assert_eq!(p["user"]["email"], email.to_lowercase());
    assert_eq!(p["user"]["status"], "DEACTIVATED");
    assert_eq!(
        writes(&log_since(&app, mark)),
        vec![("PUT".to_owned(), user_path(&app, &email))],
        "Amplitude deactivates with PUT active=false"
    );
    assert!(
        app.emulator().state().user(&email).is_none(),
        "Amplitude removed the user from the organization"
    );
    let members_after = members_at_emulator(&app, &group);
    assert_eq!(members_after.len(), members_before.len() - 1);

    let org = read_without_calls(&app, &email, &group).await;
    assert!(org["user"].is_null(), "org.user(email) is gone: {org}");
    assert_eq!(org["found"]["totalCount"], 0);
    assert_eq!(org["all"]["totalCount"], 119);
    assert_eq!(org["group"]["memberCount"], members_after.len());
    assert_eq!(emails_of(&org["group"]["members"]), members_after);
}

#[tokio::test]
async fn delete_user_sends_delete_and_the_user_disappears_from_reads() {
    let app = TestApp::one(120, 4).await;
    app.warm().await;
    let (email, group) = member_and_group(&app, 20);
    let id = user_id(&app, &email).await;
    let mark = app.emulator().requests().len();

    let p = mutate(
        &app,
        "deleteUser",
        json!({ "id": id, "clientMutationId": "delete-1" }),
    )
    .await;
    assert_success(&p);
    assert_eq!(p["clientMutationId"], "delete-1");
    assert_eq!(p["deletedUserId"], id.as_str());
    assert_eq!(
        writes(&log_since(&app, mark)),
        vec![("DELETE".to_owned(), user_path(&app, &email))]
    );
    assert!(app.emulator().state().user(&email).is_none());
    let members_after = members_at_emulator(&app, &group);

    let org = read_without_calls(&app, &email, &group).await;
    assert!(org["user"].is_null(), "{org}");
    assert_eq!(org["found"]["totalCount"], 0);
    assert_eq!(org["all"]["totalCount"], 119);
    assert_eq!(emails_of(&org["group"]["members"]), members_after);
}
