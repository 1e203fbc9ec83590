//! Row 13: the response cache, against the framework floor in the same run, for the two
//! dashboard shapes the peer comparison used: a page of 50 users with their groups, and 20
//! groups with 25 members each (500 users, 20 groups). Each round runs the floor, the gateway
//! answering from its cache (the same request over and over: hits), the gateway with its cache
//! on but never the same request twice (a new unused variable each time: misses, which also pay
//! for the lookup and the filing), and a second gateway with its cache off (today's answers,
//! the reference of a miss); the order rotates between rounds.

use std::time::Duration;

use serde_json::json;

use crate::client::USERS_PAGE;
use crate::floor::Floor;
use crate::load::{self, LoadResult};
use crate::opts::Opts;
use crate::procs::{Emulator, Env, Gateway};
use crate::report::{Line, Report, median};
use crate::rows_cold::{NO_LIMIT, generous};

/// The second shape: groups with their members.
pub const GROUPS_MEMBERS: &str = "query Groups { org { groups(first: 20) { edges { node { name \
    members(first: 25) { edges { node { email } } } } } } } }";

pub async fn cache_rows(env: &Env, o: &Opts, r: &mut Report) {
    let emu = Emulator::start(env, 500, 20, NO_LIMIT).await;
    let mut spec = generous();
    spec.response_cache_bytes = 64 << 20;
    let gw = Gateway::start(env, &emu, &spec).await;
    gw.gql.wait_complete(Duration::from_secs(120)).await;
    let off = Gateway::start(env, &emu, &generous()).await;
    off.gql.wait_complete(Duration::from_secs(120)).await;
    let floor = Floor::start(env, &emu).await;
    let warmup = Duration::from_secs_f64((o.secs / 5.0).min(1.0));
    let duration = Duration::from_secs_f64(o.secs);
    let rounds = o.rounds.min(5);
    for (shape, query) in [
        ("users page", USERS_PAGE),
        ("groups with members", GROUPS_MEMBERS),
    ] {
        let gw_len = gw.gql.checked(query).await.0;
        let floor_len = floor.gql.checked(query).await.0;
        let body = json!({ "query": query }).to_string();
        let (mut fl, mut hit, mut miss, mut plain): (
            Vec<LoadResult>,
            Vec<LoadResult>,
            Vec<LoadResult>,
            Vec<LoadResult>,
        ) = (vec![], vec![], vec![], vec![]);
        for round in 0..rounds {
            for step in 0..4 {
                match (round + step) % 4 {
                    0 => fl.push(
                        load::run(
                            &floor.gql,
                            &body,
                            floor_len,
                            o.concurrency,
                            warmup,
                            duration,
                        )
                        .await,
                    ),
                    1 => hit.push(
                        load::run(&gw.gql, &body, gw_len, o.concurrency, warmup, duration).await,
                    ),
                    3 => plain.push(
                        load::run(&off.gql, &body, gw_len, o.concurrency, warmup, duration).await,
                    ),
                    _ => miss.push(
                        load::run_varied(
                            &gw.gql,
                            &body,
                            Some(query),
                            gw_len,
                            o.concurrency,
                            warmup,
                            duration,
                        )
                        .await,
                    ),
                }
            }
        }
        let rps =
            |runs: &[LoadResult]| median(&runs.iter().map(LoadResult::rps).collect::<Vec<_>>());
        let ratio = |runs: &[LoadResult], to: &[LoadResult]| {
            median(
                &runs
                    .iter()
                    .zip(to)
                    .map(|(g, f)| g.rps() / f.rps())
                    .collect::<Vec<_>>(),
            )
        };
        let bad: u64 = fl
            .iter()
            .chain(&hit)
            .chain(&miss)
            .chain(&plain)
            .map(|x| x.bad)
            .sum();
        for (name, runs) in [
            ("floor", &fl),
            ("hit", &hit),
            ("miss", &miss),
            ("cache off", &plain),
        ] {
            r.detail(format!(
                "row 13 {shape}: {name}: {}",
                runs.iter()
                    .map(|x| format!("{:.0} req/s", x.rps()))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        let (f_rps, hit_ratio, miss_ratio) = (rps(&fl), ratio(&hit, &fl), ratio(&miss, &plain));
        r.detail(format!(
            "row 13 {shape}: cache off against the floor {:.2}, misses against the floor {:.2}",
            ratio(&plain, &fl),
            ratio(&miss, &fl)
        ));
        r.push(Line {
            row: "13",
            measure: format!("response cache hit, {shape}, {} clients", o.concurrency),
            measured: format!("{:.0} req/s", rps(&hit)),
            reference: format!("{f_rps:.0} req/s (floor)"),
            ratio: Some(hit_ratio),
            target: "≥ 3.00".into(),
            met: Some(hit_ratio >= 3.0 && bad == 0),
        });
        r.push(Line {
            row: "13b",
            measure: format!("response cache miss, {shape}"),
            measured: format!("{:.0} req/s", rps(&miss)),
            reference: format!("{:.0} req/s (cache off)", rps(&plain)),
            ratio: Some(miss_ratio),
            target: "≥ 0.90".into(),
            met: Some(miss_ratio >= 0.9 && bad == 0),
        });
    }
    r.detail(format!(
        "row 13: {rounds} rounds of floor, hits, misses and cache off in rotating order; ratios are medians of each round's ratio: a hit to the floor's run of the round, a miss to the cache-off run"
    ));
}
