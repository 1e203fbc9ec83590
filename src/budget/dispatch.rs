//! The dispatcher: one task per budget that releases waiting calls, highest lane first, each
//! time the GCRA limiter has a slot, and holds everything while the upstream asked for a pause.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use governor::RateLimiter;
use governor::state::{InMemoryState, NotKeyed};
use tokio::sync::{Notify, oneshot};
use tokio::time::Instant;

use super::clock::TokioClock;
use super::{BudgetConfig, BudgetError, Lane};

pub(super) type Limiter = RateLimiter<NotKeyed, InMemoryState, TokioClock>;

pub(super) struct Shared {
    pub config: BudgetConfig,
    pub limiter: Limiter,
    pub state: Mutex<State>,
    pub notify: Notify,
}

impl Shared {
    pub fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding this lock leaves plain counters behind; keep going with them.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

pub(super) struct Waiter {
    pub tx: oneshot::Sender<Result<(), BudgetError>>,
}

#[derive(Default)]
pub(super) struct State {
    pub queues: [VecDeque<Waiter>; 4],
    /// Release times within the last effective window, oldest first.
    pub released: VecDeque<(Instant, Lane)>,
    pub paused_until: Option<Instant>,
    pub revoked: bool,
    pub closed: bool,
}

impl State {
    pub fn prune(&mut self, now: Instant, window: Duration) {
        while let Some((t, _)) = self.released.front() {
            if now.duration_since(*t) >= window {
                self.released.pop_front();
            } else {
                break;
            }
        }
    }

    pub fn released_since(&self, since: Instant) -> u32 {
        self.released.iter().filter(|(t, _)| *t > since).count() as u32
    }

    pub fn queued(&self) -> [usize; 4] {
        let mut out = [0; 4];
        for (i, q) in self.queues.iter().enumerate() {
            out[i] = q.iter().filter(|w| !w.tx.is_closed()).count();
        }
        out
    }

    fn fail_all(&mut self, error: BudgetError) {
        for q in &mut self.queues {
            for w in q.drain(..) {
                let _ = w.tx.send(Err(error));
            }
        }
    }

    /// The lane to serve next, or when the background cap frees up if only background waits.
    fn pick(&mut self, now: Instant, config: &BudgetConfig) -> Pick {
        let mut background_blocked_until = None;
        for lane in Lane::ALL {
            let queue = &mut self.queues[lane as usize];
            while queue.front().is_some_and(|w| w.tx.is_closed()) {
                queue.pop_front();
            }
            if queue.is_empty() {
                continue;
            }
            if lane == Lane::Background {
                let used = self
                    .released
                    .iter()
                    .filter(|(_, l)| *l == Lane::Background)
                    .count() as u32;
                if used >= config.background_cap() {
                    let oldest = self.released.iter().find(|(_, l)| *l == Lane::Background);
                    background_blocked_until =
                        Some(oldest.map_or(now, |(t, _)| *t + config.effective_window()));
                    continue;
                }
            }
            return Pick::Lane(lane);
        }
        match background_blocked_until {
            Some(t) => Pick::Wait(t),
            None => Pick::Idle,
        }
    }
}

enum Pick {
    Lane(Lane),
    Wait(Instant),
    Idle,
}

/// Runs until the last `Budget` handle is dropped.
pub(super) async fn run(shared: Arc<Shared>) {
    let window = shared.config.effective_window();
    loop {
        let wait_until = {
            let now = Instant::now();
            let mut state = shared.lock();
            if state.closed {
                state.fail_all(BudgetError::Closed);
                return;
            }
            state.prune(now, window);
            if state.revoked {
                state.fail_all(BudgetError::CredentialRevoked);
                None
            } else if let Some(until) = state.paused_until.filter(|p| *p > now) {
                Some(until)
            } else {
                state.paused_until = None;
                match state.pick(now, &shared.config) {
                    Pick::Idle => None,
                    Pick::Wait(t) => Some(t),
                    Pick::Lane(lane) => match shared.limiter.check() {
                        Ok(()) => {
                            state.released.push_back((now, lane));
                            if let Some(w) = state.queues[lane as usize].pop_front() {
                                // A waiter that gave up after `pick` leaves its slot unused:
                                // wasteful but never over the limit.
                                let _ = w.tx.send(Ok(()));
                            }
                            continue;
                        }
                        Err(not_until) => Some(Instant::from_std(not_until.earliest_possible())),
                    },
                }
            }
        };
        match wait_until {
            None => shared.notify.notified().await,
            Some(t) => {
                tokio::select! {
                    _ = tokio::time::sleep_until(t) => {}
                    _ = shared.notify.notified() => {}
                }
            }
        }
    }
}
