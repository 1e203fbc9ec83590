//! Every metric the gateway exports: its name, type, unit and description in one place, the
//! process-wide Prometheus recorder, and the helpers the layers record through.
//!
//! The `metrics` recorder is global to the process: counters and histograms count everything
//! every gateway in the process did since it started (one in `scimgate serve`; many in the
//! in-process integration tests, which is why the counting tests run a child process).
//! Gauges that describe state (queues, budget, mirror) are set when `/metrics` is scraped,
//! from the directories' own views, by `http::metrics`.

use std::collections::HashSet;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use metrics::{Unit, counter, describe_counter, describe_gauge, describe_histogram, histogram};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

// Upstream SCIM requests, one per try, as the SCIM client sent them.
pub const UPSTREAM_REQUESTS: &str = "scimgate_upstream_requests_total";
pub const UPSTREAM_RATE_LIMITED: &str = "scimgate_upstream_rate_limited_total";
pub const UPSTREAM_DURATION: &str = "scimgate_upstream_request_duration_seconds";
// The budget.
pub const BUDGET_QUEUE_WAIT: &str = "scimgate_budget_queue_wait_seconds";
pub const BUDGET_QUEUE_DEPTH: &str = "scimgate_budget_queue_depth";
pub const BUDGET_REFUSED: &str = "scimgate_budget_refused_total";
pub const BUDGET_LIMIT: &str = "scimgate_budget_limit";
pub const BUDGET_REMAINING: &str = "scimgate_budget_remaining";
pub const BUDGET_PAUSED: &str = "scimgate_budget_paused_seconds";
pub const CREDENTIAL_REVOKED: &str = "scimgate_credential_revoked";
// The mirror.
pub const MIRROR_AGE: &str = "scimgate_mirror_age_seconds";
pub const MIRROR_USERS: &str = "scimgate_mirror_users";
pub const MIRROR_GROUPS: &str = "scimgate_mirror_groups";
pub const MIRROR_COMPLETE: &str = "scimgate_mirror_complete";
pub const MIRROR_REFRESHES: &str = "scimgate_mirror_refreshes_total";
pub const MIRROR_REFRESH_DURATION: &str = "scimgate_mirror_refresh_duration_seconds";
pub const MIRROR_REFRESH_CALLS: &str = "scimgate_mirror_refresh_calls_total";
// GraphQL.
pub const GRAPHQL_REQUESTS: &str = "scimgate_graphql_requests_total";
pub const GRAPHQL_DURATION: &str = "scimgate_graphql_request_duration_seconds";
pub const SUBSCRIPTIONS_OPEN: &str = "scimgate_subscriptions_open";
pub const RESPONSE_CACHE_HITS: &str = "scimgate_response_cache_hits_total";
pub const RESPONSE_CACHE_MISSES: &str = "scimgate_response_cache_misses_total";
pub const RESPONSE_CACHE_BYTES: &str = "scimgate_response_cache_bytes";
// The store.
pub const STORE_DURATION: &str = "scimgate_store_operation_duration_seconds";
pub const STORE_ERRORS: &str = "scimgate_store_errors_total";
// Time-bound grants.
pub const GRANTS_ACTIVE: &str = "scimgate_grants_active";
pub const GRANTS_OVERDUE: &str = "scimgate_grants_overdue";
pub const GRANTS_OVERDUE_AGE: &str = "scimgate_grants_overdue_seconds";
pub const GRANT_REVOCATION_LAG: &str = "scimgate_grant_revocation_lag_seconds";
// Webhooks.
pub const WEBHOOK_BACKLOG: &str = "scimgate_webhook_backlog";
pub const WEBHOOK_DELIVERIES: &str = "scimgate_webhook_deliveries_total";
// The process.
pub const BUILD_INFO: &str = "scimgate_build_info";

enum Kind {
    Counter,
    Gauge,
    Histogram,
}

