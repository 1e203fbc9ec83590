//! The per-organization upstream budget: a GCRA limiter (governor) in front of four priority
//! lanes, with upstream-imposed pauses (429) and credential revocation (401).
//!
//! The guarantee: in every sliding window of `window`, at most `limit` requests are released.
//! The rate is derived so that `burst - 1 + ceil(window / T) ≤ limit`, with `T` computed over
//! the window plus a small guard that absorbs network jitter between release and arrival.

mod admission;
mod clock;
mod config;
mod dispatch;

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use serde::Serialize;
use tokio::sync::{Notify, oneshot};
use tokio::time::Instant;

pub use config::{BudgetConfig, ConfigError};
use dispatch::{Shared, State, Waiter};

/// Why an upstream call is made; decides who goes first when the budget is short.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Lane {
    /// Revocations: deactivate, delete, remove from group, expired-grant removal. Never waits
    /// behind another lane.
    Critical = 0,
    /// Other writes.
    Write = 1,
    /// Reads a client is waiting for.
    Interactive = 2,
    /// Refresh; takes only what the others leave, capped at a share of the window.
    Background = 3,
}

impl Lane {
    pub const ALL: [Lane; 4] = [
        Lane::Critical,
        Lane::Write,
        Lane::Interactive,
        Lane::Background,
    ];

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Lane::Critical => "critical",
            Lane::Write => "write",
            Lane::Interactive => "interactive",
            Lane::Background => "background",
        }
    }
}

impl fmt::Display for Lane {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub(crate) enum BudgetError {
    #[error("the organization's SCIM credential was rejected by the upstream")]
    CredentialRevoked,
    /// Refused by admission: the call would wait longer than `max_queue_wait`, or its lane
    /// holds `max_queued` calls already. Nothing was queued or sent; `retry_after` is when a
    /// call in its place would have had its slot.
    #[error("the organization's upstream budget is taken for the next {retry_after:?}")]
    Overloaded { retry_after: Duration },
    #[error("the budget was shut down")]
    Closed,
}

/// Permission to send one request now. Holding it costs nothing; it has already been counted.
#[derive(Debug)]
pub(crate) struct Grant {
    /// How long the call waited in its lane (the queue-wait histogram records it).
    pub(crate) waited: Duration,
}

/// What the budget looks like now, for GraphQL and metrics.
#[derive(Clone, Debug, Serialize)]
pub struct BudgetSnapshot {
    pub(crate) limit: u32,
    pub(crate) window: Duration,
    /// Requests released in the last `window`.
    pub(crate) used_in_window: u32,
    pub(crate) remaining: u32,
    /// Waiting calls per lane, in `Lane::ALL` order.
    pub queued: [usize; 4],
    /// Calls refused by admission since start, per lane.
    pub(crate) refused: [u64; 4],
    /// What a new call in each lane would expect to wait now.
    pub(crate) expected_wait: [Duration; 4],
    pub(crate) max_queue_wait: Duration,
    pub(crate) max_queued: u32,
    pub(crate) interactive_share: f64,
    pub paused_until: Option<SystemTime>,
    pub credential_revoked: bool,
}

/// One organization's budget. Cheap to clone; all clones share one limiter.
#[derive(Clone)]
pub struct Budget {
    handle: Arc<Handle>,
}

struct Handle {
    shared: Arc<Shared>,
    started: AtomicBool,
}

impl Drop for Handle {
    fn drop(&mut self) {
        self.shared.lock().closed = true;
        self.shared.notify.notify_one();
    }
}

impl Budget {
    pub fn new(config: BudgetConfig) -> Budget {
        let limiter = governor::RateLimiter::direct_with_clock(config.quota(), clock::TokioClock);
        let shared = Arc::new(Shared {
            config,
            limiter,
            state: Mutex::new(State::default()),
            notify: Notify::new(),
        });
        Budget {
            handle: Arc::new(Handle {
                shared,
                started: AtomicBool::new(false),
            }),
        }
    }

    pub(crate) fn config(&self) -> &BudgetConfig {
        &self.handle.shared.config
    }

