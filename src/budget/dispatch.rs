//! The dispatcher: one task per budget that releases waiting calls, highest lane first, each
//! time the GCRA limiter has a slot, and holds everything while the upstream asked for a pause.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use governor::RateLimiter;
use governor::state::{InMemoryState, NotKeyed};
use tokio::sync::{Notify, oneshot};
use tokio::time::Instant;

use super::admission::{Gcra, Line, contested};
use super::clock::TokioClock;
use super::{BudgetConfig, BudgetError, Lane};

pub(super) type Limiter = RateLimiter<NotKeyed, InMemoryState, TokioClock>;

pub(super) struct Shared {
    pub(crate) config: BudgetConfig,
    pub(crate) limiter: Limiter,
    pub(crate) state: Mutex<State>,
    pub(crate) notify: Notify,
}

impl Shared {
    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding this lock leaves plain counters behind; keep going with them.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

pub(super) struct Waiter {
    pub(crate) tx: oneshot::Sender<Result<(), BudgetError>>,
}

#[derive(Default)]
pub(super) struct State {
    pub(crate) queues: [VecDeque<Waiter>; 4],
    /// Release times within the last effective window, oldest first.
    pub(crate) released: VecDeque<(Instant, Lane)>,
    pub(crate) paused_until: Option<Instant>,
    pub(crate) revoked: bool,
    pub(crate) closed: bool,
    /// The limiter's state as the dispatcher has driven it, for estimating waits.
    pub(crate) gcra: Gcra,
    /// The sharing credit between `write` and `interactive` (see `admission::contested`).
    pub(crate) credit: f64,
    /// Calls refused by admission since start, per lane.
    pub(crate) refused: [u64; 4],
}

impl State {
    pub(crate) fn prune(&mut self, now: Instant, window: Duration) {
        while let Some((t, _)) = self.released.front() {
            if now.duration_since(*t) >= window {
                self.released.pop_front();
            } else {
                break;
            }
        }
    }

    pub(crate) fn released_since(&self, since: Instant) -> u32 {
        self.released.iter().filter(|(t, _)| *t > since).count() as u32
    }

    pub(crate) fn queued(&self) -> [usize; 4] {
        let mut out = [0; 4];
        for (i, q) in self.queues.iter().enumerate() {
            out[i] = q.iter().filter(|w| !w.tx.is_closed()).count();
        }
        out
    }

    /// Forgets the calls of `lane` whose callers have gone, so that counts and estimates see
    /// only the living.
    pub(crate) fn drop_gone(&mut self, lane: Lane) {
        self.queues[lane as usize].retain(|w| !w.tx.is_closed());
    }

    /// How long a call joining the back of `lane` now would wait for its slot: the releases
    /// ahead of it (see `Line::releases_ahead`), placed on the limiter's schedule from now or
    /// from the end of a known pause, whichever is later. Exact for what is queued now, to
    /// within the timer's resolution; calls arriving later in a lane that goes first can only
    /// add to it.
    pub(crate) fn expected_wait(
        &self,
        lane: Lane,
        now: Instant,
        config: &BudgetConfig,
    ) -> Duration {
        let line = Line {
            queued: self.queued(),
            credit: self.credit,
            share: config.interactive_share,
        };
        let from = self.paused_until.filter(|p| *p > now).unwrap_or(now);
        let at = self.gcra.slot_at(
            from,
            line.releases_ahead(lane),
            config.emission_interval(),
            config.burst,
        );
        at.duration_since(now)
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
        for queue in &mut self.queues {
            while queue.front().is_some_and(|w| w.tx.is_closed()) {
                queue.pop_front();
            }
        }
        let waiting = |lane: Lane| !self.queues[lane as usize].is_empty();
        if waiting(Lane::Critical) {
            return Pick::Lane(Lane::Critical, self.credit);
        }
        if waiting(Lane::Write) && waiting(Lane::Interactive) {
            let (lane, credit) = contested(self.credit, config.interactive_share);
            return Pick::Lane(lane, credit);
        }
        let mut background_blocked_until = None;
        for lane in [Lane::Write, Lane::Interactive, Lane::Background] {
            if !waiting(lane) {
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
            return Pick::Lane(lane, self.credit);
        }
        match background_blocked_until {
            Some(t) => Pick::Wait(t),
            None => Pick::Idle,
        }
    }
}

enum Pick {
    /// Serve this lane; the sharing credit becomes the second value once the slot is taken.
    Lane(Lane, f64),
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
                    Pick::Lane(lane, credit) => match shared.limiter.check() {
                        Ok(()) => {
                            state.released.push_back((now, lane));
                            state.gcra.released(now, shared.config.emission_interval());
                            state.credit = credit;
                            // A waiter that gave up since `pick` passes the slot to the next
                            // in its lane; if none is left the slot goes unused, which is
                            // wasteful but never over the limit.
                            while let Some(w) = state.queues[lane as usize].pop_front() {
                                if w.tx.send(Ok(())).is_ok() {
                                    break;
                                }
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
