use std::time::Duration;

use tokio::time::Instant;

use super::*;

fn config(limit: u32, window_ms: u64, burst: u32) -> BudgetConfig {
    // These tests are about the limiter and the lanes: admission is out of their way.
    BudgetConfig {
        limit,
        window: Duration::from_millis(window_ms),
        burst,
        background_share: 1.0,
        guard: None,
        max_queue_wait: Duration::from_secs(3_600),
        max_queued: 100_000,
        interactive_share: 0.5,
    }
}

/// The most releases in any half-open window of `window` ending at a release.
fn max_in_any_window(times: &[Instant], window: Duration) -> usize {
    let mut sorted = times.to_vec();
    sorted.sort();
    let mut max = 0;
    let mut start = 0;
    for end in 0..sorted.len() {
        while sorted[end].duration_since(sorted[start]) >= window {
            start += 1;
        }
        max = max.max(end - start + 1);
    }
    max
}

async fn release_times(budget: &Budget, calls: usize, lanes: &[Lane]) -> Vec<Instant> {
    let mut tasks = Vec::new();
    for i in 0..calls {
        let budget = budget.clone();
        let lane = lanes[i % lanes.len()];
        tasks.push(tokio::spawn(async move {
            budget.acquire(lane).await.expect("granted");
            Instant::now()
        }));
    }
    let mut out = Vec::new();
    for t in tasks {
        out.push(t.await.expect("task"));
    }
    out
}