    /// Waits for a slot in `lane`, or refuses at once when admission says the wait would be
    /// too long. Cancel-safe: dropping the future gives up the place in line, and the slot
    /// goes to the next caller.
    ///
    /// Admission: a `write` or `interactive` call whose expected wait (the releases ahead of
    /// it on the limiter's schedule, from the end of a known pause if there is one) exceeds
    /// `max_queue_wait` is refused, and so is any call but a `critical` one whose lane already
    /// holds `max_queued` calls. `critical` calls (offboarding) are never refused: they go
    /// first, so they wait at most what the critical calls ahead of them take. `background`
    /// (refresh, single-flight, a few calls at a time) is exempt from the wait rule, so a
    /// busy budget delays a refresh instead of failing it.
    pub(crate) async fn acquire(&self, lane: Lane) -> Result<Grant, BudgetError> {
        let shared = &self.handle.shared;
        if !self.handle.started.swap(true, Ordering::AcqRel) {
            tokio::spawn(dispatch::run(shared.clone()));
        }
        let asked = Instant::now();
        let (tx, rx) = oneshot::channel();
        {
            let mut state = shared.lock();
            if state.revoked {
                return Err(BudgetError::CredentialRevoked);
            }
            if lane != Lane::Critical {
                let config = &shared.config;
                state.drop_gone(lane);
                let wait = state.expected_wait(lane, asked, config);
                let full = state.queues[lane as usize].len() >= config.max_queued as usize;
                let too_long = lane != Lane::Background && wait > config.max_queue_wait;
                if full || too_long {
                    state.refused[lane as usize] += 1;
                    return Err(BudgetError::Overloaded {
                        // Never zero, so that a client told to come back does not spin.
                        retry_after: wait.max(Duration::from_millis(1)),
                    });
                }
            }
            state.queues[lane as usize].push_back(Waiter { tx });
        }
        shared.notify.notify_one();
        match rx.await {
            Ok(Ok(())) => Ok(Grant {
                waited: asked.elapsed(),
            }),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(BudgetError::Closed),
        }
    }

    /// Stops every lane until `until` (a 429's `Retry-After`). A later pause extends an earlier one.
    pub(crate) fn pause_until(&self, until: Instant) {
        let shared = &self.handle.shared;
        {
            let mut state = shared.lock();
            if state.paused_until.is_none_or(|p| p < until) {
                state.paused_until = Some(until);
            }
        }
        shared.notify.notify_one();
    }

    /// Marks the credential as revoked: every waiting and future call fails at once, until
    /// `restore_credential` (a configuration change).
    pub(crate) fn mark_revoked(&self) {
        self.handle.shared.lock().revoked = true;
        self.handle.shared.notify.notify_one();
    }

    #[cfg_attr(
        not(test),
        expect(
            dead_code,
            reason = "the counterpart of mark_revoked; no configuration reload calls it yet"
        )
    )]
    pub(crate) fn restore_credential(&self) {
        self.handle.shared.lock().revoked = false;
        self.handle.shared.notify.notify_one();
    }

    /// How long a known pause (an upstream 429's `Retry-After`) still holds every lane.
    pub(crate) fn paused_for(&self) -> Option<Duration> {
        let now = Instant::now();
        let state = self.handle.shared.lock();
        state.paused_until.filter(|p| *p > now).map(|p| p - now)
    }

    pub(crate) fn is_revoked(&self) -> bool {
        self.handle.shared.lock().revoked
    }

    pub fn snapshot(&self) -> BudgetSnapshot {
        let shared = &self.handle.shared;
        let config = &shared.config;
        let now = Instant::now();
        let mut state = shared.lock();
        state.prune(now, config.effective_window());
        let used = state.released_since(now.checked_sub(config.window).unwrap_or(now));
        let paused_until = state
            .paused_until
            .filter(|p| *p > now)
            .map(|p| SystemTime::now() + (p - now));
        BudgetSnapshot {
            limit: config.limit,
            window: config.window,
            used_in_window: used,
            remaining: config.limit.saturating_sub(used),
            queued: state.queued(),
            refused: state.refused,
            expected_wait: Lane::ALL.map(|lane| state.expected_wait(lane, now, config)),
            max_queue_wait: config.max_queue_wait,
            max_queued: config.max_queued,
            interactive_share: config.interactive_share,
            paused_until,
            credential_revoked: state.revoked,
        }
    }
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod admission_tests;
