//! Bad inputs are refused before any upstream call: a stable code, the input field concerned,
//! outcome FAILED, and the emulator's request count unchanged.

use serde_json::{Value, json};

use super::{error_codes, field_of, group_id_in, joined_users, mutate, user_id, user_id_in};
use crate::support::{OrgSpec, TestApp, spawn_app};

/// Asserts one refused mutation: FAILED, exactly one error of `code` at `field`.
fn check_refused(label: &str, p: &Value, code: &str, field: &[&str]) {
    assert_eq!(p["outcome"], "FAILED", "{label}: {p:#}");
    assert_eq!(error_codes(p), [code], "{label}: {p:#}");
    let error = &p["userErrors"][0];
    assert_eq!(field_of(error), field, "{label}: {p:#}");
    assert!(
        !error["message"]
            .as_str()
            .unwrap_or_default()
            .trim()
            .is_empty(),
        "{label}: a message says why: {error}"
    );
}

fn invite(email: &str, given: &str, family: &str) -> Value {
    json!({ "email": email, "givenName": given, "familyName": family })
}

#[tokio::test]
async fn bad_emails_names_ids_and_lists_are_refused_without_an_upstream_call() {
    let app = TestApp::one(150, 4).await;
    app.warm().await;
    let emails = joined_users(&app);
    let user = user_id(&app, &emails[0]).await;
    let upstream_group = app.emulator().state().groups()[0]
        .id
        .clone()
        .unwrap()
        .to_string();
    let group = group_id_in(&app, None, &upstream_group).await;
    let long = "N".repeat(101);
    let many: Vec<&String> = emails.iter().take(101).collect();
    assert_eq!(many.len(), 101);

    let cases: Vec<(&str, &str, Value, &str, Vec<&str>)> = vec![
        (
            "no at sign",
            "inviteUser",
            invite("not-an-email", "Ada", "Lovelace"),
            "INVALID_EMAIL",
            vec!["input", "email"],
        ),
        (
            "no domain dot",
            "inviteUser",
            invite("a@b", "Ada", "Lovelace"),
            "INVALID_EMAIL",
            vec!["input", "email"],
        ),
        (
            "empty e-mail",
            "inviteUser",
            invite("", "Ada", "Lovelace"),
            "INVALID_EMAIL",
            vec!["input", "email"],
        ),
        (
            "empty given name",
            "inviteUser",
            invite("ines.duarte@example.com", "", "Duarte"),
            "INVALID_NAME",
            vec!["input", "givenName"],
        ),
        (
            "blank family name",
            "inviteUser",
            invite("ines.duarte@example.com", "Ines", "   "),
            "INVALID_NAME",
            vec!["input", "familyName"],
        ),
        (
            "101-char given name",
            "inviteUser",
            invite("ines.duarte@example.com", &long, "Duarte"),
            "INVALID_NAME",
            vec!["input", "givenName"],
        ),
        (
            "blank name on update",
            "updateUser",
            json!({ "id": user, "givenName": " \t " }),
            "INVALID_NAME",
            vec!["input", "givenName"],
        ),
        (
            "101-char name on update",
            "updateUser",
            json!({ "id": user, "familyName": long }),
            "INVALID_NAME",
            vec!["input", "familyName"],
        ),
        (
            "empty group name",
            "createGroup",
            json!({ "name": "" }),
            "INVALID_NAME",
            vec!["input", "name"],
        ),
        (
            "101-char group name",
            "renameGroup",
            json!({ "id": group, "name": long }),
            "INVALID_NAME",
            vec!["input", "name"],
        ),
        (
            "garbage user id",
            "deactivateUser",
            json!({ "id": "zzz-not-an-id!!" }),
            "INVALID_ID",
            vec!["input", "id"],
        ),
        (
            "garbage user id on delete",
            "deleteUser",
            json!({ "id": "zzz-not-an-id!!" }),
            "INVALID_ID",
            vec!["input", "id"],
        ),
        (
            "group id as user id",
            "deactivateUser",
            json!({ "id": group }),
            "INVALID_ID",
            vec!["input", "id"],
        ),
        (
            "group id as user id on update",
            "updateUser",
            json!({ "id": group, "givenName": "Ada" }),
            "INVALID_ID",
            vec!["input", "id"],
        ),
        (
            "user id as group id",
            "renameGroup",
            json!({ "id": user, "name": "Renamed" }),
            "INVALID_ID",
            vec!["input", "id"],
        ),
        (
            "group id among members",
            "addGroupMembers",
            json!({ "groupId": group, "userIds": [emails[1], group] }),
            "INVALID_ID",
            vec!["input", "userIds", "1"],
        ),
        (
            "101 ids to deactivate",
            "deactivateUsers",
            json!({ "ids": many }),
            "TOO_MANY_IDS",
            vec!["input", "ids"],
        ),
        (
            "101 ids, dry run",
            "deactivateUsers",
            json!({ "ids": many, "dryRun": true }),
            "TOO_MANY_IDS",
            vec!["input", "ids"],
        ),
        (
            "101 members to add",
            "addGroupMembers",
            json!({ "groupId": group, "userIds": many }),
            "TOO_MANY_IDS",
            vec!["input", "userIds"],
        ),
        (
            "101 members to remove",
            "removeGroupMembers",
            json!({ "groupId": group, "userIds": many }),
            "TOO_MANY_IDS",
            vec!["input", "userIds"],
        ),
    ];
    let mut refused = Vec::new();
    for (label, name, input, code, field) in cases {
        let calls = app.upstream_calls();
        let p = mutate(&app, name, input).await;
        check_refused(label, &p, code, &field);
        assert_eq!(app.upstream_calls(), calls, "{label}: no upstream call");
        refused.push(label);
    }
    assert_eq!(refused.len(), 20);
    assert_eq!(app.emulator().state().users().len(), 150, "nobody changed");
    assert!(
        app.emulator()
            .state()
            .user("ines.duarte@example.com")
            .is_none()
    );
}

