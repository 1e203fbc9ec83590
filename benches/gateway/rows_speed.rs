//! Rows 3 and 6: warm read throughput and latency against the framework floor, measured
//! alternately in the same run; and the gateway's resident memory per mirrored user.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::client::{Gql, USERS_PAGE};
use crate::floor::Floor;
use crate::load::{self, LoadResult};
use crate::opts::Opts;
use crate::procs::{Emulator, Env, Gateway};
use crate::report::{Line, Report, median, ms};
use crate::rows_cold::{NO_LIMIT, generous};

/// One answer to row 3's operation, checked, and its length (the load generator's check).
async fn checked_len(gql: &Gql) -> (usize, Value) {
    let (len, v) = gql.checked(USERS_PAGE).await;
    (len, v["data"]["org"]["users"].clone())
}

/// The nodes of a page with cursors left out (they are opaque and differ by design).
fn nodes(conn: &Value) -> Vec<Value> {
    conn["edges"]
        .as_array()
        .expect("edges")
        .iter()
        .map(|e| e["node"].clone())
        .collect()
}

/// Row 3, on a warm gateway and the emulator it mirrors.
pub async fn throughput(env: &Env, o: &Opts, r: &mut Report, emu: &Emulator, gw: &Gateway) {
    eprintln!(
        "row 3: users(first: 50) with groups, {} clients, {} x {} s per system",
        o.concurrency, o.rounds, o.secs
    );
    let floor = Floor::start(env, emu).await;
    let (gw_len, gw_page) = checked_len(&gw.gql).await;
    let (floor_len, floor_page) = checked_len(&floor.gql).await;
    assert_eq!(
        nodes(&gw_page),
        nodes(&floor_page),
        "the floor serves the same users, names, statuses and groups as the gateway"
    );
    assert_eq!(gw_page["totalCount"], floor_page["totalCount"]);
    let warmup = Duration::from_secs_f64((o.secs / 5.0).min(1.0));
    let duration = Duration::from_secs_f64(o.secs);
    let body = json!({ "query": USERS_PAGE, "variables": {} }).to_string();
    let (mut floor_runs, mut gw_runs): (Vec<LoadResult>, Vec<LoadResult>) = (vec![], vec![]);
    for round in 0..o.rounds {
        // Rounds alternate which system runs first (the floor in the first round): a drift of
        // the machine's speed within a round then favours neither.
        let mut order = [
            ("floor", &floor.gql, &floor.proc, floor_len, false),
            ("gateway", &gw.gql, &gw.proc, gw_len, true),
        ];
        if round % 2 == 1 {
            order.reverse();
        }
        for (name, gql, proc, len, is_gateway) in order {
            let switches = proc.voluntary_switches();
            let res = load::run(gql, &body, len, o.concurrency, warmup, duration).await;
            let switches = proc.voluntary_switches() - switches;
            r.detail(format!(
                "row 3 round {}: {name}: {:.0} req/s, p50 {}, p99 {}, {} bad answers, {:.0} voluntary \
                 context switches/s",
                round + 1,
                res.rps(),
                ms(res.p50()),
                ms(res.p99()),
                res.bad,
                switches as f64 / (warmup + duration).as_secs_f64()
            ));
            if is_gateway {
                gw_runs.push(res);
            } else {
                floor_runs.push(res);
            }
        }
    }
    let stat = |runs: &[LoadResult], f: &dyn Fn(&LoadResult) -> f64| {
        median(&runs.iter().map(f).collect::<Vec<_>>())
    };
    // A ratio is the median of the rounds' ratios: the two runs of a round are back to back,
    // so they share the machine's state, which drifts by more than the gap between the systems.
    let ratio = |f: &dyn Fn(&LoadResult) -> f64| {
        let per_round: Vec<f64> = gw_runs
            .iter()
            .zip(&floor_runs)
            .map(|(g, fl)| f(g) / f(fl))
            .collect();
        median(&per_round)
    };
    let rps = |x: &LoadResult| x.rps();
    let p50 = |x: &LoadResult| x.p50().as_secs_f64();
    let p99 = |x: &LoadResult| x.p99().as_secs_f64();
    let bad: u64 = gw_runs.iter().chain(&floor_runs).map(|x| x.bad).sum();
    let (g_rps, f_rps) = (stat(&gw_runs, &rps), stat(&floor_runs, &rps));
    let (g50, f50) = (stat(&gw_runs, &p50), stat(&floor_runs, &p50));
    let (g99, f99) = (stat(&gw_runs, &p99), stat(&floor_runs, &p99));
    let (rps_ratio, p99_ratio) = (ratio(&rps), ratio(&p99));
    let secs = Duration::from_secs_f64;
    r.push(Line {
        row: "3",
        measure: format!(
            "warm users(first: 50) with groups, {} clients: throughput",
            o.concurrency
        ),
        measured: format!("{g_rps:.0} req/s"),
        reference: format!("{f_rps:.0} req/s (floor)"),
        ratio: Some(rps_ratio),
        target: "≥ 0.80".into(),
        met: Some(rps_ratio >= 0.8 && bad == 0),
    });
    r.push(Line {
        row: "3",
        measure: "the same: p50 latency".into(),
        measured: ms(secs(g50)),
        reference: format!("{} (floor)", ms(secs(f50))),
        ratio: Some(ratio(&p50)),
        target: "—".into(),
        met: None,
    });
    r.push(Line {
        row: "3",
        measure: "the same: p99 latency".into(),
        measured: ms(secs(g99)),
        reference: format!("{} (floor)", ms(secs(f99))),
        ratio: Some(p99_ratio),
        target: "≤ 1.50".into(),
        met: Some(p99_ratio <= 1.5),
    });
    r.detail(format!(
        "row 3: {} rounds, each running both systems back to back (in alternating order); \
         values are medians over the rounds, ratios medians of the rounds' ratios (the ratio \
         of the median throughputs is {:.2}); answers {} B (gateway) and {} B (floor: shorter \
         cursors), every answer checked by length",
        o.rounds,
        g_rps / f_rps,
        gw_len,
        floor_len
    ));
}

