//! Rows 4 and 7: a deactivation's wait while a refresh saturates the budget, timed on the
//! emulator's request log; and the budget held at the emulator under 200 concurrent clients.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use rand::RngExt;
use serde_json::{Value, json};

use crate::client::Gql;
use crate::opts::Opts;
use crate::procs::{BudgetSpec, Emulator, Env, Gateway};
use crate::report::{Line, Report, median, ms};
use crate::rows_cold::{NO_LIMIT, minimum_calls};

/// Maps this process's clock onto the emulator's request-log clock (ms since it started).
struct EmulatorClock {
    base: Instant,
    /// Emulator ms at `base`.
    offset_ms: f64,
}

impl EmulatorClock {
    /// Sends a few direct requests and matches them in the log; keeps the fastest round trip,
    /// whose midpoint is within half of it (well under a millisecond on loopback) of arrival.
    async fn calibrate(emu: &Emulator, http: &reqwest::Client) -> EmulatorClock {
        let base = Instant::now();
        let mut sent = Vec::new();
        for i in 0..5 {
            let path = format!("/Users?startIndex={}&itemsPerPage=1", i + 1);
            let a = base.elapsed().as_secs_f64() * 1e3;
            http.get(format!("{}{path}", emu.scim_base()))
                .bearer_auth(&emu.token)
                .send()
                .await
                .and_then(|r| r.error_for_status())
                .expect("a calibration request");
            let b = base.elapsed().as_secs_f64() * 1e3;
            sent.push((path, a, b));
        }
        let log = emu.requests().await;
        let (offset_ms, _) = sent
            .iter()
            .filter_map(|(path, a, b)| {
                let t = log
                    .iter()
                    .rev()
                    .find(|l| l.path.ends_with(path.as_str()))?
                    .t_ms;
                // t_ms is whole milliseconds, truncated: the arrival is within [t, t + 1).
                Some((t as f64 + 0.5 - (a + b) / 2.0, b - a))
            })
            .min_by(|x, y| x.1.total_cmp(&y.1))
            .expect("the calibration requests in the log");
        EmulatorClock { base, offset_ms }
    }

    fn at(&self, t: Instant) -> f64 {
        t.duration_since(self.base).as_secs_f64() * 1e3 + self.offset_ms
    }
}

const DEACTIVATE: &str = "mutation($id: ID!) { deactivateUser(input: { id: $id }) { outcome userErrors { code message } } }";

fn emails(state: &Value) -> Vec<String> {
    state["users"]
        .as_array()
        .expect("users")
        .iter()
        .map(|u| u["userName"].as_str().expect("userName").to_owned())
        .collect()
}

