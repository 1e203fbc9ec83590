//! `GET /metrics` of a `scimgate serve` child process (the recorder is per process, so the
//! counts are this gateway's alone), parsed with a strict Prometheus text grammar, after a
//! workload: upstream counters equal what the emulator itself logged, GraphQL counters equal
//! the requests sent, the mirror's gauges equal what was seeded; and the bearer protection.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use openmetrics_parser::prometheus::parse_prometheus;
use openmetrics_parser::{MetricsExposition, PrometheusType, PrometheusValue};
use scimgate::emulator::{self, EmulatorConfig, Faults, RunningEmulator};
use serde_json::{Value, json};

use crate::cli::{Running, free_port};

const KEY: &str = "metrics-test-client-key-0001";
const USERS: usize = 150;
const GROUPS: usize = 12;

/// `scimgate serve` over `emu` with `extra` appended to `[server]`, once it listens; its
/// port, the child and the folder of its config and store.
fn serve(emu: &RunningEmulator, extra: &str, env: &[(&str, &str)]) -> (u16, Running, PathBuf) {
    let port = free_port();
    let dir = std::env::temp_dir().join(format!("scimgate-metrics-{port}"));
    std::fs::create_dir_all(&dir).unwrap();
    let config = dir.join("scimgate.toml");
    std::fs::write(
        &config,
        format!(
            "[server]\nlisten = \"127.0.0.1:{port}\"\n{extra}\n\n\
             [limits]\nmax_depth = 4\n\n\
             [store]\nurl = \"sqlite://{}\"\n\n\
             [[api_keys]]\nname = \"ops\"\nhash = \"{}\"\nrole = \"admin\"\n\n\
             [[orgs]]\nid = \"acme\"\nbase_url = \"{}\"\nkey_env = \"METRICS_SCIM_KEY\"\n\n\
             [orgs.budget]\nlimit = 600\nwindow = \"60s\"\n",
            dir.join("store.sqlite3").display(),
            scimgate::auth::hash_key(KEY),
            emu.base_url()
        ),
    )
    .unwrap();
    let mut command = Command::new(env!("CARGO_BIN_EXE_scimgate"));
    command
        .args(["serve", "--config", config.to_str().unwrap()])
        .env("METRICS_SCIM_KEY", emu.token())
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped());
    for (name, value) in env {
        command.env(name, value);
    }
    let mut child = command.spawn().expect("scimgate serve starts");
    let stdout = child.stdout.take().unwrap();
    let listening = std::io::BufRead::lines(std::io::BufReader::new(stdout))
        .map_while(Result::ok)
        .any(|l| l.starts_with("scimgate listening on"));
    assert!(listening, "the gateway did not start");
    (port, Running(child), dir)
}

async fn emulator() -> RunningEmulator {
    scimgate::scim::install_crypto_provider();
    emulator::spawn(EmulatorConfig {
        users: USERS,
        groups: GROUPS,
        limit: 100_000,
        token: "metrics-scim-token-0001".into(),
        ..EmulatorConfig::default()
    })
    .await
    .unwrap()
}

type Exposition = MetricsExposition<PrometheusType, PrometheusValue>;

/// One scrape, parsed; the parse fails on any line outside the Prometheus text grammar.
struct Scrape(Exposition);

impl Scrape {
    async fn take(http: &reqwest::Client, port: u16) -> Scrape {
        let response = http
            .get(format!("http://127.0.0.1:{port}/metrics"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let content_type = response.headers()["content-type"].to_str().unwrap();
        assert!(content_type.starts_with("text/plain; version=0.0.4"));
        let text = response.text().await.unwrap();
        Scrape(parse_prometheus(&text).unwrap_or_else(|e| panic!("{e:?} in:\n{text}")))
    }

    /// The samples of `name` (a counter or gauge) whose labels include `labels`, each with
    /// its labels and value.
    fn samples(&self, name: &str, labels: &[(&str, &str)]) -> Vec<(BTreeMap<String, String>, f64)> {
        let Some(family) = self.0.families.get(name) else {
            return Vec::new();
        };
        let names = family.get_label_names().to_vec();
        family
            .iter_samples()
            .filter_map(|sample| {
                let set = sample.get_labelset().unwrap();
                let all: BTreeMap<String, String> = names
                    .iter()
                    .map(|n| (n.clone(), set.get_label_value(n).unwrap().to_owned()))
                    .collect();
                let matches = labels
                    .iter()
                    .all(|(k, v)| all.get(*k).map(String::as_str) == Some(v));
                let value = match &sample.value {
                    PrometheusValue::Counter(c) => c.value.as_f64(),
                    PrometheusValue::Gauge(g) => g.as_f64(),
                    PrometheusValue::Histogram(h) => h.count.unwrap_or(0) as f64,
                    other => panic!("{name}: unexpected {other:?}"),
                };
                matches.then_some((all, value))
            })
            .collect()
    }

    /// The sum of the samples of `name` matching `labels` (a histogram's: their counts).
    fn sum(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.samples(name, labels).iter().map(|(_, v)| v).sum()
    }

    fn family_type(&self, name: &str) -> Option<PrometheusType> {
        self.0.families.get(name).map(|f| f.family_type.clone())
    }
}

async fn graphql(http: &reqwest::Client, port: u16, query: &str, variables: Value) -> Value {
    http.post(format!("http://127.0.0.1:{port}/graphql"))
        .bearer_auth(KEY)
        .json(&json!({ "query": query, "variables": variables }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// The emulator's log as `(method, status) -> requests`.
fn at_emulator(emu: &RunningEmulator) -> BTreeMap<(String, String), f64> {
    let mut out = BTreeMap::new();
    for r in emu.requests() {
        *out.entry((r.method, r.status.to_string())).or_insert(0.0) += 1.0;
    }
    out
}

/// The gateway's upstream counter as `(method, status) -> requests`.
fn at_gateway(scrape: &Scrape) -> BTreeMap<(String, String), f64> {
    let mut out = BTreeMap::new();
    for (labels, value) in scrape.samples("scimgate_upstream_requests_total", &[("org", "acme")]) {
        *out.entry((labels["method"].clone(), labels["status"].clone()))
            .or_insert(0.0) += value;
    }
    out
}

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
    let (port, _gateway, dir) = serve(&emu, "", &[]);
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_ask_for_the_bearer_token_when_one_is_configured() {
    let emu = emulator().await;
    let token = "metrics-bearer-token-0001";
    let (port, _gateway, dir) = serve(
        &emu,
        "metrics_key_env = \"METRICS_TEST_TOKEN\"",
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