/// Name, kind, unit and description of every metric, in the order the README lists them.
const ALL: &[(&str, Kind, Unit, &str)] = &[
    (
        UPSTREAM_REQUESTS,
        Kind::Counter,
        Unit::Count,
        "SCIM requests sent upstream, every try counted (labels org, lane, method, status, class)",
    ),
    (
        UPSTREAM_RATE_LIMITED,
        Kind::Counter,
        Unit::Count,
        "Upstream answers 429 Too Many Requests (labels org, lane)",
    ),
    (
        UPSTREAM_DURATION,
        Kind::Histogram,
        Unit::Seconds,
        "Time from sending a SCIM request to its answer or failure (labels org, lane, method)",
    ),
    (
        BUDGET_QUEUE_WAIT,
        Kind::Histogram,
        Unit::Seconds,
        "Time a call waited in its lane for a budget slot (labels org, lane)",
    ),
    (
        BUDGET_QUEUE_DEPTH,
        Kind::Gauge,
        Unit::Count,
        "Calls waiting for a budget slot now (labels org, lane)",
    ),
    (
        BUDGET_REFUSED,
        Kind::Counter,
        Unit::Count,
        "Calls refused by the budget's admission, nothing sent (labels org, lane)",
    ),
    (
        BUDGET_LIMIT,
        Kind::Gauge,
        Unit::Count,
        "Requests the upstream allows per budget window (label org)",
    ),
    (
        BUDGET_REMAINING,
        Kind::Gauge,
        Unit::Count,
        "Requests left in the current budget window (label org)",
    ),
    (
        BUDGET_PAUSED,
        Kind::Gauge,
        Unit::Seconds,
        "Seconds left of a pause an upstream 429 imposed on every lane; 0 when none (label org)",
    ),
    (
        CREDENTIAL_REVOKED,
        Kind::Gauge,
        Unit::Count,
        "1 when the upstream rejected the SCIM key and calls stopped, else 0 (label org)",
    ),
    (
        MIRROR_AGE,
        Kind::Gauge,
        Unit::Seconds,
        "Seconds since the mirror's snapshot was fetched (label org)",
    ),
    (
        MIRROR_USERS,
        Kind::Gauge,
        Unit::Count,
        "Users in the mirror (label org)",
    ),
    (
        MIRROR_GROUPS,
        Kind::Gauge,
        Unit::Count,
        "Groups in the mirror (label org)",
    ),
    (
        MIRROR_COMPLETE,
        Kind::Gauge,
        Unit::Count,
        "1 when every user and group of the organization has arrived, else 0 (label org)",
    ),
    (
        MIRROR_REFRESHES,
        Kind::Counter,
        Unit::Count,
        "Mirror refreshes finished (labels org, outcome = ok | failed)",
    ),
    (
        MIRROR_REFRESH_DURATION,
        Kind::Histogram,
        Unit::Seconds,
        "Time a mirror refresh took, successful or not (label org)",
    ),
    (
        MIRROR_REFRESH_CALLS,
        Kind::Counter,
        Unit::Count,
        "Upstream requests mirror refreshes made (label org)",
    ),
    (
        GRAPHQL_REQUESTS,
        Kind::Counter,
        Unit::Count,
        "GraphQL operations run (labels operation, outcome = ok | errors | refused)",
    ),
    (
        GRAPHQL_DURATION,
        Kind::Histogram,
        Unit::Seconds,
        "Time to answer a GraphQL operation (label operation)",
    ),
    (
        SUBSCRIPTIONS_OPEN,
        Kind::Gauge,
        Unit::Count,
        "GraphQL operations streaming now (label transport = ws | sse)",
    ),
    (
        RESPONSE_CACHE_HITS,
        Kind::Counter,
        Unit::Count,
        "Cacheable queries answered from the response cache",
    ),
    (
        RESPONSE_CACHE_MISSES,
        Kind::Counter,
        Unit::Count,
        "Cacheable queries that ran (first seen, or their mirror changed since)",
    ),
    (
        RESPONSE_CACHE_BYTES,
        Kind::Gauge,
        Unit::Bytes,
        "Bytes of answers the response cache holds",
    ),
    (
        STORE_DURATION,
        Kind::Histogram,
        Unit::Seconds,
        "Time a store operation took (label operation)",
    ),
    (
        STORE_ERRORS,
        Kind::Counter,
        Unit::Count,
        "Store operations that failed (label operation)",
    ),
    (
        GRANTS_ACTIVE,
        Kind::Gauge,
        Unit::Count,
        "Time-bound grants not ended yet, overdue ones included (label org)",
    ),
    (
        GRANTS_OVERDUE,
        Kind::Gauge,
        Unit::Count,
        "Grants past their end whose membership is not removed yet (label org)",
    ),
    (
        GRANTS_OVERDUE_AGE,
        Kind::Gauge,
        Unit::Seconds,
        "How long past its end the oldest overdue grant is; 0 when none is (label org)",
    ),
    (
        GRANT_REVOCATION_LAG,
        Kind::Histogram,
        Unit::Seconds,
        "Due time to the upstream's answer to a grant's removal (labels org, end = expired | revoked)",
    ),
    (
        WEBHOOK_BACKLOG,
        Kind::Gauge,
        Unit::Count,
        "Webhook deliveries waiting for a first try or a retry (label endpoint)",
    ),
    (
        WEBHOOK_DELIVERIES,
        Kind::Counter,
        Unit::Count,
        "Webhook tries (labels endpoint, outcome = delivered | retrying | failed | gone)",
    ),
    (
        BUILD_INFO,
        Kind::Gauge,
        Unit::Count,
        "Always 1; the label version is the gateway's version",
    ),
];

