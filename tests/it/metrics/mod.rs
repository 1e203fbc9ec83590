//! `GET /metrics` of a `scimgate serve` child process (the recorder is per process, so the
//! counts are this gateway's alone), parsed with a strict Prometheus text grammar: after a
//! workload (`workload.rs`), under a flood the budget sheds and behind the bearer token
//! (`guarded.rs`). Counts are checked against what the emulator itself logged.

mod grants;
mod guarded;
mod workload;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use openmetrics_parser::prometheus::parse_prometheus;
use openmetrics_parser::{MetricsExposition, PrometheusType, PrometheusValue};
use scimgate::emulator::{self, EmulatorConfig, RunningEmulator};
use serde_json::{Value, json};

use crate::cli::{Running, free_port};

pub(super) const KEY: &str = "metrics-test-client-key-0001";
pub(super) const USERS: usize = 150;
pub(super) const GROUPS: usize = 12;

/// `scimgate serve` over `emu` with `extra` appended to `[server]` and `budget` as the org's
/// `[orgs.budget]`, once it listens; its
/// port, the child and the folder of its config and store.
pub(super) fn serve(
    emu: &RunningEmulator,
    extra: &str,
    budget: &str,
    env: &[(&str, &str)],
) -> (u16, Running, PathBuf) {
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
             [orgs.budget]\n{budget}\n",
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

pub(super) async fn emulator() -> RunningEmulator {
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
pub(super) struct Scrape(Exposition);

impl Scrape {
    pub(super) async fn take(http: &reqwest::Client, port: u16) -> Scrape {
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
    pub(super) fn samples(
        &self,
        name: &str,
        labels: &[(&str, &str)],
    ) -> Vec<(BTreeMap<String, String>, f64)> {
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
    pub(super) fn sum(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.samples(name, labels).iter().map(|(_, v)| v).sum()
    }

    /// The sum of the `_sum`s of histogram `name`'s samples matching `labels`.
    pub(super) fn histogram_sum(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        let Some(family) = self.0.families.get(name) else {
            return 0.0;
        };
        let names = family.get_label_names().to_vec();
        family
            .iter_samples()
            .filter(|sample| {
                let set = sample.get_labelset().unwrap();
                labels.iter().all(|(k, v)| {
                    names.iter().any(|n| n == k) && set.get_label_value(k) == Some(*v)
                })
            })
            .map(|sample| match &sample.value {
                PrometheusValue::Histogram(h) => h.sum.as_ref().map_or(0.0, |s| s.as_f64()),
                other => panic!("{name}: not a histogram: {other:?}"),
            })
            .sum()
    }

    pub(super) fn family_type(&self, name: &str) -> Option<PrometheusType> {
        self.0.families.get(name).map(|f| f.family_type.clone())
    }
}

pub(super) async fn graphql(
    http: &reqwest::Client,
    port: u16,
    query: &str,
    variables: Value,
) -> Value {
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
pub(super) fn at_emulator(emu: &RunningEmulator) -> BTreeMap<(String, String), f64> {
    let mut out = BTreeMap::new();
    for r in emu.requests() {
        *out.entry((r.method, r.status.to_string())).or_insert(0.0) += 1.0;
    }
    out
}

/// The gateway's upstream counter as `(method, status) -> requests`.
pub(super) fn at_gateway(scrape: &Scrape) -> BTreeMap<(String, String), f64> {
    let mut out = BTreeMap::new();
    for (labels, value) in scrape.samples("scimgate_upstream_requests_total", &[]) {
        *out.entry((labels["method"].clone(), labels["status"].clone()))
            .or_insert(0.0) += value;
    }
    out
}
