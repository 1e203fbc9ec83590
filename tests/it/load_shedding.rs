//! Load shedding through HTTP, counted at the emulator: a flood over a small budget is refused
//! at once with a truthful `retryAfter`, a client that hangs up sends nothing, and a refused
//! write is neither sent nor remembered.

use std::time::{Duration, Instant};

use scimgate::budget::BudgetConfig;
use serde_json::{Value, json};
use tokio::io::AsyncWriteExt;

use crate::support::{OrgSpec, TestApp, spawn_app};

const POINT_READ: &str = "query($e: String!) { org { user(email: $e) { email } } }";

fn app_with(budget: BudgetConfig) -> OrgSpec {
    let mut spec = OrgSpec::new("acme", 5, 2);
    spec.budget = BudgetConfig {
        background_share: 1.0,
        ..budget
    };
    spec
}

/// Point reads of `needle` the emulator has received (Amplitude reads a user by e-mail).
fn reads_of(app: &TestApp, needle: &str) -> Vec<u64> {
    app.emulator()
        .requests()
        .iter()
        .filter(|r| r.method == "GET" && r.path.contains(needle))
        .map(|r| r.t_ms)
        .collect()
}

async fn interactive_queue(app: &TestApp) -> i64 {
    let data = app
        .data(
            "{ org { budget { queuedByLane { interactive } } } }",
            json!({}),
        )
        .await;
    data["org"]["budget"]["queuedByLane"]["interactive"]
        .as_i64()
        .expect("queuedByLane")
}