/// Row 4: a warm gateway starts a refresh that may take the whole budget (background share 1);
/// deactivations at random moments; each one's wait is from the mutation leaving this process
/// to its PUT arriving at the emulator.
pub async fn critical_write(env: &Env, o: &Opts, r: &mut Report) {
    let n = o.users;
    let budget = BudgetSpec::new(o.write_limit, &o.write_window, 1.0);
    eprintln!(
        "row 4: deactivations during a refresh of {n} users at {}/{}",
        budget.limit, budget.window
    );
    let emu = Emulator::start(env, n, o.groups, NO_LIMIT).await;
    let gw = Gateway::start(env, &emu, &budget).await;
    let interval = gw.gql.emission_interval().await;
    let load_time = interval * minimum_calls(n, o.groups) as u32;
    gw.gql
        .wait_complete(load_time * 2 + Duration::from_secs(30))
        .await;
    let clock = EmulatorClock::calibrate(&emu, &env.http).await;
    let users = emails(&emu.state().await);
    let mark = emu.requests().await.len();
    gw.gql
        .data(
            "mutation { refreshDirectory(input: {}) { estimatedCalls } }",
            json!({}),
        )
        .await;
    // Saturated: the refresh is taking every slot the budget releases.
    let deadline = Instant::now() + Duration::from_secs(30);
    while emu.requests().await[mark..]
        .iter()
        .filter(|l| l.method == "GET")
        .count()
        < 3
    {
        assert!(Instant::now() < deadline, "the refresh did not start");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let samples = if o.quick { 4 } else { 10 };
    let mut waits = Vec::new();
    let mut round_trips = Vec::new();
    for i in 0..samples {
        let pause = rand::rng().random_range(0.0..interval.as_secs_f64());
        tokio::time::sleep(Duration::from_secs_f64(pause)).await;
        let victim = &users[10 + i * (n / (samples + 10))];
        let sent = Instant::now();
        let data = gw.gql.data(DEACTIVATE, json!({ "id": victim })).await;
        round_trips.push(sent.elapsed());
        assert_eq!(
            data["deactivateUser"]["outcome"], "SUCCESS",
            "deactivating {victim}: {data}"
        );
        let wanted = victim.to_lowercase();
        let log = emu.requests().await;
        let put = log[mark..]
            .iter()
            .find(|l| {
                l.method != "GET" && l.path.replace("%40", "@").to_lowercase().contains(&wanted)
            })
            .expect("the deactivation reached the emulator");
        waits.push(put.t_ms as f64 + 0.5 - clock.at(sent));
    }
    let sync = gw
        .gql
        .data("{ org { sync { refreshing } } }", json!({}))
        .await;
    let saturated = sync["org"]["sync"]["refreshing"] == true;
    let worst = waits.iter().copied().fold(0.0, f64::max);
    let interval_ms = interval.as_secs_f64() * 1e3;
    r.push(Line {
        row: "4",
        measure: format!(
            "deactivateUser → PUT at the emulator, refresh of {n} users saturating {}/{} (worst of {samples})",
            budget.limit, budget.window
        ),
        measured: format!("{worst:.1} ms"),
        reference: format!("{interval_ms:.1} ms (emission interval)"),
        ratio: Some(worst / interval_ms),
        target: format!("≤ interval + 50 ms = {:.1} ms", interval_ms + 50.0),
        met: Some(worst <= interval_ms + 50.0 && saturated),
    });
    let list: Vec<String> = waits.iter().map(|w| format!("{w:.1}")).collect();
    let rt: Vec<f64> = round_trips.iter().map(Duration::as_secs_f64).collect();
    r.detail(format!(
        "row 4: waits (ms) {}; median {:.1} ms; whole mutation round trip median {}; \
         refresh still running after the last sample: {saturated}",
        list.join(", "),
        median(&waits),
        ms(Duration::from_secs_f64(median(&rt)))
    ));
}

/// Answers row-7 clients got: without errors, with errors (e.g. RATE_LIMITED), and none.
#[derive(Default)]
struct Tally {
    ok: AtomicU64,
    errors: AtomicU64,
    failed: AtomicU64,
}

/// What a row-7 client asks for, by its number: writes, pages, and point reads that miss.
async fn client_loop(
    gql: Gql,
    i: usize,
    users: Arc<Vec<String>>,
    clients: usize,
    tally: Arc<Tally>,
) {
    for k in 0.. {
        let email = &users[(i + k * clients) % users.len()];
        let (query, vars) = match i % 10 {
            0 => (
                "mutation($id: ID!, $g: String) { updateUser(input: { id: $id, givenName: $g }) { outcome } }",
                json!({ "id": email, "g": format!("Bench{k}") }),
            ),
            1 => (crate::client::USERS_PAGE, json!({})),
            _ => (
                "query($e: String!) { org { user(email: $e) { email status } } }",
                json!({ "e": email }),
            ),
        };
        let body = json!({ "query": query, "variables": vars }).to_string();
        let answer = match gql.request(&gql.http, body.into()).send().await {
            Ok(r) => r.json::<Value>().await.ok(),
            Err(_) => None,
        };
        let counter = match answer {
            Some(v) if v.get("errors").is_none() => &tally.ok,
            Some(_) => &tally.errors,
            None => &tally.failed,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

/// Row 7: the emulator and the gateway both at 60 per 6 s; a cold gateway (its refresh needs
/// more than one window) and `--clients` clients for one window; then one more window for
/// what they left queued.
pub async fn budget_held(env: &Env, o: &Opts, r: &mut Report) {
    let (limit, window) = (60u32, "6s");
    let window_d = Duration::from_secs(6);
    let clients = o.clients;
    eprintln!("row 7: {clients} clients for one window, emulator and gateway at {limit}/{window}");
    let emu = Emulator::start(env, o.users, o.groups, &format!("{limit}/{window}")).await;
    let users = emails(&emu.state().await);
    let gw = Gateway::start(env, &emu, &BudgetSpec::new(limit, window, 0.5)).await;
    let users = Arc::new(users);
    let tally = Arc::new(Tally::default());
    let tasks: Vec<_> = (0..clients)
        .map(|i| {
            let run = client_loop(gw.gql.clone(), i, users.clone(), clients, tally.clone());
            tokio::spawn(run)
        })
        .collect();
    tokio::time::sleep(window_d).await;
    for t in &tasks {
        t.abort();
    }
    // Calls already released keep arriving; watch one more window before reading the stats.
    tokio::time::sleep(window_d + Duration::from_millis(500)).await;
    let stats = emu.stats().await;
    let got_429 = stats.by_status.get("429").copied().unwrap_or(0);
    r.push(Line {
        row: "7",
        measure: format!(
            "{clients} clients for one window: most requests in any {window} window at the emulator"
        ),
        measured: format!("{}", stats.max_in_any_window),
        reference: format!("{limit} (limit)"),
        ratio: Some(stats.max_in_any_window as f64 / f64::from(limit)),
        target: format!("≤ {limit}"),
        met: Some(stats.max_in_any_window <= u64::from(limit)),
    });
    r.push(Line {
        row: "7",
        measure: "the same: 429s the emulator sent".into(),
        measured: format!("{got_429}"),
        reference: "0".into(),
        ratio: None,
        target: "= 0".into(),
        met: Some(got_429 == 0),
    });
    r.detail(format!(
        "row 7: {} upstream requests in all ({:?}); clients (1 in 10 updateUser, 1 in 10 a \
         page with groups, the rest point reads of users not yet mirrored) got {} answers \
         without errors and {} with, {} failed, in the window",
        stats.total,
        stats.by_status,
        tally.ok.load(Ordering::Relaxed),
        tally.errors.load(Ordering::Relaxed),
        tally.failed.load(Ordering::Relaxed),
    ));
}
