//! Row 8: a fragment bomb is refused as cheaply as the smallest query, and it does not slow
//! the clients beside it. A 40-level bomb (2^40 fields once inlined, under 2 KB) is what froze
//! the gateway for 24 s of CPU before the limits measured each fragment once.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::client::Gql;
use crate::opts::Opts;
use crate::procs::{Emulator, Env, Gateway};
use crate::report::{Line, Report, median, ms};
use crate::rows_cold::{NO_LIMIT, generous};

const SMALL: &str = "{ __typename }";

/// `levels` fragments on `Org`, each spreading the next twice.
fn bomb(levels: usize) -> String {
    let mut q = String::from("query Bomb { org { ...F0 } }");
    for i in 0..levels {
        q.push_str(&format!(
            " fragment F{i} on Org {{ ...F{} ...F{} }}",
            i + 1,
            i + 1
        ));
    }
    q + &format!(" fragment F{levels} on Org {{ name }}")
}

/// Median time of `n` sequential requests of `query`; checks each answer's first error code.
async fn timed(gql: &Gql, query: &str, n: usize, code: Option<&str>) -> Duration {
    let mut samples = Vec::with_capacity(n);
    for _ in 0..n {
        let started = Instant::now();
        let body = gql.query(query, json!({})).await;
        samples.push(started.elapsed().as_secs_f64());
        let got = body["errors"][0]["extensions"]["code"].as_str();
        assert_eq!(got, code, "{body}");
    }
    Duration::from_secs_f64(median(&samples))
}

pub async fn fragment_bomb(env: &Env, o: &Opts, r: &mut Report) {
    let levels = 40;
    let clients = 8;
    let n = if o.quick { 50 } else { 200 };
    eprintln!("row 8: a {levels}-level fragment bomb, alone and from {clients} clients at once");
    let emu = Emulator::start(env, 100, 5, NO_LIMIT).await;
    let gw = Gateway::start(env, &emu, &generous()).await;
    gw.gql.wait_complete(Duration::from_secs(60)).await;
    let q = bomb(levels);
    // Warm both paths, then alternate so neither gets a quieter machine.
    timed(&gw.gql, SMALL, 20, None).await;
    timed(&gw.gql, &q, 20, Some("COMPLEXITY_LIMIT")).await;
    let small = timed(&gw.gql, SMALL, n, None).await;
    let refused = timed(&gw.gql, &q, n, Some("COMPLEXITY_LIMIT")).await;
    let limit = small + Duration::from_millis(2);
    r.push(Line {
        row: "8",
        measure: format!(
            "a {levels}-level fragment bomb ({} bytes): time to COMPLEXITY_LIMIT (median of {n})",
            q.len()
        ),
        measured: ms(refused),
        reference: format!("{} (`{{ __typename }}`)", ms(small)),
        ratio: Some(refused.as_secs_f64() / small.as_secs_f64()),
        target: format!("≤ ref + 2 ms = {}", ms(limit)),
        met: Some(refused <= limit),
    });

    // Bombs from `clients` clients without pause while one client asks small queries.
    let stop = Arc::new(AtomicBool::new(false));
    let bombs = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let (gql, q, stop, bombs) = (gw.gql.clone(), q.clone(), stop.clone(), bombs.clone());
        tasks.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let body = gql.query(&q, json!({})).await;
                assert_eq!(body["errors"][0]["extensions"]["code"], "COMPLEXITY_LIMIT");
                bombs.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    let started = Instant::now();
    let beside = timed(&gw.gql, SMALL, n, None).await;
    let took = started.elapsed();
    stop.store(true, Ordering::Relaxed);
    for t in tasks {
        let _ = t.await;
    }
    let limit = small + Duration::from_millis(20);
    r.push(Line {
        row: "8",
        measure: format!(
            "`{{ __typename }}` while {clients} clients send the bomb without pause (median of {n})"
        ),
        measured: ms(beside),
        reference: format!("{} (the same, alone)", ms(small)),
        ratio: Some(beside.as_secs_f64() / small.as_secs_f64()),
        target: format!("≤ ref + 20 ms = {}", ms(limit)),
        met: Some(beside <= limit),
    });
    let rate = bombs.load(Ordering::Relaxed) as f64 / took.as_secs_f64();
    r.detail(format!(
        "row 8: {} bytes, {levels} levels; the bomb clients were refused {rate:.0} times a second meanwhile",
        q.len()
    ));
}
