//! Idempotency keys are scoped per API key, organization and mutation, bounded in length, and
//! remember nothing for an input refused by validation.

use serde_json::{Value, json};

use super::{assert_failed_with, assert_success, mutate, mutation_text};
use crate::support::{OrgSpec, TestApp, error_code, spawn_app_with};
use scimgate::auth::Role;
use scimgate::config::LimitsConfig;

/// POST /Users requests an emulator received.
fn invites_at(app: &TestApp, i: usize) -> usize {
    app.emulators[i]
        .requests()
        .iter()
        .filter(|r| r.method == "POST" && r.path.to_lowercase().ends_with("/users"))
        .count()
}

async fn invite_as(app: &TestApp, key: &str, input: &Value) -> Value {
    let body = app
        .query_as(key, &mutation_text("inviteUser"), json!({ "input": input }))
        .await;
    assert!(body.get("errors").is_none(), "{body:#}");
    body["data"]["inviteUser"].clone()
}

#[tokio::test]
async fn two_keys_of_two_orgs_with_the_same_idempotency_key_never_see_each_others_result() {
    let app = spawn_app_with(
        vec![OrgSpec::new("acme", 20, 2), OrgSpec::new("globex", 20, 2)],
        &[
            ("acme-hr", Role::Write, &["acme"]),
            ("globex-hr", Role::Write, &["globex"]),
        ],
        LimitsConfig::default(),
    )
    .await;
    app.warm().await;
    // The very same input: each key reaches one organization, so `org` can be left out.
    let input = json!({
        "email": "sam.lee@example.org", "givenName": "Sam", "familyName": "Lee",
        "idempotencyKey": "ticket-1",
    });
    let acme = invite_as(&app, &app.keys["acme-hr"], &input).await;
    let globex = invite_as(&app, &app.keys["globex-hr"], &input).await;
    assert_success(&acme);
    assert_success(&globex);
    assert_ne!(
        acme["user"]["id"], globex["user"]["id"],
        "each organization's own user, not a replay of the other's"
    );
    assert_eq!((invites_at(&app, 0), invites_at(&app, 1)), (1, 1));
    for emu in &app.emulators {
        assert!(emu.state().user("sam.lee@example.org").is_some());
    }

    // Each key replays only its own result, and a different input under the same key is
    // refused for that key alone.
    assert_eq!(invite_as(&app, &app.keys["acme-hr"], &input).await, acme);
    let mut other = input.clone();
    other["familyName"] = json!("Lee-Park");
    let p = invite_as(&app, &app.keys["globex-hr"], &other).await;
    assert_failed_with(&p, "IDEMPOTENCY_KEY_REUSED");
    assert_eq!((invites_at(&app, 0), invites_at(&app, 1)), (1, 1));
}

#[tokio::test]
async fn an_idempotency_key_over_255_characters_is_bad_user_input() {
    let app = TestApp::one(10, 1).await;
    app.warm().await;
    let calls = app.upstream_calls();
    for (key, what) in [
        ("k".repeat(256), "256 characters"),
        ("a b".into(), "a space"),
    ] {
        let body = super::mutate_body(
            &app,
            "inviteUser",
            json!({
                "email": "kim@example.org", "givenName": "Kim", "familyName": "Ng",
                "idempotencyKey": key,
            }),
        )
        .await;
        assert_eq!(error_code(&body), "BAD_USER_INPUT", "{what}: {body:#}");
        assert!(body["data"].is_null(), "{what}: {body:#}");
        let message = body["errors"][0]["message"].as_str().unwrap_or_default();
        assert!(message.contains("idempotencyKey"), "{message}");
        assert!(!message.contains(&key), "the key is not echoed: {message}");
    }
    assert_eq!(app.upstream_calls(), calls, "nothing sent");
    let ok = mutate(
        &app,
        "inviteUser",
        json!({
            "email": "kim@example.org", "givenName": "Kim", "familyName": "Ng",
            "idempotencyKey": "k".repeat(255),
        }),
    )
    .await;
    assert_success(&ok);
}

#[tokio::test]
async fn an_input_refused_by_validation_leaves_nothing_under_its_key() {
    let app = TestApp::one(10, 1).await;
    app.warm().await;
    let mut input = json!({
        "email": "not an address", "givenName": "Ada", "familyName": "King",
        "idempotencyKey": "onboard-ada",
    });
    let refused = mutate(&app, "inviteUser", input.clone()).await;
    assert_failed_with(&refused, "INVALID_EMAIL");
    assert_eq!(invites_at(&app, 0), 0);

    input["email"] = json!("ada.king@example.org");
    let corrected = mutate(&app, "inviteUser", input.clone()).await;
    assert_success(&corrected);
    assert_eq!(invites_at(&app, 0), 1);
    // From now on the key is remembered as usual.
    assert_eq!(mutate(&app, "inviteUser", input).await, corrected);
    assert_eq!(invites_at(&app, 0), 1);
}
