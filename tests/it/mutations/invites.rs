//! `inviteUser` beyond the single write: group adds (one PATCH per group, partial on an unknown
//! group), idempotency keys, and addresses that already exist.

use std::collections::BTreeSet;

use serde_json::{Value, json};

use super::{
    assert_failed_with, assert_success, base, error_codes, field_of, group_id_in, group_path,
    joined_users, log_since, members_at_emulator, mutate, writes,
};
use crate::support::TestApp;

fn upstream_ids(list: &Value) -> BTreeSet<String> {
    list.as_array()
        .unwrap_or_else(|| panic!("not a list: {list}"))
        .iter()
        .map(|g| g["upstreamId"].as_str().unwrap_or_default().to_owned())
        .collect()
}

fn group_ids(app: &TestApp) -> Vec<String> {
    app.emulator()
        .state()
        .groups()
        .into_iter()
        .map(|g| g.id.unwrap().to_string())
        .collect()
}

/// The invitee's groups as the mirror shows them, asserting the read costs no upstream call.
async fn groups_read_back(app: &TestApp, email: &str) -> (Value, BTreeSet<String>) {
    let calls = app.upstream_calls();
    let data = app
        .data(
            r#"query($email: String!) { org { user(email: $email) {
                status groups(first: 100) { totalCount edges { node { upstreamId } } } } } }"#,
            json!({ "email": email }),
        )
        .await;
    assert_eq!(app.upstream_calls(), calls, "served from the mirror");
    let user = data["org"]["user"].clone();
    let ids = user["groups"]["edges"]
        .as_array()
        .unwrap_or_else(|| panic!("no groups: {data}"))
        .iter()
        .map(|e| {
            e["node"]["upstreamId"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        })
        .collect();
    (user, ids)
}

#[tokio::test]
async fn invite_user_with_three_groups_leaves_the_invitee_in_all_three() {
    let app = TestApp::one(120, 5).await;
    app.warm().await;
    let g = group_ids(&app);
    let ids = vec![
        json!(group_id_in(&app, None, &g[0]).await),
        json!(g[1]),
        json!(group_id_in(&app, None, &g[2]).await),
    ];
    let email = "tomas.lindqvist@example.net";
    let mark = app.emulator().requests().len();

    let p = mutate(
        &app,
        "inviteUser",
        json!({ "email": email, "givenName": "Tomás", "familyName": "Lindqvist", "groupIds": ids }),
    )
    .await;
    assert_success(&p);
    let wanted: BTreeSet<String> = g[..3].iter().cloned().collect();
    assert_eq!(upstream_ids(&p["groupsApplied"]), wanted);

    let sent = writes(&log_since(&app, mark));
    assert_eq!(
        sent.first(),
        Some(&("POST".to_owned(), format!("{}/users", base(&app)))),
        "the invitation goes first: {sent:?}"
    );
    let patches: BTreeSet<(String, String)> = sent[1..].iter().cloned().collect();
    let expected: BTreeSet<(String, String)> = g[..3]
        .iter()
        .map(|id| ("PATCH".to_owned(), group_path(&app, id)))
        .collect();
    assert_eq!(sent.len(), 4, "one POST and one PATCH per group: {sent:?}");
    assert_eq!(patches, expected);
    for id in &g[..3] {
        assert!(
            members_at_emulator(&app, id).contains(&email.to_owned()),
            "{email} in group {id} at the emulator"
        );
    }
    assert!(app.emulator().state().is_pending(email));

    let (user, read) = groups_read_back(&app, email).await;
    assert_eq!(user["status"], "INVITED");
    assert_eq!(user["groups"]["totalCount"], 3);
    assert_eq!(read, wanted);
}

