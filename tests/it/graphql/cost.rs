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

/// `extensions.cost`, when asked: where the answer came from and how many upstream calls it
/// made, equal to what the emulator received; nothing when not asked.
#[tokio::test]
async fn the_cost_extension_counts_what_the_emulator_received() {
    let app = TestApp::one(20, 2).await;
    app.warm().await;
    let ask = |query: &str, header: bool| {
        let mut request = app
            .http
            .post(format!("{}/graphql", app.url))
            .bearer_auth(&app.key);
        let body = if header {
            request = request.header("x-scimgate-cost", "1");
            json!({ "query": query })
        } else {
            json!({ "query": query, "extensions": { "cost": true } })
        };
        async move {
            request
                .json(&body)
                .send()
                .await
                .unwrap()
                .json::<serde_json::Value>()
                .await
                .unwrap()
        }
    };
    let page = "{ org { users(first: 5) { edges { node { email } } } } }";
    let before = app.upstream_calls();
    let first = ask(page, false).await;
    let cost = &first["extensions"]["cost"];
    assert_eq!(cost["answeredFrom"], "MIRROR", "{first:#}");
    assert_eq!(cost["upstreamCalls"], 0);
    let org = &cost["orgs"][0];
    assert_eq!(org["org"], "acme");
    assert_eq!(org["mirror"]["complete"], true);
    assert!(org["mirror"]["generation"].as_u64().unwrap() >= 1);
    assert!(org["mirror"]["ageSeconds"].as_f64().unwrap() >= 0.0);
    assert!(org["budget"]["limit"].as_u64().unwrap() > 0);
    assert!(org["budget"]["remaining"].is_u64());
    // The same again: from the response cache; the header asks as the flag does.
    let again = ask(page, true).await;
    assert_eq!(again["extensions"]["cost"]["answeredFrom"], "CACHE");
    assert_eq!(again["data"], first["data"]);
    assert_eq!(app.upstream_calls(), before);

    // A user the mirror lacks is read upstream: one call, as the emulator counts.
    let missing = "{ org { user(email: \"nobody.here@example.com\") { email } } }";
    let read = ask(missing, false).await;
    let cost = &read["extensions"]["cost"];
    assert_eq!(cost["answeredFrom"], "UPSTREAM", "{read:#}");
    assert_eq!(cost["upstreamCalls"], app.upstream_calls() - before);
    assert_eq!(cost["upstreamCalls"], 1);

    // A write: its PUT.
    let before = app.upstream_calls();
    let id = crate::mutations::user_id(&app, &crate::mutations::joined_users(&app)[0]).await;
    let calls_for_id = app.upstream_calls() - before;
    let rename = format!(
        "mutation {{ updateUser(input: {{ id: \"{id}\", givenName: \"Renamed\" }}) {{ outcome }} }}"
    );
    let wrote = ask(&rename, false).await;
    assert_eq!(
        wrote["data"]["updateUser"]["outcome"], "SUCCESS",
        "{wrote:#}"
    );
    let cost = &wrote["extensions"]["cost"];
    assert_eq!(cost["answeredFrom"], "UPSTREAM");
    assert_eq!(
        cost["upstreamCalls"],
        app.upstream_calls() - before - calls_for_id
    );
    // Not asked: no extensions.
    let plain = app.query(page, json!({})).await;
    assert!(plain.get("extensions").is_none(), "{plain:#}");
}
