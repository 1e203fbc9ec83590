//! Upstream calls, counted at the emulator: the arithmetic minimum cold, nothing warm, one
//! shared refresh for concurrent clients, batched and coalesced point reads.

use std::time::Duration;

use futures_util::future::join_all;
use scimgate::budget::BudgetConfig;
use scimgate::emulator::Faults;
use serde_json::json;

use crate::support::{OrgSpec, TestApp, spawn_app};

const DASHBOARD: &str = r#"{ org {
  users(first: 100, orderBy: { field: EMAIL }) { totalCount edges { node { email status groups { totalCount } } } }
  groups(first: 100) { totalCount edges { node { name memberCount } } }
} }"#;

#[tokio::test]
async fn a_cold_full_read_costs_the_minimum_and_a_warm_one_nothing() {
    let app = TestApp::one(1_000, 25).await;
    let data = app.data(DASHBOARD, json!({})).await;
    assert_eq!(data["org"]["users"]["totalCount"], 1_000);
    assert_eq!(data["org"]["groups"]["totalCount"], 25);
    assert_eq!(app.upstream_calls(), 11, "ceil(1000/100) + ceil(25/100)");
    app.data(DASHBOARD, json!({})).await;
    assert_eq!(
        app.upstream_calls(),
        11,
        "the same query again costs nothing"
    );
}

#[tokio::test]
async fn fifty_concurrent_cold_dashboards_share_one_refresh() {
    let app = TestApp::one(1_000, 25).await;
    let results = join_all((0..50).map(|_| app.query(DASHBOARD, json!({})))).await;
    for body in results {
        assert!(body.get("errors").is_none(), "{body}");
        assert_eq!(body["data"]["org"]["users"]["totalCount"], 1_000);
    }
    assert_eq!(app.upstream_calls(), 11);
}

#[tokio::test]
async fn point_reads_are_batched_per_request_and_coalesced_across_requests() {
    let app = TestApp::one(300, 5).await;
    let emails: Vec<String> = app
        .emulator()
        .state()
        .users()
        .iter()
        .take(20)
        .map(|u| u.user_name.clone())
        .collect();
    // One request, twenty users not yet mirrored (each asked twice): at most twenty calls.
    let fields: String = emails
        .iter()
        .enumerate()
        .map(|(i, e)| {
            format!(
                "a{i}: user(email: \"{e}\") {{ email }} b{i}: user(email: \"{}\") {{ email }} ",
                e.to_uppercase()
            )
        })
        .collect();
    let data = app
        .data(&format!("{{ org {{ {fields} }} }}"), json!({}))
        .await;
    assert_eq!(data["org"]["a19"]["email"].as_str().unwrap(), emails[19]);
    assert_eq!(data["org"]["b0"]["email"].as_str().unwrap(), emails[0]);
    assert!(
        app.upstream_calls() <= 20,
        "{} calls for 20 users",
        app.upstream_calls()
    );
    assert!(
        app.gateway.dirs.all()[0].state().finished == 0,
        "point reads start no full refresh"
    );

    // Ten concurrent requests for one user not yet read: one upstream call.
    let before = app.upstream_calls();
    let other = app.emulator().state().users()[100].user_name.clone();
    let q = format!("{{ org {{ user(email: \"{other}\") {{ email source }} }} }}");
    let results = join_all((0..10).map(|_| app.query(&q, json!({})))).await;
    for body in &results {
        assert_eq!(body["data"]["org"]["user"]["source"], "UPSTREAM", "{body}");
    }
    assert_eq!(app.upstream_calls() - before, 1);

    // A not-found is remembered.
    let before = app.upstream_calls();
    for _ in 0..3 {
        let data = app
            .data(
                "{ org { user(email: \"ghost@example.com\") { email } } }",
                json!({}),
            )
            .await;
        assert!(data["org"]["user"].is_null());
    }
    assert_eq!(app.upstream_calls() - before, 1);
}

#[tokio::test]
async fn a_cold_first_page_is_served_from_one_upstream_page() {
    // A slow upstream and a tight budget: the whole directory takes seconds to read.
    let mut spec = OrgSpec::new("acme", 1_000, 10);
    spec.budget = BudgetConfig {
        background_share: 1.0,
        ..BudgetConfig::new(5, Duration::from_secs(1))
    };
    let app = spawn_app(vec![spec]).await;
    app.emulator().set_faults(Faults {
        latency_ms: 100,
        ..Faults::default()
    });
    let data = app.data("{ org { users(first: 50) { totalCount edges { node { email } } pageInfo { hasNextPage } } sync { complete } } }", json!({})).await;
    let conn = &data["org"]["users"];
    assert_eq!(conn["edges"].as_array().unwrap().len(), 50);
    assert_eq!(
        conn["totalCount"], 1_000,
        "the upstream's total, known from the first page"
    );
    assert_eq!(conn["pageInfo"]["hasNextPage"], true);
    assert_eq!(
        data["org"]["sync"]["complete"], false,
        "answered before the directory was read"
    );
    assert!(
        app.upstream_calls() <= 2,
        "{} calls before the first page",
        app.upstream_calls()
    );
    let first: Vec<String> = app
        .emulator()
        .state()
        .users()
        .iter()
        .take(50)
        .map(|u| u.user_name.to_lowercase())
        .collect();
    let got: Vec<String> = conn["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["email"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(got, first, "the upstream's first page, in its order");
}

#[tokio::test]
async fn a_cold_first_page_with_groups_does_not_wait_an_emission_interval() {
    // A budget with a long emission interval (4 per 8 s: T = 8.4 s / 3 = 2.8 s) and an upstream
    // answering in 300 ms. The default burst of 2 lets the group list follow the first user
    // page at once; with a burst of 1 it would wait T.
    let mut spec = OrgSpec::new("acme", 500, 10);
    spec.budget = BudgetConfig {
        background_share: 1.0,
        ..BudgetConfig::new(4, Duration::from_secs(8))
    };
    assert_eq!(spec.budget.burst, 2, "the default burst");
    let app = spawn_app(vec![spec]).await;
    app.emulator().set_faults(Faults {
        latency_ms: 300,
        ..Faults::default()
    });
    let data = app
        .data(
            "{ org { users(first: 20) { edges { node { email groups { totalCount } } } } } }",
            json!({}),
        )
        .await;
    let edges = data["org"]["users"]["edges"].as_array().unwrap();
    assert_eq!(edges.len(), 20);
    assert!(
        edges
            .iter()
            .any(|e| e["node"]["groups"]["totalCount"].as_i64() > Some(0)),
        "memberships are known: {data}"
    );
    let log = app.emulator().requests();
    let first = |what: &str| {
        log.iter()
            .find(|r| r.method == "GET" && r.path.contains(what))
            .unwrap_or_else(|| panic!("a GET of {what}: {log:?}"))
            .t_ms
    };
    let gap = first("/Groups").saturating_sub(first("/Users"));
    assert!(
        gap < 1_200,
        "the group page reached the upstream {gap} ms after the first user page (a round trip is 300 ms, T 2,800 ms)"
    );
    assert!(
        log.len() <= 3,
        "answered before the rest of the directory was read: {log:?}"
    );
}
