//! The budget, measured where it matters: at the emulator's request log.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use scimgate::budget::{BudgetConfig, Lane};
use scimgate::emulator::{self, EmulatorConfig, Faults, RunningEmulator};
use scimgate::scim::{Profile, ScimClient};

use crate::support::client_with;

async fn emulator(limit: u32, window: Duration, users: usize) -> RunningEmulator {
    emulator::spawn(EmulatorConfig {
        users,
        groups: 5,
        limit,
        window,
        ..EmulatorConfig::default()
    })
    .await
    .expect("emulator")
}

fn budget(limit: u32, window: Duration, background_share: f64) -> BudgetConfig {
    BudgetConfig {
        background_share,
        ..BudgetConfig::new(limit, window)
    }
}

fn gateway_client(emu: &RunningEmulator, config: BudgetConfig) -> ScimClient {
    client_with(&emu.base_url(), Profile::Amplitude, config, emu.token())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_hundred_calls_from_eight_tasks_never_exceed_twenty_per_two_seconds() {
    let window = Duration::from_secs(2);
    let emu = emulator(20, window, 50).await;
    let client = gateway_client(&emu, budget(20, window, 0.5));
    let done = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for task in 0..8 {
        let (client, done) = (client.clone(), done.clone());
        tasks.push(tokio::spawn(async move {
            loop {
                let n = done.fetch_add(1, Ordering::SeqCst);
                if n >= 300 {
                    break;
                }
                let lane = Lane::ALL[(task + n) % 4];
                match n % 3 {
                    0 => drop(client.list_users(lane, 1, 10, None).await.expect("list")),
                    1 => drop(
                        client
                            .get_user(lane, &format!("nobody{n}@example.com"))
                            .await
                            .expect("get"),
                    ),
                    _ => drop(
                        client
                            .list_groups(lane, 1, 100, None)
                            .await
                            .expect("groups"),
                    ),
                }
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let stats = emu.stats();
    assert_eq!(stats.total, 300, "every call reached the emulator once");
    assert!(
        stats.max_in_any_window <= 20,
        "{} requests in one 2 s window",
        stats.max_in_any_window
    );
    assert_eq!(
        stats.by_status.get("429").copied().unwrap_or(0),
        0,
        "the emulator never had to refuse"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_critical_call_goes_out_within_one_emission_interval_while_background_saturates() {
    let window = Duration::from_secs(2);
    let emu = emulator(20, window, 50).await;
    let config = budget(20, window, 1.0);
    let interval = config.emission_interval();
    let client = gateway_client(&emu, config);
    let background: Vec<_> = (0..60)
        .map(|_| {
            let c = client.clone();
            tokio::spawn(async move { c.list_users(Lane::Background, 1, 10, None).await })
        })
        .collect();
    // Let background fill the window at the emulator and build a queue.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let queued = client.budget().snapshot().queued[Lane::Background as usize];
        if emu.stats().total >= 20 && queued >= 30 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "background never saturated: {} sent, {queued} waiting",
            emu.stats().total
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let asked_ms = emu.started_at().elapsed().as_millis() as u64;
    let victim = emu
        .state()
        .users()
        .into_iter()
        .find(|u| u.active)
        .expect("a user")
        .user_name;
    client
        .delete_user(Lane::Critical, &victim)
        .await
        .expect("delete");
    let log = emu.requests();
    let delete = log
        .iter()
        .find(|r| r.method == "DELETE")
        .expect("the delete reached the emulator");
    let waited = Duration::from_millis(delete.t_ms.saturating_sub(asked_ms));
    // One emission interval, plus what a loopback round trip takes on a busy machine.
    assert!(
        waited <= interval + Duration::from_millis(50),
        "critical waited {waited:?}, interval {interval:?}"
    );
    // The background queue goes on after the delete: it was overtaken, not drained first.
    let delete_t = delete.t_ms;
    let deadline = Instant::now() + interval * 3 + Duration::from_secs(2);
    while !emu
        .requests()
        .iter()
        .any(|r| r.method == "GET" && r.t_ms > delete_t)
    {
        assert!(
            Instant::now() < deadline,
            "background calls should still follow the delete"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    for t in background {
        t.abort();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forced_429_with_retry_after_two_stops_every_call_for_two_seconds() {
    let emu = emulator(100, Duration::from_secs(60), 20).await;
    let client = gateway_client(&emu, budget(100, Duration::from_secs(10), 1.0));
    emu.set_faults(Faults {
        force_429_secs: 2.0,
        ..Faults::default()
    });
    let mut tasks = Vec::new();
    for (i, lane) in [
        Lane::Background,
        Lane::Interactive,
        Lane::Critical,
        Lane::Write,
    ]
    .into_iter()
    .enumerate()
    {
        let c = client.clone();
        tasks.push(tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(100 * i as u64)).await;
            c.list_groups(lane, 1, 100, None).await
        }));
    }
    for t in tasks {
        t.await
            .unwrap()
            .expect("every call succeeds once the pause is over");
    }
    let log = emu.requests();
    let first_429 = log.iter().find(|r| r.status == 429).expect("a 429").t_ms;
    let resumed = log.iter().find(|r| r.status == 200).expect("a 200").t_ms;
    assert!(
        resumed >= first_429 + 1_950,
        "calls resumed after {} ms",
        resumed - first_429
    );
    let during: Vec<_> = log
        .iter()
        .filter(|r| r.t_ms > first_429 + 50 && r.t_ms < first_429 + 1_950)
        .collect();
    assert!(
        during.is_empty(),
        "calls reached the upstream during the pause: {during:?}"
    );
}
