//! `/metrics` behind its bearer token, and the budget's refusals under a flood.

use std::time::{Duration, Instant};

use openmetrics_parser::prometheus::parse_prometheus;
use serde_json::{Value, json};

use super::{KEY, Scrape, at_emulator, at_gateway, emulator, graphql, serve};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_ask_for_the_bearer_token_when_one_is_configured() {
    let emu = emulator().await;
    let token = "metrics-bearer-token-0001";
    let (port, _gateway, dir) = serve(
        &emu,
        "metrics_key_env = \"METRICS_TEST_TOKEN\"",
        "limit = 600\nwindow = \"60s\"",
        &[("METRICS_TEST_TOKEN", token)],
    );
    let http = reqwest::Client::new();
    let url = format!("http://127.0.0.1:{port}/metrics");
    for authorization in [
        None,
        Some("Bearer wrong-token"),
        Some(KEY),
        Some("Basic metrics-bearer-token-0001"),
    ] {
        let mut request = http.get(&url);
        if let Some(value) = authorization {
            request = request.header("authorization", value);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 401, "{authorization:?}");
        assert_eq!(response.headers()["www-authenticate"], "Bearer");
        let body: Value = response.json().await.unwrap();
        assert_eq!(
            body["errors"][0]["extensions"]["code"], "UNAUTHENTICATED",
            "{body}"
        );
        assert!(!body.to_string().contains(token));
    }
    let response = http.get(&url).bearer_auth(token).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let text = response.text().await.unwrap();
    let parsed = parse_prometheus(&text).unwrap();
    assert!(
        parsed.families.contains_key("scimgate_build_info"),
        "{text}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

const POINT: &str = "query Point($e: String!) { org { user(email: $e) { email } } }";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_the_calls_the_budget_refused_under_a_flood() {
    let emu = emulator().await;
    // 20 per 2 s (one release about every 110 ms) and at most 300 ms of queue: a flood of
    // point reads is mostly refused at once.
    let budget = "limit = 20\nwindow = \"2s\"\nmax_queue_wait = \"300ms\"\nbackground_share = 1.0";
    let (port, _gateway, dir) = serve(&emu, "", budget, &[]);
    let http = reqwest::Client::new();
    let readyz = format!("http://127.0.0.1:{port}/readyz");
    let deadline = Instant::now() + Duration::from_secs(10);
    while http.get(&readyz).send().await.unwrap().status() != 200 {
        assert!(Instant::now() < deadline, "the mirror did not load");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Users nobody has: each read goes upstream, in the interactive lane.
    let flood = 30;
    let reads = (0..flood).map(|i| {
        let variables = json!({ "e": format!("flood-{i}@example.org") });
        graphql(&http, port, POINT, variables)
    });
    let answers = futures_util::future::join_all(reads).await;
    let refused = answers
        .iter()
        .filter(|a| a["errors"][0]["extensions"]["code"] == "RATE_LIMITED")
        .count();
    let served = answers
        .iter()
        .filter(|a| a.get("errors").is_none() && a["data"]["org"]["user"].is_null())
        .count();
    assert_eq!(refused + served, flood, "{answers:?}");
    assert!(refused >= flood / 2, "only {refused} of {flood} refused");

    let deadline = Instant::now() + Duration::from_secs(10);
    let scrape = loop {
        let scrape = Scrape::take(&http, port).await;
        if at_gateway(&scrape) == at_emulator(&emu) {
            break scrape;
        }
        assert!(
            Instant::now() < deadline,
            "the upstream counters never matched"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    // Refused calls sent nothing: only the served reads reached the upstream.
    let reads = emu
        .requests()
        .iter()
        .filter(|r| r.method == "GET" && r.path.contains("flood-"))
        .count();
    assert_eq!(reads, served);
    let interactive = [("org", "acme"), ("lane", "interactive")];
    assert_eq!(
        scrape.sum("scimgate_budget_refused_total", &interactive),
        refused as f64
    );
    assert_eq!(
        scrape.sum("scimgate_budget_queue_wait_seconds", &interactive),
        served as f64
    );
    assert_eq!(scrape.sum("scimgate_budget_queue_depth", &interactive), 0.0);
    let point = |outcome: &str| {
        scrape.sum(
            "scimgate_graphql_requests_total",
            &[("operation", "Point"), ("outcome", outcome)],
        )
    };
    assert_eq!(point("refused"), refused as f64);
    assert_eq!(point("ok"), served as f64);
    let _ = std::fs::remove_dir_all(&dir);
}
