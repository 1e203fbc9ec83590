//! What operators and probes see: `/readyz` (short for everyone, detailed for admins) and an
//! organization that survives a refresh that panics.

use std::time::Duration;

use serde_json::{Value, json};

use crate::support::{OrgSpec, TestApp, error_code, spawn_app_with};
use scimgate::auth::Role;
use scimgate::config::LimitsConfig;

async fn readyz(app: &TestApp, key: Option<&str>) -> (u16, Value) {
    let mut request = app.http.get(format!("{}/readyz", app.url));
    if let Some(key) = key {
        request = request.bearer_auth(key);
    }
    let response = request.send().await.expect("gateway answers");
    let status = response.status().as_u16();
    (status, response.json().await.expect("a JSON body"))
}

#[tokio::test]
async fn readyz_says_only_ready_or_not_unless_asked_with_an_admin_key() {
    let app = spawn_app_with(
        vec![OrgSpec::new("acme", 5, 1), OrgSpec::new("globex", 5, 1)],
        &[("dashboard", Role::Write, &["*"])],
        LimitsConfig::default(),
    )
    .await;
    for key in [
        None,
        Some(app.keys["dashboard"].as_str()),
        Some("sgk_wrong"),
    ] {
        let (status, body) = readyz(&app, key).await;
        assert_eq!((status, &body), (503, &json!({ "status": "not ready" })));
    }
    app.warm().await;
    for key in [None, Some(app.keys["dashboard"].as_str())] {
        let (status, body) = readyz(&app, key).await;
        assert_eq!((status, &body), (200, &json!({ "status": "ready" })));
        let text = body.to_string();
        assert!(!text.contains("acme") && !text.contains("globex"), "{text}");
    }
    let (status, body) = readyz(&app, Some(&app.key)).await;
    assert_eq!(status, 200);
    assert_eq!(body["status"], "ready");
    let orgs: Vec<&str> = body["orgs"]
        .as_array()
        .unwrap_or_else(|| panic!("admin detail: {body:#}"))
        .iter()
        .map(|o| o["org"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(orgs, ["acme", "globex"]);
    assert_eq!(body["orgs"][0]["mirrorLoaded"], true);
    assert_eq!(body["orgs"][0]["credentialRevoked"], false);
    assert_eq!(body["orgs"][0]["refreshFailures"], 0);
}

const SYNC: &str =
    "{ org { sync { complete refreshing refreshFailures lastError lastFailureAt restarts } } }";

#[tokio::test]
async fn a_refresh_that_panics_fails_its_waiters_and_the_next_refresh_recovers() {
    let app = TestApp::one(30, 3).await;
    let dir = app.gateway.dirs.all()[0].clone();
    dir.inject_refresh_panics(1);

    // The cold reader waits for the refresh; the panic must wake it with an error.
    let body = tokio::time::timeout(
        Duration::from_secs(20),
        app.query("{ org { users(first: 5) { totalCount } } }", json!({})),
    )
    .await
    .expect("the waiter wakes instead of waiting forever");
    assert_eq!(error_code(&body), "UPSTREAM_UNAVAILABLE", "{body:#}");
    let text = body.to_string();
    assert!(
        !text.contains("panic") && !text.contains("injected"),
        "{text}"
    );
    assert_eq!(
        app.upstream_calls(),
        0,
        "the refresh panicked before any call"
    );

    let sync = app.data(SYNC, json!({})).await["org"]["sync"].clone();
    assert_eq!(sync["refreshing"], false, "{sync:#}");
    assert_eq!(sync["complete"], false);
    assert_eq!(sync["refreshFailures"], 1);
    assert_eq!(sync["restarts"], 0);
    assert!(sync["lastFailureAt"].is_string(), "{sync:#}");
    let last = sync["lastError"].as_str().unwrap_or_default();
    assert!(
        last.contains("internal error") && !last.contains("panic"),
        "{last}"
    );
    let (status, ready) = readyz(&app, Some(&app.key)).await;
    assert_eq!(status, 503);
    assert_eq!(ready["orgs"][0]["refreshFailures"], 1, "{ready:#}");
    assert_eq!(ready["orgs"][0]["lastError"], sync["lastError"]);

    // The organization is not wedged: the next reader starts a refresh that succeeds.
    let data = app
        .data("{ org { users(first: 5) { totalCount } } }", json!({}))
        .await;
    assert_eq!(data["org"]["users"]["totalCount"], 30);
    let sync = app.data(SYNC, json!({})).await["org"]["sync"].clone();
    assert_eq!(sync["refreshFailures"], 0, "{sync:#}");
    assert!(sync["lastError"].is_null());
    assert_eq!(readyz(&app, None).await.0, 200);
}

#[tokio::test]
async fn a_refresh_loop_that_panics_is_restarted_and_counted() {
    let mut app = TestApp::one(30, 3).await;
    let dir = app.gateway.dirs.all()[0].clone();
    dir.inject_loop_panics(1);
    app.gateway.start();

    // The loop panics at its first turn; the supervisor starts it again after 1 s, and the
    // restarted loop loads the mirror with the minimum calls.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let sync = loop {
        let sync = app.data(SYNC, json!({})).await["org"]["sync"].clone();
        if sync["complete"] == true {
            break sync;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "never loaded: {sync:#}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(sync["restarts"], 1, "{sync:#}");
    assert!(sync["lastFailureAt"].is_string(), "{sync:#}");
    assert_eq!(app.upstream_calls(), 2, "one user page and one group page");
    let (status, ready) = readyz(&app, Some(&app.key)).await;
    assert_eq!(status, 200, "{ready:#}");
    assert_eq!(ready["orgs"][0]["restarts"], 1, "{ready:#}");
}
