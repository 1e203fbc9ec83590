//! Supervision of long-running background tasks: a task that panics is started again after a
//! pause that doubles up to a cap, and each streak of failures is logged once, not per retry.

use std::future::Future;
use std::time::Duration;

use tokio::task::JoinHandle;
use tokio::time::Instant;

/// Pauses between restarts: `first`, doubling up to `max`. A task that then runs for `max`
/// without failing counts as recovered, and its next failure starts a new streak.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Backoff {
    pub(crate) first: Duration,
    pub(crate) max: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            first: Duration::from_secs(1),
            max: Duration::from_secs(60),
        }
    }
}

/// One failure of a supervised task, as `on_failure` sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Failure {
    /// Restarts so far, this one included.
    pub(crate) restarts: u32,
    /// Whether this failure begins a streak (and so was logged).
    pub(crate) new_streak: bool,
    /// The pause before this restart.
    pub(crate) pause: Duration,
}

/// Aborts the supervised task when the supervisor itself is dropped or aborted.
struct AbortOnDrop(JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Runs `start()` as a task until it returns; restarts it after a panic. A task that returns
/// (or is cancelled) has stopped on purpose and is not restarted.
pub(crate) async fn supervise<F, Fut>(
    name: &str,
    backoff: Backoff,
    mut start: F,
    mut on_failure: impl FnMut(&Failure),
) where
    F: FnMut() -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let mut restarts = 0u32;
    let mut pause = backoff.first;
    loop {
        let began = Instant::now();
        let mut task = AbortOnDrop(tokio::spawn(start()));
        let ended = (&mut task.0).await;
        match ended {
            Err(e) if e.is_panic() => {}
            _ => return,
        }
        // Recovered if it ran for `max` since its start: the streak (and the pause) start over.
        let new_streak = restarts == 0 || began.elapsed() >= backoff.max;
        if new_streak {
            pause = backoff.first;
            tracing::error!(
                task = name,
                "background task stopped unexpectedly; restarting it with backoff (further restarts in this streak are not logged)"
            );
        }
        restarts += 1;
        on_failure(&Failure {
            restarts,
            new_streak,
            pause,
        });
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(backoff.max);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::sync::{Arc, Mutex};

    use super::*;

    /// A task that panics its first `n` runs, then returns; the supervisor's failures.
    async fn run(n: u32, backoff: Backoff) -> (u32, Vec<Failure>) {
        let runs = Arc::new(AtomicU32::new(0));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let (r, s) = (runs.clone(), seen.clone());
        supervise(
            "test",
            backoff,
            move || {
                let r = r.clone();
                async move {
                    if r.fetch_add(1, Ordering::SeqCst) < n {
                        panic!("task fault");
                    }
                }
            },
            move |f| s.lock().unwrap().push(f.clone()),
        )
        .await;
        let failures = seen.lock().unwrap().clone();
        (runs.load(Ordering::SeqCst), failures)
    }

    #[tokio::test(start_paused = true)]
    async fn a_panicking_task_is_restarted_with_doubling_pauses_and_logged_once() {
        let backoff = Backoff {
            first: Duration::from_secs(1),
            max: Duration::from_secs(4),
        };
        let t0 = Instant::now();
        let (runs, failures) = run(4, backoff).await;
        assert_eq!(runs, 5, "four panics, then the run that returns");
        let pauses: Vec<u64> = failures.iter().map(|f| f.pause.as_secs()).collect();
        assert_eq!(pauses, [1, 2, 4, 4], "doubling to the cap");
        let streaks: Vec<bool> = failures.iter().map(|f| f.new_streak).collect();
        assert_eq!(
            streaks,
            [true, false, false, false],
            "one streak, logged once"
        );
        assert_eq!(failures.last().map(|f| f.restarts), Some(4));
        assert_eq!(t0.elapsed(), Duration::from_secs(11));
    }

    #[tokio::test(start_paused = true)]
    async fn a_task_that_returns_is_not_restarted() {
        let (runs, failures) = run(0, Backoff::default()).await;
        assert_eq!((runs, failures.len()), (1, 0));
    }

    #[tokio::test(start_paused = true)]
    async fn a_task_that_ran_past_the_cap_starts_a_new_streak() {
        let backoff = Backoff {
            first: Duration::from_secs(1),
            max: Duration::from_secs(4),
        };
        let runs = Arc::new(AtomicU32::new(0));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let (r, s) = (runs.clone(), seen.clone());
        supervise(
            "test",
            backoff,
            move || {
                let r = r.clone();
                async move {
                    match r.fetch_add(1, Ordering::SeqCst) {
                        // Fails at once twice, then runs 10 s before failing, then returns.
                        0 | 1 => panic!("fault"),
                        2 => {
                            tokio::time::sleep(Duration::from_secs(10)).await;
                            panic!("fault")
                        }
                        _ => {}
                    }
                }
            },
            move |f| s.lock().unwrap().push(f.clone()),
        )
        .await;
        let failures = seen.lock().unwrap().clone();
        let summary: Vec<(bool, u64)> = failures
            .iter()
            .map(|f| (f.new_streak, f.pause.as_secs()))
            .collect();
        assert_eq!(summary, [(true, 1), (false, 2), (true, 1)]);
    }
}