#[tokio::test(start_paused = true)]
async fn no_sliding_window_ever_sees_more_than_the_limit() {
    for (limit, window_ms, burst) in [
        (20, 2_000, 1),
        (20, 2_000, 5),
        (90, 60_000, 1),
        (7, 1_000, 7),
        (100, 60_000, 10),
    ] {
        let cfg = config(limit, window_ms, burst);
        let budget = Budget::new(cfg.clone());
        let times = release_times(&budget, limit as usize * 4, &Lane::ALL).await;
        let max = max_in_any_window(&times, cfg.window);
        assert!(
            max <= limit as usize,
            "{limit}/{window_ms}ms burst {burst}: {max} in one window"
        );
        // ...and the budget is used, not wasted: the busiest window holds what the rate allows
        // (the limit less what the guard keeps back).
        let expected = (cfg.window.as_secs_f64() / cfg.emission_interval().as_secs_f64()).floor();
        assert!(
            max >= expected as usize,
            "{limit}/{window_ms}ms: only {max} in a window"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn critical_is_released_within_one_emission_interval_while_background_saturates() {
    let cfg = config(20, 2_000, 1);
    let interval = cfg.emission_interval();
    let budget = Budget::new(cfg);
    let background: Vec<_> = (0..100)
        .map(|_| {
            let b = budget.clone();
            tokio::spawn(async move { b.acquire(Lane::Background).await })
        })
        .collect();
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(
        budget.snapshot().queued[Lane::Background as usize] > 50,
        "background must be saturating"
    );
    let grant = budget
        .acquire(Lane::Critical)
        .await
        .expect("critical granted");
    assert!(
        grant.waited <= interval,
        "critical waited {:?} > {:?}",
        grant.waited,
        interval
    );
    for t in background {
        t.abort();
    }
}

#[tokio::test(start_paused = true)]
async fn higher_lanes_go_first_and_fifo_within_a_lane() {
    // Writes strictly before reads here; sharing between them has its own test.
    let budget = Budget::new(BudgetConfig {
        interactive_share: 0.0,
        ..config(5, 1_000, 1)
    });
    // Spend the only burst slot so that everything below queues.
    budget.acquire(Lane::Interactive).await.unwrap();
    let order = Arc::new(Mutex::new(Vec::new()));
    let mut tasks = Vec::new();
    for (i, lane) in [
        Lane::Background,
        Lane::Interactive,
        Lane::Write,
        Lane::Critical,
        Lane::Write,
    ]
    .into_iter()
    .enumerate()
    {
        let (b, order) = (budget.clone(), order.clone());
        tasks.push(tokio::spawn(async move {
            b.acquire(lane).await.unwrap();
            order.lock().unwrap().push((lane, i));
        }));
        tokio::task::yield_now().await;
    }
    for t in tasks {
        t.await.unwrap();
    }
    let order = order.lock().unwrap().clone();
    assert_eq!(
        order,
        vec![
            (Lane::Critical, 3),
            (Lane::Write, 2),
            (Lane::Write, 4),
            (Lane::Interactive, 1),
            (Lane::Background, 0)
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn background_never_uses_more_than_its_share() {
    let mut cfg = config(20, 2_000, 1);
    cfg.background_share = 0.25;
    let budget = Budget::new(cfg.clone());
    let times = release_times(&budget, 30, &[Lane::Background]).await;
    assert!(max_in_any_window(&times, cfg.window) <= 5);
    // The other lanes still get the rest while background is capped.
    let start = Instant::now();
    release_times(&budget, 10, &[Lane::Interactive]).await;
    assert!(start.elapsed() <= cfg.emission_interval() * 11);
}

#[tokio::test(start_paused = true)]
async fn pause_holds_every_lane_until_its_deadline() {
    let budget = Budget::new(config(20, 2_000, 1));
    let start = Instant::now();
    budget.pause_until(start + Duration::from_secs(2));
    assert!(budget.snapshot().paused_until.is_some());
    let times = release_times(&budget, 8, &Lane::ALL).await;
    for t in times {
        assert!(
            t >= start + Duration::from_secs(2),
            "released during the pause"
        );
    }
    assert!(budget.snapshot().paused_until.is_none());
}

#[tokio::test(start_paused = true)]
async fn a_shorter_pause_does_not_cut_a_longer_one() {
    let budget = Budget::new(config(20, 2_000, 1));
    let start = Instant::now();
    budget.pause_until(start + Duration::from_secs(3));
    budget.pause_until(start + Duration::from_secs(1));
    budget.acquire(Lane::Critical).await.unwrap();
    assert!(start.elapsed() >= Duration::from_secs(3));
}

#[tokio::test(start_paused = true)]
async fn revocation_fails_waiting_and_new_calls_until_restored() {
    let budget = Budget::new(config(1, 10_000, 1));
    budget.acquire(Lane::Write).await.unwrap();
    let waiting = {
        let b = budget.clone();
        tokio::spawn(async move { b.acquire(Lane::Write).await })
    };
    tokio::time::sleep(Duration::from_millis(10)).await;
    budget.mark_revoked();
    assert_eq!(
        waiting.await.unwrap().unwrap_err(),
        BudgetError::CredentialRevoked
    );
    assert_eq!(
        budget.acquire(Lane::Critical).await.unwrap_err(),
        BudgetError::CredentialRevoked
    );
    assert!(budget.snapshot().credential_revoked);
    budget.restore_credential();
    budget.acquire(Lane::Critical).await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn snapshot_counts_used_and_queued() {
    let budget = Budget::new(config(3, 1_000, 1));
    for _ in 0..3 {
        budget.acquire(Lane::Interactive).await.unwrap();
    }
    let b = budget.clone();
    let waiting = tokio::spawn(async move { b.acquire(Lane::Background).await });
    tokio::time::sleep(Duration::from_millis(1)).await;
    let snap = budget.snapshot();
    assert_eq!((snap.limit, snap.used_in_window, snap.remaining), (3, 3, 0));
    assert_eq!(snap.queued, [0, 0, 0, 1]);
    waiting.await.unwrap().unwrap();
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(budget.snapshot().used_in_window, 0);
}

#[tokio::test(start_paused = true)]
async fn a_dropped_waiter_gives_up_its_place() {
    let budget = Budget::new(config(1, 1_000, 1));
    budget.acquire(Lane::Write).await.unwrap();
    let b = budget.clone();
    let gone = tokio::spawn(async move { b.acquire(Lane::Critical).await });
    tokio::time::sleep(Duration::from_millis(1)).await;
    gone.abort();
    let _ = gone.await;
    assert_eq!(budget.snapshot().queued, [0; 4]);
}

#[test]
fn config_arithmetic_and_validation() {
    let cfg = BudgetConfig::default();
    assert_eq!(cfg.guard(), Duration::from_secs(2));
    // The default burst of 2: T = (60 s + 2 s guard) / (90 - 2 + 1).
    assert_eq!(cfg.emission_interval(), Duration::from_secs(62) / 89);
    let tests = config(20, 2_000, 5);
    assert_eq!(tests.guard(), Duration::from_millis(100));
    assert_eq!(tests.emission_interval(), Duration::from_millis(2_100) / 16);
    assert_eq!(config(20, 2_000, 1).background_cap(), 20);
    assert_eq!(
        BudgetConfig {
            limit: 0,
            ..cfg.clone()
        }
        .validate(),
        Err(ConfigError::ZeroLimit)
    );
    assert_eq!(
        BudgetConfig {
            burst: 91,
            ..cfg.clone()
        }
        .validate(),
        Err(ConfigError::Burst {
            burst: 91,
            limit: 90
        })
    );
    assert_eq!(
        BudgetConfig {
            background_share: 1.5,
            ..cfg.clone()
        }
        .validate(),
        Err(ConfigError::Share(1.5))
    );
    assert!(cfg.validate().is_ok());
}