#[tokio::test]
async fn ids_of_another_organization_are_refused_without_an_upstream_call() {
    let app = spawn_app(vec![
        OrgSpec::new("acme", 60, 3),
        OrgSpec::new("globex", 60, 3),
    ])
    .await;
    app.warm().await;
    let acme_emails = joined_users(&app);
    let acme_user = user_id_in(&app, Some("acme"), &acme_emails[0]).await;
    let acme_upstream = app.emulators[0].state().groups()[0]
        .id
        .clone()
        .unwrap()
        .to_string();
    let acme_group = group_id_in(&app, Some("acme"), &acme_upstream).await;
    let globex_email = app.emulators[1]
        .state()
        .users()
        .into_iter()
        .find(|u| u.given_name() != Some("NO_GIVEN_NAME"))
        .unwrap()
        .user_name;
    let globex_user = user_id_in(&app, Some("globex"), &globex_email).await;
    let globex_upstream = app.emulators[1].state().groups()[0]
        .id
        .clone()
        .unwrap()
        .to_string();
    let globex_group = group_id_in(&app, Some("globex"), &globex_upstream).await;
    let total = |app: &crate::support::TestApp| -> u64 {
        app.emulators.iter().map(|e| e.stats().total).sum()
    };

    let cases: Vec<(&str, &str, Value, Vec<&str>)> = vec![
        (
            "member from globex",
            "addGroupMembers",
            json!({ "groupId": acme_group, "userIds": [globex_user] }),
            vec!["input", "userIds", "0"],
        ),
        (
            "removal of a globex user",
            "removeGroupMembers",
            json!({ "groupId": acme_group, "userIds": [globex_user] }),
            vec!["input", "userIds", "0"],
        ),
        (
            "new group with a globex member",
            "createGroup",
            json!({ "org": "acme", "name": "Joint Venture", "memberIds": [acme_user, globex_user] }),
            vec!["input", "memberIds", "1"],
        ),
        (
            "invite into a globex group",
            "inviteUser",
            json!({ "org": "acme", "email": "kofi.mensah@example.com", "givenName": "Kofi",
                    "familyName": "Mensah", "groupIds": [globex_group] }),
            vec!["input", "groupIds", "0"],
        ),
    ];
    for (label, name, input, field) in cases {
        let calls = total(&app);
        let p = mutate(&app, name, input).await;
        check_refused(label, &p, "WRONG_ORGANIZATION", &field);
        assert_eq!(total(&app), calls, "{label}: no call to either upstream");
    }
    assert!(
        app.emulators[0]
            .state()
            .user("kofi.mensah@example.com")
            .is_none()
    );
    assert_eq!(app.emulators[0].state().groups().len(), 3);
}

#[tokio::test]
async fn addresses_with_markup_paths_or_quotes_are_refused_without_an_upstream_call() {
    let app = TestApp::one(20, 2).await;
    app.warm().await;
    let calls = app.upstream_calls();
    for email in [
        "<script>@x.com",
        "../../x@y.com",
        "a/b@example.com",
        "\"quoted\"@example.com",
        "Ada <ada@example.com>",
        "ada@[127.0.0.1]",
        "ada\u{7}@example.com",
        "ada@localhost",
    ] {
        let p = mutate(&app, "inviteUser", invite(email, "Ada", "Lovelace")).await;
        check_refused(email, &p, "INVALID_EMAIL", &["input", "email"]);
        assert!(p["user"].is_null(), "{email}: {p:#}");
    }
    // Named as a user, the same strings are not e-mail addresses either.
    let body = app
        .query(
            "{ org { user(email: \"../../x@y.com\") { id } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        crate::support::error_code(&body),
        "BAD_USER_INPUT",
        "{body:#}"
    );
    let p = mutate(&app, "deactivateUser", json!({ "id": "<script>@x.com" })).await;
    check_refused("deactivate", &p, "INVALID_ID", &["input", "id"]);
    assert_eq!(app.upstream_calls(), calls, "the emulator received nothing");
    assert_eq!(app.emulator().state().users().len(), 20);
}