/// Polls `check` every 10 ms until it holds; fails the test after `within`.
async fn eventually<F: AsyncFnMut() -> bool>(within: Duration, what: &str, mut check: F) {
    let deadline = Instant::now() + within;
    while !check().await {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

struct Answer {
    body: Value,
    retry_after_header: Option<u64>,
    /// When the answer arrived, in the emulator's milliseconds.
    at_ms: u64,
    took: Duration,
}

async fn point_read(app: &TestApp, email: String) -> Answer {
    let started = Instant::now();
    let response = app
        .http
        .post(format!("{}/graphql", app.url))
        .bearer_auth(&app.key)
        .json(&json!({ "query": POINT_READ, "variables": { "e": email } }))
        .send()
        .await
        .expect("gateway answers");
    let retry_after_header = response
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().parse().expect("Retry-After in seconds"));
    let body = response.json().await.expect("JSON");
    Answer {
        body,
        retry_after_header,
        at_ms: app.emulator().started_at().elapsed().as_millis() as u64,
        took: started.elapsed(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_reads_is_refused_at_once_with_a_truthful_retry_after() {
    // 20 per 2 s: T = 2.1 s / 19 ≈ 110 ms; at most 3 s of queue, about 29 calls.
    let budget = BudgetConfig {
        max_queue_wait: Duration::from_secs(3),
        ..BudgetConfig::new(20, Duration::from_secs(2))
    };
    let interval = budget.emission_interval();
    let app = spawn_app(vec![app_with(budget.clone())]).await;
    let flood = 120;
    let calls: Vec<_> = (0..flood)
        .map(|i| {
            let app = &app;
            point_read(app, format!("flood-{i}@example.com"))
        })
        .collect();
    let answers = futures_util::future::join_all(calls).await;

    let (refused, served): (Vec<_>, Vec<_>) = answers
        .iter()
        .partition(|a| a.body["errors"][0]["extensions"]["code"] == "RATE_LIMITED");
    assert!(
        refused.len() >= flood / 2,
        "only {} of {flood} refused",
        refused.len()
    );
    for a in &served {
        assert!(a.body.get("errors").is_none(), "{:#}", a.body);
        assert!(a.body["data"]["org"]["user"].is_null());
    }
    // Only the admitted reached the upstream, never more than the budget in a window.
    let arrivals = reads_of(&app, "flood-");
    assert_eq!(
        arrivals.len(),
        served.len(),
        "a refused read reached the upstream"
    );
    let busiest = arrivals
        .iter()
        .map(|t| {
            arrivals
                .iter()
                .filter(|u| (*t..*t + 2_000).contains(*u))
                .count()
        })
        .max()
        .unwrap_or(0);
    assert!(busiest <= 20, "{busiest} reads arrived within 2 s");
    let last_arrival = *arrivals.iter().max().expect("some were served");
    let mut slots = arrivals.clone();
    slots.push(last_arrival + interval.as_millis() as u64);
    let slack = interval + Duration::from_millis(100);
    for a in &refused {
        let ext = &a.body["errors"][0]["extensions"];
        assert!(
            a.took < Duration::from_secs(1),
            "a refusal took {:?}",
            a.took
        );
        let ms = ext["retryAfterMs"].as_u64().expect("retryAfterMs");
        let secs = ext["retryAfter"].as_u64().expect("retryAfter");
        assert_eq!(secs, ms.div_ceil(1_000));
        assert_eq!(a.retry_after_header, Some(secs), "the Retry-After header");
        assert!(ms > 3_000, "refused with a wait under the bound: {ms} ms");
        // The promise is when a read in its place would have gone: the slot that an admitted
        // read took at the emulator, or the one after the last.
        let promised = a.at_ms + ms;
        let nearest = slots.iter().map(|s| s.abs_diff(promised)).min().unwrap();
        assert!(
            nearest <= slack.as_millis() as u64,
            "promised {promised} ms, the nearest slot {nearest} ms away"
        );
    }
    let data = app
        .data(
            "{ org { budget { refused refusedByLane { interactive } maxQueueWaitSeconds } } }",
            json!({}),
        )
        .await;
    let b = &data["org"]["budget"];
    assert_eq!(b["refused"], refused.len());
    assert_eq!(b["refusedByLane"]["interactive"], refused.len());
    assert_eq!(b["maxQueueWaitSeconds"], 3.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_hangs_up_leaves_the_queue_and_its_read_never_arrives() {
    // Two per 2 s with a burst of one: each read after the first waits T = 1.05 s.
    let app = spawn_app(vec![app_with(BudgetConfig {
        burst: 1,
        max_queue_wait: Duration::from_secs(30),
        ..BudgetConfig::new(2, Duration::from_secs(2))
    })])
    .await;
    let first = point_read(&app, "first@example.com".into()).await;
    assert!(first.body.get("errors").is_none(), "{:#}", first.body);

    // A raw HTTP/1.1 request that must wait for the budget, from a client that then goes.
    let addr = app.url.trim_start_matches("http://");
    let mut socket = tokio::net::TcpStream::connect(addr).await.unwrap();
    let body = json!({ "query": POINT_READ, "variables": { "e": "gone@example.com" } }).to_string();
    let request = format!(
        "POST /graphql HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        app.key,
        body.len()
    );
    socket.write_all(request.as_bytes()).await.unwrap();
    eventually(Duration::from_secs(5), "the read queues", async || {
        interactive_queue(&app).await == 1
    })
    .await;
    drop(socket);
    eventually(
        Duration::from_secs(5),
        "the read leaves the queue",
        async || interactive_queue(&app).await == 0,
    )
    .await;

    // The next read takes the slot the one that left would have had; once it is back, that
    // slot has passed, and nothing of the one that left was sent.
    let next = point_read(&app, "next@example.com".into()).await;
    assert!(next.body.get("errors").is_none(), "{:#}", next.body);
    assert_eq!(reads_of(&app, "next").len(), 1);
    assert!(
        reads_of(&app, "gone").is_empty(),
        "the hung-up read reached the upstream"
    );
    assert!(
        next.took < Duration::from_millis(1_600),
        "the read after it waited {:?}: the slot went unused",
        next.took
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_write_is_not_sent_nor_remembered_and_says_when_to_retry() {
    // 3 per 3 s with a burst of 2: warming spends the burst, the next slot is T = 1.575 s away.
    let budget = BudgetConfig {
        burst: 2,
        max_queue_wait: Duration::ZERO,
        ..BudgetConfig::new(3, Duration::from_secs(3))
    };
    let interval = budget.emission_interval();
    let app = spawn_app(vec![app_with(budget)]).await;
    app.warm().await;
    let mutation = "mutation($input: CreateGroupInput!) { createGroup(input: $input) { \
        outcome userErrors { code message retryAfter retryAfterMs } group { name } } }";
    let input = json!({ "input": { "name": "Shed", "idempotencyKey": "shed-1" } });
    let refused_at = Instant::now();
    let body = app.query(mutation, input.clone()).await;
    let payload = &body["data"]["createGroup"];
    assert_eq!(payload["outcome"], "FAILED", "{body:#}");
    let error = &payload["userErrors"][0];
    assert_eq!(error["code"], "RATE_LIMITED");
    let ms = error["retryAfterMs"].as_u64().expect("retryAfterMs");
    assert_eq!(error["retryAfter"].as_u64(), Some(ms.div_ceil(1_000)));
    let interval_ms = interval.as_millis() as u64;
    assert!(
        ms <= interval_ms + 1 && ms + 200 >= interval_ms,
        "{ms} ms vs T {interval_ms} ms"
    );
    let posts = || {
        app.emulator()
            .requests()
            .iter()
            .filter(|r| r.method == "POST")
            .count()
    };
    assert_eq!(posts(), 0, "a refused write reached the upstream");

    // Trying again with the same key: refused until the promised slot, then done once.
    let mut done = None;
    eventually(
        Duration::from_secs(6),
        "the write goes through",
        async || {
            let body = app.query(mutation, input.clone()).await;
            let payload = &body["data"]["createGroup"];
            if payload["outcome"] == "SUCCESS" {
                done = Some(refused_at.elapsed());
                return true;
            }
            assert_eq!(payload["userErrors"][0]["code"], "RATE_LIMITED", "{body:#}");
            false
        },
    )
    .await;
    let done = done.unwrap();
    assert!(
        done + Duration::from_millis(150) >= Duration::from_millis(ms),
        "it went through after {done:?}, before the promised {ms} ms"
    );
    assert_eq!(posts(), 1);
}

/// A reader waiting for a cold mirror during a known upstream pause is refused at once with the
/// pause as `retryAfter`, not held until the pause ends; nothing more is sent upstream.
#[tokio::test]
async fn a_cold_read_during_a_known_pause_is_refused_with_the_pause() {
    use scimgate::emulator::Faults;
    let app = TestApp::one(20, 2).await;
    app.emulator().set_faults(Faults {
        force_429_secs: 200.0,
        ..Faults::default()
    });
    let query = "{ org { users(orderBy: { field: EMAIL }) { totalCount } } }";
    let first = app.query(query, json!({})).await;
    assert_eq!(
        first["errors"][0]["extensions"]["code"], "RATE_LIMITED",
        "{first}"
    );
    let sent = app.upstream_calls();
    assert_eq!(sent, 1, "the refresh's first call met the 429");

    let asked = Instant::now();
    let second = tokio::time::timeout(Duration::from_secs(10), app.query(query, json!({})))
        .await
        .expect("answered at once, not after the 200 s pause");
    assert!(
        asked.elapsed() < Duration::from_secs(2),
        "{:?}",
        asked.elapsed()
    );
    let ext = &second["errors"][0]["extensions"];
    assert_eq!(ext["code"], "RATE_LIMITED", "{second}");
    let secs = ext["retryAfter"].as_u64().unwrap();
    assert!(
        (195..=200).contains(&secs),
        "retryAfter {secs}: the pause's remainder"
    );
    assert_eq!(
        app.upstream_calls(),
        sent,
        "nothing more was sent during the pause"
    );
}
