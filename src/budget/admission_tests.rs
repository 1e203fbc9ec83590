//! Admission, bounded queues and the write/interactive share, on tokio's paused clock.

use std::time::Duration;

use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::*;

/// 20 per 2 s with a burst of 1: T = 2.1 s / 20 = 105 ms.
fn config(max_queue_wait_ms: u64) -> BudgetConfig {
    BudgetConfig {
        burst: 1,
        max_queue_wait: Duration::from_millis(max_queue_wait_ms),
        ..BudgetConfig::new(20, Duration::from_secs(2))
    }
}

type Waiting = JoinHandle<Result<Grant, BudgetError>>;

/// Starts an `acquire` and lets it reach the budget (queue, refusal or grant) before returning.
async fn ask(budget: &Budget, lane: Lane) -> Waiting {
    let b = budget.clone();
    let task = tokio::spawn(async move { b.acquire(lane).await });
    for _ in 0..3 {
        tokio::task::yield_now().await;
    }
    task
}

fn retry_after(result: Result<Grant, BudgetError>) -> Duration {
    match result {
        Err(BudgetError::Overloaded { retry_after }) => retry_after,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

fn close(a: Duration, b: Duration, tolerance: Duration) -> bool {
    a.abs_diff(b) <= tolerance
}

/// Queues `writes` writes, then interactive calls until one is refused. Returns the refused
/// call's position among the interactive calls and its `retry_after`, and when it was asked.
async fn queue_until_refused(budget: &Budget, writes: usize) -> (usize, Duration, Instant) {
    // Spend the burst, so that everything below queues on the emission interval.
    budget.acquire(Lane::Interactive).await.unwrap();
    for _ in 0..writes {
        let w = ask(budget, Lane::Write).await;
        assert!(!w.is_finished(), "a write within the bound was refused");
    }
    for position in 0.. {
        let asked = Instant::now();
        let call = ask(budget, Lane::Interactive).await;
        if call.is_finished() {
            let result = call.await.unwrap();
            assert_eq!(asked.elapsed(), Duration::ZERO, "refused without waiting");
            return (position, retry_after(result), asked);
        }
    }
    unreachable!()
}

/// The same queue on a budget without the bound: how long the call at `position` really waits.
async fn real_wait(config: BudgetConfig, writes: usize, position: usize) -> Duration {
    let budget = Budget::new(BudgetConfig {
        max_queue_wait: Duration::from_secs(3_600),
        ..config
    });
    budget.acquire(Lane::Interactive).await.unwrap();
    for _ in 0..writes {
        ask(&budget, Lane::Write).await;
    }
    let mut calls = Vec::new();
    for _ in 0..=position {
        calls.push(ask(&budget, Lane::Interactive).await);
    }
    let last = calls.pop().unwrap();
    last.await.unwrap().expect("granted").waited
}

#[tokio::test(start_paused = true)]
async fn a_call_that_would_wait_too_long_is_refused_at_once_with_its_real_wait() {
    let cfg = config(1_000);
    let interval = cfg.emission_interval();
    // Reads alone, then reads sharing the budget with five writes ahead of them.
    for writes in [0, 5] {
        let budget = Budget::new(cfg.clone());
        let (position, promised, _) = queue_until_refused(&budget, writes).await;
        assert!(promised > cfg.max_queue_wait, "refused under the bound");
        // The call before it was admitted, and reads are at most two releases apart (a write
        // between them).
        assert!(
            promised <= cfg.max_queue_wait + interval * 2,
            "{promised:?}"
        );
        let snap = budget.snapshot();
        assert_eq!(snap.refused, [0, 0, 1, 0]);
        assert_eq!(snap.queued, [0, writes, position, 0]);
        let real = real_wait(cfg.clone(), writes, position).await;
        assert!(
            close(promised, real, interval),
            "{writes} writes: promised {promised:?}, the call at position {position} waited {real:?}"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn a_known_pause_counts_in_the_expected_wait() {
    let cfg = config(1_000);
    let interval = cfg.emission_interval();
    let pause = Duration::from_secs(3);
    let budget = Budget::new(cfg.clone());
    budget.pause_until(Instant::now() + pause);
    let promised = retry_after(budget.acquire(Lane::Interactive).await);
    let unbounded = Budget::new(config(3_600_000));
    unbounded.pause_until(Instant::now() + pause);
    let real = unbounded.acquire(Lane::Interactive).await.unwrap().waited;
    assert!(close(promised, real, interval), "{promised:?} vs {real:?}");
    assert!(close(real, pause, interval));
}

#[tokio::test(start_paused = true)]
async fn zero_never_queues_reads_or_writes_but_critical_and_background_wait() {
    let cfg = config(0);
    let interval = cfg.emission_interval();
    let budget = Budget::new(cfg);
    // The burst slot: a call that can go now goes.
    budget.acquire(Lane::Interactive).await.unwrap();
    let promised = retry_after(budget.acquire(Lane::Interactive).await);
    assert!(close(promised, interval, Duration::from_millis(1)));
    retry_after(budget.acquire(Lane::Write).await);
    // Offboarding is never refused, and refresh waits its turn instead of failing.
    let critical = ask(&budget, Lane::Critical).await;
    let background = ask(&budget, Lane::Background).await;
    assert!(critical.await.unwrap().is_ok());
    assert!(background.await.unwrap().is_ok());
    assert_eq!(budget.snapshot().refused, [0, 1, 1, 0]);
}

#[tokio::test(start_paused = true)]
async fn queues_are_bounded_per_lane_except_critical() {
    let budget = Budget::new(BudgetConfig {
        max_queued: 3,
        ..config(3_600_000)
    });
    budget.acquire(Lane::Interactive).await.unwrap();
    let mut waiting = Vec::new();
    for lane in [Lane::Interactive, Lane::Background, Lane::Write] {
        for _ in 0..3 {
            waiting.push(ask(&budget, lane).await);
        }
        let over = ask(&budget, lane).await;
        let wait = retry_after(over.await.unwrap());
        assert!(wait > Duration::ZERO);
    }
    for _ in 0..5 {
        waiting.push(ask(&budget, Lane::Critical).await);
    }
    let snap = budget.snapshot();
    assert_eq!(snap.queued, [5, 3, 3, 3]);
    assert_eq!(snap.refused, [0, 1, 1, 1]);
    assert_eq!(snap.max_queued, 3);
    for w in waiting {
        w.await.unwrap().expect("every queued call is granted");
    }
}

#[tokio::test(start_paused = true)]
async fn a_dropped_waiter_is_never_released_and_its_slot_goes_to_the_next() {
    let cfg = config(3_600_000);
    let interval = cfg.emission_interval();
    let budget = Budget::new(cfg);
    budget.acquire(Lane::Interactive).await.unwrap();
    let gone = ask(&budget, Lane::Interactive).await;
    let next = ask(&budget, Lane::Interactive).await;
    gone.abort();
    assert!(gone.await.unwrap_err().is_cancelled());
    let grant = next.await.unwrap().unwrap();
    assert!(grant.waited <= interval, "waited {:?}", grant.waited);
    // Two released in all: the first call and `next`; the caller that left cost nothing.
    assert_eq!(budget.snapshot().used_in_window, 2);
}

/// Ten writers that keep the write lane full and `readers` reads queued behind them: the
/// order in which the lanes are served.
async fn served(share: f64, readers: usize) -> Vec<Lane> {
    let budget = Budget::new(BudgetConfig {
        interactive_share: share,
        ..config(3_600_000)
    });
    budget.acquire(Lane::Write).await.unwrap();
    let order = Arc::new(Mutex::new(Vec::new()));
    let mut tasks = Vec::new();
    for _ in 0..10 {
        let (b, order) = (budget.clone(), order.clone());
        tasks.push(tokio::spawn(async move {
            for _ in 0..6 {
                b.acquire(Lane::Write).await.unwrap();
                order.lock().unwrap().push(Lane::Write);
            }
        }));
    }
    tokio::task::yield_now().await;
    for _ in 0..readers {
        let (b, order) = (budget.clone(), order.clone());
        tasks.push(tokio::spawn(async move {
            b.acquire(Lane::Interactive).await.unwrap();
            order.lock().unwrap().push(Lane::Interactive);
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    Arc::try_unwrap(order).unwrap().into_inner().unwrap()
}

#[tokio::test(start_paused = true)]
async fn readers_progress_while_writers_queue() {
    let reads_in = |order: &[Lane], n: usize| {
        order[..n]
            .iter()
            .filter(|l| **l == Lane::Interactive)
            .count()
    };
    // Half each: of the first 20 releases, 10 go to reads, though writers never stop asking.
    let order = served(0.5, 15).await;
    assert_eq!(reads_in(&order, 20), 10, "{order:?}");
    let last_read = order.iter().rposition(|l| *l == Lane::Interactive).unwrap();
    assert!(
        last_read < 31,
        "the 15th read came {last_read}th: {order:?}"
    );
    // A quarter: at least 5 of the first 20.
    assert!(reads_in(&served(0.25, 15).await, 20) >= 5);
    // Share 0 is the old rule, writes strictly first: no read before the 60 writes.
    assert_eq!(reads_in(&served(0.0, 5).await, 60), 0);
}