/// The names of every metric this module describes.
pub fn names() -> impl Iterator<Item = &'static str> {
    ALL.iter().map(|(name, ..)| *name)
}

/// Lane label values, in the budget's priority order (the order `BudgetView`'s arrays use).
pub const LANES: [&str; 4] = ["critical", "write", "interactive", "background"];

/// Histogram buckets in seconds: a millisecond (a read from memory) to five minutes (a refresh
/// of a large directory within the budget).
const BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
    120.0, 300.0,
];

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// Installs the process-wide recorder once (later calls return the same handle) and describes
/// every metric. A recorder some other code installed first wins; the handle then renders
/// only what this one saw (nothing).
pub fn install() -> &'static PrometheusHandle {
    HANDLE.get_or_init(|| {
        let recorder = PrometheusBuilder::new()
            .set_buckets(BUCKETS)
            .expect("the buckets are not empty")
            .build_recorder();
        let handle = recorder.handle();
        if metrics::set_global_recorder(recorder).is_err() {
            tracing::warn!("a metrics recorder was installed already; /metrics shows nothing");
        }
        describe();
        metrics::gauge!(BUILD_INFO, "version" => env!("CARGO_PKG_VERSION")).set(1.0);
        let upkeep = handle.clone();
        // Histograms keep their samples until drained; draining between scrapes bounds that.
        let spawned = std::thread::Builder::new()
            .name("metrics-upkeep".into())
            .spawn(move || {
                loop {
                    #[expect(
                        clippy::disallowed_methods,
                        reason = "a thread of its own, not a tokio worker"
                    )]
                    std::thread::sleep(Duration::from_secs(5));
                    upkeep.run_upkeep();
                }
            });
        if let Err(e) = spawned {
            tracing::warn!(error = %e, "no metrics upkeep thread; histograms drain at each scrape");
        }
        handle
    })
}

fn describe() {
    for (name, kind, unit, help) in ALL {
        match kind {
            Kind::Counter => describe_counter!(*name, *unit, *help),
            Kind::Gauge => describe_gauge!(*name, *unit, *help),
            Kind::Histogram => describe_histogram!(*name, *unit, *help),
        }
    }
}

/// One try of a SCIM request: `status` is `None` when no answer came (connect error, timeout).
pub fn upstream_request(
    org: &str,
    lane: &'static str,
    method: &str,
    status: Option<u16>,
    took: Duration,
) {
    let (code, class) = match status {
        Some(s) => (
            s.to_string(),
            match s {
                100..=199 => "1xx",
                200..=299 => "2xx",
                300..=399 => "3xx",
                400..=499 => "4xx",
                _ => "5xx",
            },
        ),
        None => ("none".to_owned(), "none"),
    };
    let (org, method) = (org.to_owned(), method.to_owned());
    counter!(UPSTREAM_REQUESTS, "org" => org.clone(), "lane" => lane, "method" => method.clone(), "status" => code, "class" => class)
        .increment(1);
    if status == Some(429) {
        counter!(UPSTREAM_RATE_LIMITED, "org" => org.clone(), "lane" => lane).increment(1);
    }
    histogram!(UPSTREAM_DURATION, "org" => org, "lane" => lane, "method" => method)
        .record(took.as_secs_f64());
}

