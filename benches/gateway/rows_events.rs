//! Row 12: event fan-out. Subscribers follow the organization's events over SSE
//! (`directoryEvents`, graphql-sse); one write at a time is made through GraphQL (an
//! invitation: one POST upstream, one event), and each write's latency is from the emulator's
//! receipt of its POST (placed on this process's clock by one direct request, as row 11 does)
//! to the moment the last subscriber has its event. The reference is the same with one
//! subscriber, in the same run; the gateway's resident memory is read with none and with all
//! connected.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::client::Gql;
use crate::opts::Opts;
use crate::procs::{Emulator, Env, Gateway, wall_ms};
use crate::report::{Line, Report};
use crate::rows_cold::{NO_LIMIT, generous};

const SUB: &str = "subscription { directoryEvents { node { seq } } }";
const INVITE: &str = "mutation($input: InviteUserInput!) { inviteUser(input: $input) { outcome } }";

/// Per event `seq`: how many subscribers have it, and when the last one got it (wall ms).
type Arrivals = Arc<Mutex<HashMap<i64, (usize, i64)>>>;

/// One subscriber: reads its stream until the gateway ends it, noting each event's arrival.
async fn subscribe(gql: Gql, arrivals: Arrivals, ready: Arc<Mutex<usize>>) {
    let mut request = gql
        .http
        .post(&gql.endpoint)
        .header("accept", "text/event-stream")
        .json(&json!({ "query": SUB }));
    if let Some(key) = &gql.key {
        request = request.bearer_auth(key);
    }
    let mut response = request.send().await.expect("a stream");
    assert_eq!(response.status(), 200, "the subscription is accepted");
    *ready.lock().unwrap() += 1;
    let mut buffer = String::new();
    while let Ok(Some(chunk)) = response.chunk().await {
        buffer.push_str(&String::from_utf8_lossy(&chunk));
        while let Some(end) = buffer.find("\n\n") {
            let block: String = buffer.drain(..end + 2).collect();
            let Some(data) = block.lines().find_map(|l| l.strip_prefix("data: ")) else {
                continue;
            };
            let Ok(result) = serde_json::from_str::<Value>(data) else {
                continue;
            };
            if let Some(seq) = result["data"]["directoryEvents"]["node"]["seq"].as_i64() {
                let now = wall_ms();
                let mut seen = arrivals.lock().unwrap();
                let entry = seen.entry(seq).or_insert((0, 0));
                entry.0 += 1;
                entry.1 = entry.1.max(now);
            }
        }
    }
}

/// Last-subscriber latencies (ms) of `writes` invitations with `subscribers` following.
async fn fan_out(
    emu: &Emulator,
    gw: &Gateway,
    subscribers: usize,
    writes: usize,
    offset: i64,
    round: usize,
) -> (Vec<i64>, u64) {
    let arrivals: Arrivals = Arc::default();
    let ready = Arc::new(Mutex::new(0));
    let tasks: Vec<_> = (0..subscribers)
        .map(|_| {
            let (gql, arrivals, ready) = (gw.gql.clone(), arrivals.clone(), ready.clone());
            tokio::spawn(subscribe(gql, arrivals, ready))
        })
        .collect();
    let deadline = Instant::now() + Duration::from_secs(60);
    while *ready.lock().unwrap() < subscribers {
        assert!(Instant::now() < deadline, "subscribers did not connect");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // A stream is accepted before its subscription reads the log's head: let them settle.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let rss = gw.proc.rss_kib();
    let before = emu.requests().await.len();
    let mut latencies = Vec::with_capacity(writes);
    for n in 0..writes {
        let input = json!({ "email": format!("fan{round}-{n}@example.com"), "givenName": "Fan", "familyName": format!("Out{n}") });
        let data = gw.gql.data(INVITE, json!({ "input": input })).await;
        assert_eq!(data["inviteUser"]["outcome"], "SUCCESS", "{data}");
        let deadline = Instant::now() + Duration::from_secs(30);
        // The event's seq: the log's newest after this write.
        let head = gw
            .gql
            .data(
                "{ org { events(last: 1) { edges { node { seq } } } } }",
                json!({}),
            )
            .await["org"]["events"]["edges"][0]["node"]["seq"]
            .as_i64()
            .expect("a seq");
        let at = loop {
            let got = arrivals.lock().unwrap().get(&head).copied();
            if let Some((count, at)) = got
                && count == subscribers
            {
                break at;
            }
            assert!(
                Instant::now() < deadline,
                "event {head} did not reach every subscriber"
            );
            tokio::time::sleep(Duration::from_millis(2)).await;
        };
        let log = emu.requests().await;
        let post = log[before..]
            .iter()
            .filter(|q| q.method == "POST")
            .nth(n)
            .expect("the invitation's POST");
        latencies.push(at - (post.t_ms as i64 + offset));
    }
    for task in tasks {
        task.abort();
    }
    latencies.sort_unstable();
    (latencies, rss)
}

pub async fn fan_out_row(env: &Env, o: &Opts, r: &mut Report) {
    let (many, writes) = if o.quick { (200, 20) } else { (1_000, 50) };
    let emu = Emulator::start(env, 1_000, 10, NO_LIMIT).await;
    let gw = Gateway::start(env, &emu, &generous()).await;
    gw.gql.wait_complete(Duration::from_secs(120)).await;
    let (offset, placement) = emu.clock_offset().await;
    let idle = gw.proc.rss_kib();
    let (one, _) = fan_out(&emu, &gw, 1, writes, offset, 0).await;
    let (all, rss) = fan_out(&emu, &gw, many, writes, offset, 1).await;
    let pick = |v: &[i64], p: usize| v[(v.len() * p / 100).min(v.len() - 1)];
    let (p50, p99, ref50) = (pick(&all, 50), pick(&all, 99), pick(&one, 50));
    r.detail(format!(
        "row 12: {writes} invitations one at a time, each one event; {many} SSE subscribers: last subscriber's event p50 {p50} ms, p99 {p99} ms after the emulator received the write; one subscriber: p50 {ref50} ms, p99 {} ms; gateway RSS {} MiB idle, {} MiB with {many} subscribers (clock placement ±{} ms)",
        pick(&one, 99),
        idle / 1024,
        rss / 1024,
        placement,
    ));
    let ratio = (ref50 > 0).then(|| p50 as f64 / ref50 as f64);
    r.push(Line {
        row: "12",
        measure: format!("event fan-out p50, write → last of {many} subscribers"),
        measured: format!("{p50} ms"),
        reference: format!("1 subscriber: {ref50} ms"),
        ratio,
        target: "≤ 1 s".into(),
        met: Some(p50 <= 1_000),
    });
    r.push(Line {
        row: "12b",
        measure: format!("event fan-out p99, {many} subscribers"),
        measured: format!("{p99} ms"),
        reference: format!("1 subscriber: {} ms", pick(&one, 99)),
        ratio: None,
        target: "≤ 2 s".into(),
        met: Some(p99 <= 2_000),
    });
    r.push(Line {
        row: "12c",
        measure: format!("gateway memory with {many} subscribers"),
        measured: format!("{} MiB", rss / 1024),
        reference: format!("idle: {} MiB", idle / 1024),
        ratio: Some(rss as f64 / idle.max(1) as f64),
        target: "reported".into(),
        met: None,
    });
}
