//! Many users at once (`deactivateUsers`, dry run first) and `refreshDirectory`: their cost
//! estimates against what the emulator then receives.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use scimgate::emulator::Faults;
use serde_json::{Value, json};

use super::{assert_success, joined_users, log_since, mutate, user_id, user_path, writes};
use crate::support::TestApp;

#[tokio::test]
async fn deactivate_users_dry_run_changes_nothing_then_the_real_run_removes_everyone() {
    let app = TestApp::one(150, 5).await;
    app.warm().await;
    let emails: Vec<String> = joined_users(&app).into_iter().skip(3).take(6).collect();
    // Global ids for most, the e-mail convenience for two.
    let mut ids = Vec::new();
    for (i, email) in emails.iter().enumerate() {
        ids.push(match i {
            0 | 3 => email.clone(),
            _ => user_id(&app, email).await,
        });
    }
    let wanted: BTreeSet<String> = emails.iter().map(|e| e.to_lowercase()).collect();

    let calls = app.upstream_calls();
    let p = mutate(
        &app,
        "deactivateUsers",
        json!({ "ids": ids, "dryRun": true, "clientMutationId": "dry-run" }),
    )
    .await;
    assert_eq!(app.upstream_calls(), calls, "a dry run makes no call");
    assert_eq!(p["clientMutationId"], "dry-run");
    assert_eq!(p["dryRun"], true);
    assert_eq!(p["upstreamCalls"], 6, "one PUT per user");
    assert!(
        p["estimatedSeconds"].as_f64().is_some_and(|s| s >= 0.0),
        "{p}"
    );
    assert_eq!(p["userErrors"], json!([]), "{p:#}");
    for email in &emails {
        assert!(
            app.emulator().state().user(email).is_some(),
            "{email} untouched by the dry run"
        );
    }

    let mark = app.emulator().requests().len();
    let p = mutate(
        &app,
        "deactivateUsers",
        json!({ "ids": ids, "clientMutationId": "offboard-batch" }),
    )
    .await;
    assert_success(&p);
    assert_eq!(p["clientMutationId"], "offboard-batch");
    assert_eq!(p["dryRun"], false);
    assert_eq!(p["upstreamCalls"], 6);
    let results = p["results"].as_array().expect("results");
    assert_eq!(results.len(), 6, "{p:#}");
    for r in results {
        assert_eq!(r["outcome"], "SUCCESS", "{r}");
        assert!(r["userError"].is_null(), "{r}");
    }
    let reported: BTreeSet<String> = results
        .iter()
        .map(|r| r["email"].as_str().unwrap_or_default().to_lowercase())
        .collect();
    assert_eq!(reported, wanted);
    let sent: BTreeSet<(String, String)> = writes(&log_since(&app, mark)).into_iter().collect();
    let expected: BTreeSet<(String, String)> = emails
        .iter()
        .map(|e| ("PUT".to_owned(), user_path(&app, e)))
        .collect();
    assert_eq!(sent, expected, "one PUT active=false per user");
    for email in &emails {
        assert!(app.emulator().state().user(email).is_none(), "{email}");
    }

    let calls = app.upstream_calls();
    let fields: String = emails
        .iter()
        .enumerate()
        .map(|(i, e)| format!("u{i}: user(email: \"{e}\") {{ email }} "))
        .collect();
    let data = app
        .data(
            &format!("{{ org {{ {fields} all: users(first: 1) {{ totalCount }} }} }}"),
            json!({}),
        )
        .await;
    assert_eq!(app.upstream_calls(), calls, "read from the mirror");
    assert_eq!(data["org"]["all"]["totalCount"], 144);
    for i in 0..emails.len() {
        assert!(data["org"][format!("u{i}")].is_null(), "{data}");
    }
}

const SYNC: &str =
    "{ org { sync { lastRefreshAt refreshing lastRefreshCalls userCount groupCount } } }";

/// Polls the mirror's state until `done` holds (at most 10 s).
async fn wait_for_sync(app: &TestApp, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let sync = app.data(SYNC, json!({})).await["org"]["sync"].clone();
        if done(&sync) {
            return sync;
        }
        assert!(Instant::now() < deadline, "gave up waiting: {sync}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn refresh_directory_estimates_its_calls_and_moves_last_refresh_at() {
    let app = TestApp::one(250, 12).await;
    app.warm().await;
    let before = app.data(SYNC, json!({})).await["org"]["sync"].clone();
    assert!(before["lastRefreshAt"].is_string(), "{before}");
    let calls = app.upstream_calls();

    let p = mutate(
        &app,
        "refreshDirectory",
        json!({ "clientMutationId": "refresh-now" }),
    )
    .await;
    assert_success(&p);
    assert_eq!(p["clientMutationId"], "refresh-now");
    assert_eq!(p["org"]["slug"], "acme");
    assert_eq!(p["estimatedCalls"], 4, "ceil(250/100) + ceil(12/100)");
    assert!(
        p["estimatedSeconds"].as_f64().is_some_and(|s| s >= 0.0),
        "{p}"
    );
    assert_eq!(p["alreadyRunning"], false);

    let previous = before["lastRefreshAt"].clone();
    let after = wait_for_sync(&app, |s| {
        s["refreshing"] == false && s["lastRefreshAt"] != previous
    })
    .await;
    assert_eq!(after["lastRefreshCalls"], 4);
    assert_eq!(after["userCount"], 250);
    assert_eq!(after["groupCount"], 12);
    assert_eq!(
        app.upstream_calls() - calls,
        4,
        "the refresh cost what it said"
    );
}

#[tokio::test]
async fn refresh_directory_joins_a_refresh_already_running() {
    let app = TestApp::one(250, 12).await;
    app.warm().await;
    let previous = app.data(SYNC, json!({})).await["org"]["sync"]["lastRefreshAt"].clone();
    // A slow upstream keeps the background refresh running while the mutation arrives.
    app.emulator().set_faults(Faults {
        latency_ms: 300,
        ..Faults::default()
    });
    let calls = app.upstream_calls();
    app.gateway.dirs.all()[0].start_refresh();

    let p = mutate(&app, "refreshDirectory", json!({})).await;
    assert_success(&p);
    assert_eq!(p["alreadyRunning"], true, "{p:#}");
    assert_eq!(p["estimatedCalls"], 4);

    wait_for_sync(&app, |s| {
        s["refreshing"] == false && s["lastRefreshAt"] != previous
    })
    .await;
    assert_eq!(app.upstream_calls() - calls, 4, "one refresh, not two");
}