/// A call's wait for its budget slot.
pub fn queue_wait(org: &str, lane: &'static str, waited: Duration) {
    histogram!(BUDGET_QUEUE_WAIT, "org" => org.to_owned(), "lane" => lane)
        .record(waited.as_secs_f64());
}

/// A mirror refresh that finished: its outcome, duration and the upstream requests it made.
/// A refresh that stopped before its end (a panic) counts as failed, with no duration.
pub fn refresh(org: &str, ok: bool, took: Option<Duration>, calls: usize) {
    let outcome = if ok { "ok" } else { "failed" };
    counter!(MIRROR_REFRESHES, "org" => org.to_owned(), "outcome" => outcome).increment(1);
    if let Some(took) = took {
        histogram!(MIRROR_REFRESH_DURATION, "org" => org.to_owned()).record(took.as_secs_f64());
    }
    counter!(MIRROR_REFRESH_CALLS, "org" => org.to_owned()).increment(calls as u64);
}

/// A GraphQL operation answered. `operation` goes through [`operation_label`].
pub fn graphql_request(operation: Option<&str>, outcome: &'static str, took: Duration) {
    let operation = operation_label(operation);
    counter!(GRAPHQL_REQUESTS, "operation" => operation.clone(), "outcome" => outcome).increment(1);
    histogram!(GRAPHQL_DURATION, "operation" => operation).record(took.as_secs_f64());
}

/// A store operation (`audit_append`, `intent_begin`, ...) that started at `started`.
pub fn store_operation(operation: &'static str, started: Instant, ok: bool) {
    histogram!(STORE_DURATION, "operation" => operation).record(started.elapsed().as_secs_f64());
    if !ok {
        counter!(STORE_ERRORS, "operation" => operation).increment(1);
    }
}

/// A grant ended: the time from its due time to the upstream's answer (or the finding that
/// nothing was to remove). `end`: `expired` or `revoked`.
pub fn grant_ended(org: &str, end: &'static str, lag: Duration) {
    histogram!(GRANT_REVOCATION_LAG, "org" => org.to_owned(), "end" => end)
        .record(lag.as_secs_f64());
}

/// A cacheable query answered from the response cache (`hit`) or run.
pub fn response_cache(hit: bool) {
    counter!(if hit {
        RESPONSE_CACHE_HITS
    } else {
        RESPONSE_CACHE_MISSES
    })
    .increment(1);
}

