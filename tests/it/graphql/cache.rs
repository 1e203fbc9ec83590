//! The response cache, seen from a client: a repeated dashboard query is answered from the
//! cache (`x-scimgate-cache: hit`) and changes right after a write through the gateway and
//! right after a refresh that found a change made at the emulator; keys of different scopes
//! never see each other's answers, keys of one scope share them; answers with errors and
//! fields the mirror does not decide are never cached.

use scimgate::auth::Role;
use scimgate::config::LimitsConfig;
use serde_json::{Value, json};

use crate::mutations::{assert_success, joined_users, mutate, user_id};
use crate::support::{OrgSpec, TestApp, spawn_app_with};

const DASHBOARD: &str = "query Dashboard { orgs { slug users(first: 50, orderBy: { field: EMAIL }) { totalCount edges { node { email status groups { edges { node { name } } } } } } groups(first: 20) { edges { node { name memberCount } } } } }";

/// The answer and its `x-scimgate-cache` header.
async fn ask(app: &TestApp, key: &str, query: &str) -> (Value, Option<String>) {
    let answer = app
        .http
        .post(format!("{}/graphql", app.url))
        .bearer_auth(key)
        .json(&json!({ "query": query }))
        .send()
        .await
        .unwrap();
    let cache = answer
        .headers()
        .get("x-scimgate-cache")
        .map(|v| v.to_str().unwrap().to_owned());
    (answer.json().await.unwrap(), cache)
}

/// The user's status on the page, or `GONE` (Amplitude removes a user it deactivates).
fn status_of(body: &Value, email: &str) -> String {
    body["data"]["orgs"][0]["users"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["node"]["email"] == email)
        .map_or("GONE".into(), |e| {
            e["node"]["status"].as_str().unwrap().to_owned()
        })
}

#[tokio::test]
async fn a_cached_answer_changes_right_after_a_write_and_after_a_refresh_that_changed_data() {
    let app = TestApp::one(30, 3).await;
    app.warm().await;
    let (first, state) = ask(&app, &app.key, DASHBOARD).await;
    assert!(first.get("errors").is_none(), "{first:#}");
    assert_eq!(state.as_deref(), Some("miss"));
    let calls = app.upstream_calls();
    let (again, state) = ask(&app, &app.key, DASHBOARD).await;
    assert_eq!(state.as_deref(), Some("hit"));
    assert_eq!(again, first);
    assert_eq!(app.upstream_calls(), calls);

    // A write through the gateway: the very next answer shows it.
    let users = joined_users(&app);
    let email = first["data"]["orgs"][0]["users"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["email"].as_str().unwrap().to_owned())
        .find(|e| users.iter().any(|u| u.eq_ignore_ascii_case(e)))
        .expect("a joined user on the page");
    assert_eq!(status_of(&first, &email), "ACTIVE");
    let id = user_id(&app, &email).await;
    assert_success(&mutate(&app, "deactivateUser", json!({ "id": id })).await);
    let (after_write, state) = ask(&app, &app.key, DASHBOARD).await;
    assert_eq!(state.as_deref(), Some("miss"));
    assert_ne!(after_write, first);
    assert!(
        ["DEACTIVATED", "GONE"].contains(&status_of(&after_write, &email).as_str()),
        "{after_write:#}"
    );
    assert_eq!(
        ask(&app, &app.key, DASHBOARD).await.1.as_deref(),
        Some("hit")
    );

    // A change behind the gateway's back, found by a refresh: the next answer shows it.
    let total = after_write["data"]["orgs"][0]["users"]["totalCount"]
        .as_i64()
        .unwrap();
    let other = users
        .iter()
        .find(|u| !u.eq_ignore_ascii_case(&email))
        .unwrap();
    assert!(app.emulator().state().remove_user(other));
    app.warm().await;
    let (after_refresh, state) = ask(&app, &app.key, DASHBOARD).await;
    assert_eq!(state.as_deref(), Some("miss"));
    assert_eq!(
        after_refresh["data"]["orgs"][0]["users"]["totalCount"],
        total - 1
    );
    // The new answer is filed in its turn.
    assert_eq!(
        ask(&app, &app.key, DASHBOARD).await.1.as_deref(),
        Some("hit")
    );
}

#[tokio::test]
async fn scopes_never_share_answers_and_keys_of_one_scope_do() {
    let app = spawn_app_with(
        vec![OrgSpec::new("acme", 8, 1), OrgSpec::new("globex", 5, 1)],
        &[
            ("acme-reader", Role::Read, &["acme"]),
            ("acme-reader-2", Role::Read, &["acme"]),
            ("globex-reader", Role::Read, &["globex"]),
            ("acme-writer", Role::Write, &["acme"]),
        ],
        LimitsConfig::default(),
    )
    .await;
    app.warm().await;
    let slugs = |body: &Value| -> Vec<String> {
        body["data"]["orgs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o["slug"].as_str().unwrap().to_owned())
            .collect()
    };
    let (acme, state) = ask(&app, &app.keys["acme-reader"], DASHBOARD).await;
    assert_eq!(state.as_deref(), Some("miss"));
    assert_eq!(slugs(&acme), ["acme"]);
    // Another scope asks the same: its own answer, not the cached one.
    let (globex, state) = ask(&app, &app.keys["globex-reader"], DASHBOARD).await;
    assert_eq!(state.as_deref(), Some("miss"));
    assert_eq!(slugs(&globex), ["globex"]);
    let (all, state) = ask(&app, &app.key, DASHBOARD).await;
    assert_eq!(state.as_deref(), Some("miss"));
    assert_eq!(slugs(&all), ["acme", "globex"]);
    // The same organizations with another role: another scope.
    let (writer, state) = ask(&app, &app.keys["acme-writer"], DASHBOARD).await;
    assert_eq!(state.as_deref(), Some("miss"));
    assert_eq!(writer, acme);
    // A second key of the first scope shares its answer.
    let (shared, state) = ask(&app, &app.keys["acme-reader-2"], DASHBOARD).await;
    assert_eq!(state.as_deref(), Some("hit"));
    assert_eq!(shared, acme);
    assert_eq!(
        ask(&app, &app.keys["globex-reader"], DASHBOARD).await,
        (globex, Some("hit".into()))
    );
}

#[tokio::test]
async fn answers_with_errors_and_fields_the_mirror_does_not_decide_are_never_cached() {
    let app = TestApp::one(10, 1).await;
    app.warm().await;
    for query in [
        "{ org { budget { remaining } users(first: 5) { totalCount } } }",
        "{ org { sync { complete } } }",
        "{ org { events(first: 5) { edges { cursor } } } }",
        "{ viewer { name } }",
    ] {
        for _ in 0..2 {
            let (body, state) = ask(&app, &app.key, query).await;
            assert!(body.get("errors").is_none(), "{query}: {body:#}");
            assert_eq!(state, None, "{query}");
        }
    }
    // Cacheable, but answered with an error: run every time.
    let bad = "{ org { users(first: 500) { totalCount } } }";
    for _ in 0..2 {
        let (body, state) = ask(&app, &app.key, bad).await;
        assert_eq!(
            body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
            "{body:#}"
        );
        assert_eq!(state, None);
    }
}