#[tokio::test]
async fn invite_user_with_an_unknown_group_applies_the_others_and_reports_partial() {
    let app = TestApp::one(120, 5).await;
    app.warm().await;
    let g = group_ids(&app);
    let ids = vec![
        json!(g[0]),
        json!("999999"),
        json!(group_id_in(&app, None, &g[2]).await),
    ];
    let email = "amara.okonkwo@example.org";

    let p = mutate(
        &app,
        "inviteUser",
        json!({ "email": email, "givenName": "Amara", "familyName": "Okonkwo", "groupIds": ids }),
    )
    .await;
    assert_eq!(p["outcome"], "PARTIAL", "{p:#}");
    assert_eq!(error_codes(&p), ["NOT_FOUND"]);
    assert_eq!(field_of(&p["userErrors"][0]), ["input", "groupIds", "1"]);
    let applied: BTreeSet<String> = [g[0].clone(), g[2].clone()].into();
    assert_eq!(upstream_ids(&p["groupsApplied"]), applied);
    assert_eq!(p["user"]["email"], email);

    assert!(
        app.emulator().state().user(email).is_some(),
        "the invitation was sent"
    );
    for id in [&g[0], &g[2]] {
        assert!(
            members_at_emulator(&app, id).contains(&email.to_owned()),
            "group {id}"
        );
    }
    for id in [&g[1], &g[3], &g[4]] {
        assert!(
            !members_at_emulator(&app, id).contains(&email.to_owned()),
            "group {id}"
        );
    }
    let (user, read) = groups_read_back(&app, email).await;
    assert_eq!(user["status"], "INVITED");
    assert_eq!(read, applied);
}

#[tokio::test]
async fn the_same_idempotency_key_and_input_returns_the_first_result_with_one_post() {
    let app = TestApp::one(120, 5).await;
    app.warm().await;
    let input = json!({
        "email": "priya.natarajan@example.org", "givenName": "Priya", "familyName": "Natarajan",
        "idempotencyKey": "hr-ticket-4711", "clientMutationId": "onboard-priya",
    });
    let mark = app.emulator().requests().len();

    let first = mutate(&app, "inviteUser", input.clone()).await;
    assert_success(&first);
    let second = mutate(&app, "inviteUser", input.clone()).await;
    assert_eq!(second, first, "the second call returns the first result");
    let posts = log_since(&app, mark)
        .iter()
        .filter(|r| {
            r.method == "POST" && super::decoded(&r.path) == format!("{}/users", base(&app))
        })
        .count();
    assert_eq!(posts, 1, "one invitation e-mail, not two");

    // The same key with another input is refused, without a call.
    let mut other = input.clone();
    other["familyName"] = json!("Natarajan-Rao");
    let calls = app.upstream_calls();
    let p = mutate(&app, "inviteUser", other).await;
    assert_failed_with(&p, "IDEMPOTENCY_KEY_REUSED");
    assert_eq!(app.upstream_calls(), calls);
    assert_eq!(
        app.emulator().state().users().len(),
        121,
        "one invitee added in all"
    );
}

#[tokio::test]
async fn inviting_an_existing_or_already_invited_user_fails_with_already_exists() {
    // 300 users: enough for the seed to hold pending invitees.
    let app = TestApp::one(300, 5).await;
    app.warm().await;
    let member = joined_users(&app)[4].clone();
    let pending = app
        .emulator()
        .state()
        .pending()
        .first()
        .cloned()
        .expect("the seed has a pending invitee");
    let before = app.emulator().state().user(&member).unwrap();
    let mark = app.emulator().requests().len();

    for email in [member.clone(), member.to_uppercase(), pending] {
        let p = mutate(
            &app,
            "inviteUser",
            json!({ "email": email, "givenName": "Someone", "familyName": "Else" }),
        )
        .await;
        let error = assert_failed_with(&p, "ALREADY_EXISTS");
        assert_eq!(field_of(&error), ["input", "email"], "{email}");
    }
    assert_eq!(app.emulator().state().users().len(), 300);
    assert_eq!(app.emulator().state().user(&member).unwrap(), before);
    let accepted = log_since(&app, mark)
        .iter()
        .filter(|r| r.method != "GET" && (200..300).contains(&r.status))
        .count();
    assert_eq!(accepted, 0, "nothing changed upstream");
}