/// One operation streaming over `transport` (`ws`, `sse`) while this lives.
pub struct StreamOpen(&'static str);

impl StreamOpen {
    pub fn new(transport: &'static str) -> StreamOpen {
        metrics::gauge!(SUBSCRIPTIONS_OPEN, "transport" => transport).increment(1.0);
        StreamOpen(transport)
    }
}

impl Drop for StreamOpen {
    fn drop(&mut self) {
        metrics::gauge!(SUBSCRIPTIONS_OPEN, "transport" => self.0).decrement(1.0);
    }
}

/// A webhook try's outcome (`delivered`, `retrying`, `failed`, `gone`).
pub fn webhook_try(endpoint: &str, outcome: &'static str) {
    counter!(WEBHOOK_DELIVERIES, "endpoint" => endpoint.to_owned(), "outcome" => outcome)
        .increment(1);
}

/// Longest operation name kept as a label value.
const MAX_OPERATION_LEN: usize = 64;
/// Most distinct operation names kept; names first seen after these are `other`.
const MAX_OPERATIONS: usize = 100;

static OPERATIONS: OnceLock<Mutex<HashSet<String>>> = OnceLock::new();

/// The `operation` label of a GraphQL request, its cardinality bounded: `anonymous` without a
/// name; `other` for a name that is not a GraphQL name (`[_A-Za-z][_0-9A-Za-z]*`), is longer
/// than 64 characters, or comes after 100 distinct names were seen in this process.
pub fn operation_label(name: Option<&str>) -> String {
    let seen = OPERATIONS.get_or_init(|| Mutex::new(HashSet::new()));
    bounded_label(seen, name, MAX_OPERATIONS)
}

fn bounded_label(seen: &Mutex<HashSet<String>>, name: Option<&str>, max: usize) -> String {
    let Some(name) = name.filter(|n| !n.is_empty()) else {
        return "anonymous".to_owned();
    };
    let graphql_name = name.len() <= MAX_OPERATION_LEN
        && name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    // The two names this module gives would be ambiguous as client names.
    if !graphql_name || name == "other" || name == "anonymous" {
        return "other".to_owned();
    }
    let mut seen = seen.lock().unwrap_or_else(|e| e.into_inner());
    if seen.contains(name) {
        return name.to_owned();
    }
    if seen.len() >= max {
        return "other".to_owned();
    }
    seen.insert(name.to_owned());
    name.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operation_labels_are_bounded_in_length_shape_and_number() {
        let seen = Mutex::new(HashSet::new());
        let label = |name: Option<&str>| bounded_label(&seen, name, 3);
        assert_eq!(label(None), "anonymous");
        assert_eq!(label(Some("")), "anonymous");
        assert_eq!(label(Some("Dashboard")), "Dashboard");
        assert_eq!(label(Some(&"x".repeat(64))), "x".repeat(64));
        assert_eq!(label(Some(&"y".repeat(65))), "other");
        assert_eq!(label(Some("not a name")), "other");
        assert_eq!(label(Some("9lives")), "other");
        assert_eq!(label(Some("other")), "other");
        assert_eq!(label(Some("_ok")), "_ok");
        // Three distinct names are kept; the fourth and later are `other`, the first stay.
        assert_eq!(label(Some("Late")), "other");
        assert_eq!(label(Some("Dashboard")), "Dashboard");
        assert_eq!(seen.lock().unwrap().len(), 3);
    }

    #[test]
    fn lane_labels_follow_the_budgets_lanes() {
        let lanes = crate::budget::Lane::ALL.map(|l| l.as_str());
        assert_eq!(lanes, LANES);
    }

    /// Every `scimgate_*` name in a string of the dashboard, histogram series by their family.
    fn dashboard_names() -> HashSet<String> {
        fn walk(value: &serde_json::Value, out: &mut HashSet<String>) {
            match value {
                serde_json::Value::String(s) => {
                    let mut rest = s.as_str();
                    while let Some(at) = rest.find("scimgate_") {
                        let name: String = rest[at..]
                            .chars()
                            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                            .collect();
                        rest = &rest[at + name.len()..];
                        let family = ["_bucket", "_sum", "_count"]
                            .iter()
                            .find_map(|suffix| {
                                let base = name.strip_suffix(suffix)?;
                                ALL.iter()
                                    .any(|(n, k, ..)| *n == base && matches!(k, Kind::Histogram))
                                    .then(|| base.to_owned())
                            })
                            .unwrap_or(name);
                        out.insert(family);
                    }
                }
                serde_json::Value::Array(items) => items.iter().for_each(|v| walk(v, out)),
                serde_json::Value::Object(map) => map.values().for_each(|v| walk(v, out)),
                _ => {}
            }
        }
        let text = include_str!("../deploy/grafana/scimgate.json");
        let dashboard: serde_json::Value =
            serde_json::from_str(text).expect("the dashboard is JSON");
        let mut out = HashSet::new();
        walk(&dashboard, &mut out);
        out
    }

    #[test]
    fn the_dashboard_uses_exactly_the_described_metrics() {
        let used = dashboard_names();
        let described: HashSet<String> = names().map(str::to_owned).collect();
        let unknown: Vec<_> = used.difference(&described).collect();
        assert!(
            unknown.is_empty(),
            "the dashboard uses undescribed names: {unknown:?}"
        );
        let unused: Vec<_> = described.difference(&used).collect();
        assert!(unused.is_empty(), "the dashboard shows none of: {unused:?}");
        // Histograms are queried through their buckets, never as a bare name.
        let text = include_str!("../deploy/grafana/scimgate.json");
        assert!(text.contains("scimgate_upstream_request_duration_seconds_bucket"));
    }

    #[test]
    fn the_readme_lists_every_metric_in_order() {
        let listed: Vec<&str> = include_str!("../README.md")
            .lines()
            .filter_map(|l| l.strip_prefix("| `")?.split('`').next())
            .filter(|name| name.starts_with("scimgate_"))
            .collect();
        assert_eq!(listed, names().collect::<Vec<_>>());
    }

    #[test]
    fn every_name_is_prefixed_and_described_once() {
        let mut names: Vec<_> = names().collect();
        assert!(names.iter().all(|n| n.starts_with("scimgate_")));
        let n = names.len();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), n);
    }
}
