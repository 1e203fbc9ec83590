//! Rows 1, 2 and 5: what a dashboard costs upstream cold (alone and 100 at once) and warm,
//! counted at the emulator; and how long a cold first page takes against one upstream page.

use std::time::{Duration, Instant};

use futures_util::future::join_all;
use serde_json::json;

use crate::opts::Opts;
use crate::procs::{BudgetSpec, Emulator, Env, Gateway};
use crate::report::{Line, Report, median, ms};

/// An emulator limit that never interferes.
pub const NO_LIMIT: &str = "1000000/60s";

/// A gateway budget that does not pace (rows that count calls or measure memory).
pub fn generous() -> BudgetSpec {
    BudgetSpec::new(100_000, "1s", 1.0)
}

/// ceil(N/100) + ceil(G/100): a full read at the page maximum.
pub fn minimum_calls(users: usize, groups: usize) -> u64 {
    (users.div_ceil(100) + groups.div_ceil(100)) as u64
}

fn calls_line(row: &'static str, measure: String, calls: u64, min: u64, target: &str) -> Line {
    Line {
        row,
        measure,
        measured: format!("{calls} calls"),
        reference: format!("{min} (minimum)"),
        ratio: (min > 0).then(|| calls as f64 / min as f64),
        target: target.into(),
        met: Some(calls == min),
    }
}

/// Rows 1 and 2. Returns the emulator and the warm gateway of the concurrent run, for row 3.
pub async fn upstream_calls(env: &Env, o: &Opts, r: &mut Report) -> (Emulator, Gateway) {
    let (n, g) = (o.users, o.groups);
    let min = minimum_calls(n, g);
    eprintln!("rows 1-2: dashboard of {n} users / {g} groups, cold then warm");
    let emu = Emulator::start(env, n, g, NO_LIMIT).await;

    let gw = Gateway::start(env, &emu, &generous()).await;
    let started = Instant::now();
    let (users, groups) = gw.gql.dashboard().await;
    let took = started.elapsed();
    assert_eq!((users, groups), (n, g), "the dashboard saw everything");
    let calls = emu.stats().await.total;
    r.push(calls_line(
        "1",
        format!("cold dashboard load, {n} users + {g} groups: upstream calls"),
        calls,
        min,
        &format!("= {min}"),
    ));
    r.detail(format!(
        "row 1: one cold dashboard load ({} GraphQL requests of 100 users with groups) took {:.2} s",
        n.div_ceil(100),
        took.as_secs_f64()
    ));
    drop(gw);

    emu.reset().await;
    let gw = Gateway::start(env, &emu, &generous()).await;
    let clients = o.cold_clients;
    let started = Instant::now();
    let loads = (0..clients).map(|_| {
        let gql = gw.gql.clone();
        tokio::spawn(async move { gql.dashboard().await })
    });
    for result in join_all(loads).await {
        assert_eq!(result.expect("a dashboard client"), (n, g));
    }
    let took = started.elapsed();
    let calls = emu.stats().await.total;
    r.push(calls_line(
        "1",
        format!("{clients} concurrent identical cold dashboard loads: upstream calls"),
        calls,
        min,
        &format!("= {min}"),
    ));
    r.detail(format!(
        "row 1: {clients} concurrent cold dashboard loads ({} GraphQL requests) took {:.2} s",
        clients * n.div_ceil(100),
        took.as_secs_f64()
    ));

    let before = emu.stats().await.total;
    gw.gql.dashboard().await;
    let warm = emu.stats().await.total - before;
    r.push(Line {
        row: "2",
        measure: "warm dashboard load: upstream calls".into(),
        measured: format!("{warm} calls"),
        reference: "0".into(),
        ratio: None,
        target: "= 0".into(),
        met: Some(warm == 0),
    });
    (emu, gw)
}

/// Row 5's first page: the default order, no filter (what the upstream's first page answers).
const COLD_PAGE: &str = "{ org { users(first: 50) { totalCount edges { node { email displayName status } } \
    pageInfo { hasNextPage endCursor } } sync { complete } } }";
/// The same page with each user's groups (needs the group list too: a second upstream call).
const COLD_PAGE_GROUPS: &str = "{ org { users(first: 50) { totalCount edges { node { email displayName status \
    groups { edges { node { name } } } } } pageInfo { hasNextPage endCursor } } sync { complete } } }";

/// Row 5: a fresh gateway with the default (Amplitude-like) budget and an upstream that takes
/// `--latency-ms` per request; the first page as soon as the gateway answers `/healthz`.
pub async fn cold_first_page(env: &Env, o: &Opts, r: &mut Report) {
    let n = o.users;
    eprintln!(
        "row 5: cold first page of {n} users, upstream latency {} ms",
        o.latency_ms
    );
    let emu = Emulator::start(env, n, o.groups, NO_LIMIT).await;
    emu.set_latency(o.latency_ms).await;
    let mut direct = Vec::new();
    for _ in 0..5 {
        direct.push(emu.first_page_direct().await.as_secs_f64());
    }
    let reference = Duration::from_secs_f64(median(&direct));
    let amplitude_like = BudgetSpec::new(90, "60s", 0.5);
    let reps = if o.quick { 2 } else { 3 };
    for (row, query, what) in [
        ("5", COLD_PAGE, "users(first: 50)"),
        (
            "5b",
            COLD_PAGE_GROUPS,
            "users(first: 50) with groups (beyond the issue)",
        ),
    ] {
        let mut samples = Vec::new();
        let mut ups = Vec::new();
        for _ in 0..reps {
            let gw = Gateway::start(env, &emu, &amplitude_like).await;
            let started = Instant::now();
            let data = gw.gql.data(query, json!({})).await;
            samples.push(started.elapsed());
            ups.push(ms(gw.up_in));
            let conn = &data["org"]["users"];
            assert_eq!(conn["edges"].as_array().map(Vec::len), Some(50));
            assert_eq!(conn["totalCount"], n);
            assert_eq!(
                data["org"]["sync"]["complete"], false,
                "row 5 must measure a cold mirror"
            );
        }
        let worst = samples.iter().max().copied().unwrap_or_default();
        let limit = reference + Duration::from_millis(20);
        r.push(Line {
            row,
            measure: format!("cold first page, {what}, {n} users (worst of {reps})"),
            measured: ms(worst),
            reference: format!("{} (one upstream page, direct)", ms(reference)),
            ratio: Some(worst.as_secs_f64() / reference.as_secs_f64()),
            target: format!("≤ ref + 20 ms = {}", ms(limit)),
            met: Some(worst <= limit),
        });
        let list: Vec<String> = samples.iter().map(|d| ms(*d)).collect();
        r.detail(format!(
            "row 5: {what}: samples {} (each a fresh gateway, budget 90/60s, burst 2, background \
             share 0.5, asked as soon as /healthz answered, {} after spawning; the gateway starts \
             its load at boot)",
            list.join(", "),
            ups.join(", ")
        ));
    }
}
