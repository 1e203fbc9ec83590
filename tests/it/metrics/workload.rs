//! A workload against one organization: a cold read that loads the mirror, named, anonymous,
//! broken and refused queries, writes (one the upstream answers 404, one its 429 delays).

use std::time::{Duration, Instant};

use openmetrics_parser::PrometheusType;
use scimgate::emulator::Faults;
use serde_json::json;

use super::{GROUPS, Scrape, USERS, at_emulator, at_gateway, emulator, graphql, serve};

const COLD: &str = "query Cold { org { users(first: 5) { totalCount } } }";
const LIST: &str = "query ListUsers { org { users(first: 3) { totalCount } } }";
const ANONYMOUS: &str = "{ org { groups(first: 2) { totalCount } } }";
const BROKEN: &str = "query Broken { org { noSuchField } }";
const TOO_DEEP: &str = "query TooDeep { org { users(first: 1) { edges { node { email } } } } }";
const INVITE: &str = "mutation Invite($input: InviteUserInput!) { inviteUser(input: $input) { outcome userErrors { code } } }";
const DEACTIVATE: &str = "mutation Deactivate($input: DeactivateUserInput!) { deactivateUser(input: $input) { outcome userErrors { code } } }";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_what_the_emulator_received_and_the_requests_sent() {
    let emu = emulator().await;
    let (port, _gateway, dir) = serve(&emu, "", "limit = 600\nwindow = \"60s\"", &[]);
    let http = reqwest::Client::new();

    // A cold read waits for the mirror the start began loading.
    let cold = graphql(&http, port, COLD, json!({})).await;
    assert_eq!(cold["data"]["org"]["users"]["totalCount"], USERS, "{cold}");
    let deadline = Instant::now() + Duration::from_secs(10);
    let readyz = format!("http://127.0.0.1:{port}/readyz");
    while http.get(&readyz).send().await.unwrap().status() != 200 {
        assert!(Instant::now() < deadline, "the mirror did not load");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let first = Scrape::take(&http, port).await;
    assert_eq!(
        first.sum("scimgate_mirror_users", &[("org", "acme")]),
        USERS as f64
    );
    assert_eq!(
        first.sum("scimgate_mirror_groups", &[("org", "acme")]),
        GROUPS as f64
    );
    assert_eq!(
        first.sum("scimgate_mirror_complete", &[("org", "acme")]),
        1.0
    );
    assert_eq!(
        first.sum("scimgate_budget_limit", &[("org", "acme")]),
        600.0
    );
    assert_eq!(
        first.sum("scimgate_credential_revoked", &[("org", "acme")]),
        0.0
    );
    assert_eq!(
        first.sum("scimgate_budget_paused_seconds", &[("org", "acme")]),
        0.0
    );
    let age = first.sum("scimgate_mirror_age_seconds", &[("org", "acme")]);
    assert!((0.0..60.0).contains(&age), "mirror age {age}");
    assert_eq!(
        first
            .samples("scimgate_budget_queue_depth", &[("org", "acme")])
            .len(),
        4
    );
    // The refresh: ceil(150/100) user pages and one group page, in the background lane.
    assert_eq!(
        first.sum(
            "scimgate_mirror_refreshes_total",
            &[("org", "acme"), ("outcome", "ok")]
        ),
        1.0
    );
    assert_eq!(
        first.sum(
            "scimgate_mirror_refresh_duration_seconds",
            &[("org", "acme")]
        ),
        1.0
    );
    assert_eq!(
        first.sum("scimgate_mirror_refresh_calls_total", &[("org", "acme")]),
        3.0
    );
    assert_eq!(
        first.sum(
            "scimgate_upstream_requests_total",
            &[("lane", "background"), ("method", "GET")]
        ),
        3.0
    );

    for _ in 0..4 {
        let body = graphql(&http, port, LIST, json!({})).await;
        assert_eq!(body["data"]["org"]["users"]["totalCount"], USERS, "{body}");
    }
    for _ in 0..2 {
        let body = graphql(&http, port, ANONYMOUS, json!({})).await;
        assert_eq!(
            body["data"]["org"]["groups"]["totalCount"], GROUPS,
            "{body}"
        );
    }
    let broken = graphql(&http, port, BROKEN, json!({})).await;
    assert_eq!(
        broken["errors"][0]["extensions"]["code"], "GRAPHQL_VALIDATION_FAILED",
        "{broken}"
    );
    let deep = graphql(&http, port, TOO_DEEP, json!({})).await;
    assert_eq!(
        deep["errors"][0]["extensions"]["code"], "DEPTH_LIMIT",
        "{deep}"
    );
    for i in 0..2 {
        let input = json!({ "email": format!("metrics.{i}@example.org"), "givenName": "Metrics", "familyName": format!("Test{i}") });
        let body = graphql(&http, port, INVITE, json!({ "input": input })).await;
        assert_eq!(body["data"]["inviteUser"]["outcome"], "SUCCESS", "{body}");
    }
    // A user removed behind the gateway's back: the upstream answers 404 (and the gateway
    // takes the user as deactivated already).
    let gone = emu.state().users()[7].user_name.clone();
    assert!(emu.state().remove_user(&gone));
    let body = graphql(&http, port, DEACTIVATE, json!({ "input": { "id": gone } })).await;
    assert_eq!(
        body["data"]["deactivateUser"]["outcome"], "SUCCESS",
        "{body}"
    );

    // A 429 window: the invite's first try is refused, the org pauses, the retry lands.
    emu.set_faults(Faults {
        force_429_secs: 0.3,
        ..Faults::default()
    });
    let input = json!({ "email": "metrics.late@example.org", "givenName": "Metrics", "familyName": "Late" });
    let body = graphql(&http, port, INVITE, json!({ "input": input })).await;
    assert_eq!(body["data"]["inviteUser"]["outcome"], "SUCCESS", "{body}");

    // Every try the emulator received is counted, by method and status, and nothing else.
    let deadline = Instant::now() + Duration::from_secs(10);
    let last = loop {
        let scrape = Scrape::take(&http, port).await;
        let (gateway, upstream) = (at_gateway(&scrape), at_emulator(&emu));
        if gateway == upstream {
            break scrape;
        }
        assert!(
            Instant::now() < deadline,
            "gateway {gateway:?}, emulator {upstream:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let upstream = at_emulator(&emu);
    assert_eq!(
        upstream.get(&("POST".into(), "201".into())),
        Some(&3.0),
        "{upstream:?}"
    );
    let refused = upstream.get(&("POST".into(), "429".into())).copied();
    assert!(refused >= Some(1.0), "{upstream:?}");
    assert_eq!(
        upstream.get(&("PUT".into(), "404".into())),
        Some(&1.0),
        "{upstream:?}"
    );
    assert_eq!(
        last.sum("scimgate_upstream_requests_total", &[("class", "4xx")]),
        upstream
            .iter()
            .filter(|((_, s), _)| s.starts_with('4'))
            .map(|(_, n)| n)
            .sum::<f64>()
    );
    assert_eq!(
        last.sum(
            "scimgate_upstream_requests_total",
            &[("method", "POST"), ("lane", "write")]
        ),
        3.0 + refused.unwrap()
    );
    assert_eq!(
        last.sum(
            "scimgate_upstream_rate_limited_total",
            &[("org", "acme"), ("lane", "write")]
        ),
        refused.unwrap()
    );
    // Each try's latency and each call's queue wait are in their histograms.
    let tries: f64 = upstream.values().sum();
    assert_eq!(
        last.sum(
            "scimgate_upstream_request_duration_seconds",
            &[("org", "acme")]
        ),
        tries
    );
    assert_eq!(
        last.sum("scimgate_budget_queue_wait_seconds", &[("org", "acme")]),
        tries
    );
    assert_eq!(
        last.family_type("scimgate_upstream_request_duration_seconds"),
        Some(PrometheusType::Histogram)
    );

    // GraphQL: by operation and outcome, as sent.
    let ops = |op: &str, outcome: &str| {
        last.sum(
            "scimgate_graphql_requests_total",
            &[("operation", op), ("outcome", outcome)],
        )
    };
    assert_eq!(ops("Cold", "ok"), 1.0);
    assert_eq!(ops("ListUsers", "ok"), 4.0);
    assert_eq!(ops("anonymous", "ok"), 2.0);
    assert_eq!(ops("Broken", "errors"), 1.0);
    assert_eq!(ops("TooDeep", "refused"), 1.0);
    assert_eq!(ops("Invite", "ok"), 3.0);
    assert_eq!(ops("Deactivate", "ok"), 1.0);
    assert_eq!(last.sum("scimgate_graphql_requests_total", &[]), 13.0);
    assert_eq!(
        last.sum(
            "scimgate_graphql_request_duration_seconds",
            &[("operation", "ListUsers")]
        ),
        4.0
    );
    assert_eq!(
        last.sum("scimgate_graphql_request_duration_seconds", &[]),
        13.0
    );

    // The store: each mutation's intent begun and finished.
    let store = |op: &str| {
        last.sum(
            "scimgate_store_operation_duration_seconds",
            &[("operation", op)],
        )
    };
    assert_eq!(store("intent_begin"), 4.0);
    assert_eq!(store("intent_finish"), 4.0);
    assert!(store("audit_append") >= 1.0, "the refresh's audit row");
    assert_eq!(last.sum("scimgate_store_errors_total", &[]), 0.0);
    assert_eq!(
        last.sum("scimgate_mirror_users", &[("org", "acme")]),
        USERS as f64 - 1.0 + 3.0
    );
    assert_eq!(last.sum("scimgate_build_info", &[]), 1.0);
    let _ = std::fs::remove_dir_all(&dir);
}