/// Memory of a gateway mirroring an org, after its first full load (or at the deadline).
struct Mem {
    rss_kib: u64,
    peak_kib: u64,
    took: Duration,
    /// Users in the mirror when measured.
    users: u64,
    complete: bool,
}

/// Resident memory of a gateway that mirrors `users` users (and the org's groups), after its
/// first full load; also the peak (VmHWM) and the load time.
async fn rss_after_load(env: &Env, users: usize, groups: usize, deadline: Duration) -> Mem {
    let emu = Emulator::start(env, users, groups, NO_LIMIT).await;
    let gw = Gateway::start(env, &emu, &generous()).await;
    let started = Instant::now();
    let loaded = gw.gql.wait_loaded(deadline).await;
    let took = started.elapsed();
    if let Ok(n) = loaded {
        assert_eq!(n as usize, users);
    }
    Mem {
        rss_kib: gw.proc.rss_kib(),
        peak_kib: gw.proc.peak_kib(),
        took,
        users: loaded.unwrap_or_else(|n| n),
        complete: loaded.is_ok(),
    }
}

/// Row 6: VmRSS with an empty mirror, then with `--users` and `--big-users` mirrored. A load
/// that outlasts `--load-deadline` is measured where it stands (and misses its target).
pub async fn memory(env: &Env, o: &Opts, r: &mut Report) {
    eprintln!(
        "row 6: gateway memory with 0, {} and {} users mirrored",
        o.users, o.big_users
    );
    let deadline = Duration::from_secs_f64(o.load_deadline);
    let base = rss_after_load(env, 0, 0, deadline).await.rss_kib;
    r.detail(format!(
        "row 6: empty mirror: VmRSS {:.1} MB",
        base as f64 * 1024.0 / 1e6
    ));
    for n in [o.users, o.big_users] {
        let m = rss_after_load(env, n, o.groups, deadline).await;
        let per_user = (m.rss_kib.saturating_sub(base) * 1024) as f64 / m.users.max(1) as f64;
        let total_mb = m.rss_kib as f64 * 1024.0 / 1e6;
        let capped = n >= 100_000;
        let measured = if m.complete {
            format!("{per_user:.0} B/user (VmRSS {total_mb:.0} MB)")
        } else {
            format!(
                "{per_user:.0} B/user (VmRSS {total_mb:.0} MB) at {} of {n} users: load unfinished after {:.0} s",
                m.users,
                m.took.as_secs_f64()
            )
        };
        r.push(Line {
            row: "6",
            measure: format!("memory per mirrored user, {n} users + {} groups", o.groups),
            measured,
            reference: format!("{:.0} MB empty baseline", base as f64 * 1024.0 / 1e6),
            ratio: None,
            target: if capped {
                "≤ 1500 B/user, < 250 MB".into()
            } else {
                "≤ 1500 B/user".into()
            },
            met: Some(m.complete && per_user <= 1500.0 && (!capped || total_mb < 250.0)),
        });
        r.detail(format!(
            "row 6: {n} users: VmRSS {:.1} MB, peak VmHWM {:.1} MB, {} in {:.1} s",
            m.rss_kib as f64 * 1024.0 / 1e6,
            m.peak_kib as f64 * 1024.0 / 1e6,
            if m.complete {
                "first load complete".to_owned()
            } else {
                format!("{} users loaded", m.users)
            },
            m.took.as_secs_f64()
        ));
    }
}
