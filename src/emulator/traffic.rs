//! `GateState`, the gate's books: request log and stats, the sliding-window limiter and the
//! fault draws. `EmulatorState` holds it under one mutex; the gate middleware consults it.

use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

use axum::http::Method;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use tokio::time::Instant;

use super::config::{Faults, LoggedRequest, Stats};
use super::errors::ScimError;

/// Mixed into the configured seed so fault draws differ from the seed data's.
const FAULT_SEED_SALT: u64 = 0x5ca1_ab1e_fa17;

/// Counters, log, limiter window and faults; guarded by one mutex, never held across an await.
pub(crate) struct GateState {
    seed: u64,
    /// Arrival times of admitted requests still inside the window.
    admitted: VecDeque<Instant>,
    /// Arrival times of all requests still inside the window (for `max_in_any_window`).
    arrivals: VecDeque<Instant>,
    max_in_window: u64,
    total: u64,
    by_status: BTreeMap<String, u64>,
    log: Vec<LoggedRequest>,
    /// The request number of `log[0]`; requests from before a reset are no longer logged.
    log_base: u64,
    next_request: u64,
    faults: Faults,
    force_until: Option<Instant>,
    rng: StdRng,
}

/// What the gate decided for an authorized, admitted request.
#[derive(Debug, PartialEq)]
pub(super) enum Verdict {
    Reject(ScimError),
    Fail,
    Hang { apply: bool, for_: Duration },
    Handle,
}

impl GateState {
    pub(crate) fn new(seed: u64) -> GateState {
        GateState {
            seed,
            admitted: VecDeque::new(),
            arrivals: VecDeque::new(),
            max_in_window: 0,
            total: 0,
            by_status: BTreeMap::new(),
            log: Vec::new(),
            log_base: 0,
            next_request: 0,
            faults: Faults::default(),
            force_until: None,
            rng: StdRng::seed_from_u64(seed ^ FAULT_SEED_SALT),
        }
    }

    /// Clears log, stats, faults and the limiter's window.
    pub(crate) fn reset(&mut self) {
        let next_request = self.next_request;
        *self = GateState::new(self.seed);
        self.next_request = next_request;
        self.log_base = next_request;
    }

    pub(crate) fn stats(&self, limit: u32, window: Duration) -> Stats {
        Stats {
            total: self.total,
            by_status: self.by_status.clone(),
            max_in_any_window: self.max_in_window,
            window_secs: window.as_secs_f64(),
            limit,
        }
    }

    pub(crate) fn requests(&self) -> Vec<LoggedRequest> {
        self.log.clone()
    }

    pub(crate) fn set_faults(&mut self, faults: Faults, now: Instant) {
        self.force_until = (faults.force_429_secs > 0.0)
            .then(|| now + Duration::from_secs_f64(faults.force_429_secs.min(1e9)));
        self.faults = faults;
    }

    pub(crate) fn faults(&self) -> Faults {
        self.faults.clone()
    }

    /// The injected latency every request waits before it is answered.
    pub(super) fn latency(&self) -> Duration {
        Duration::from_millis(self.faults.latency_ms)
    }

    /// Records an arrival; returns its request number.
    pub(super) fn arrive(
        &mut self,
        now: Instant,
        t_ms: u64,
        method: &Method,
        path: String,
        window: Duration,
    ) -> u64 {
        self.total += 1;
        self.arrivals.push_back(now);
        while self
            .arrivals
            .front()
            .is_some_and(|t| now.duration_since(*t) >= window)
        {
            self.arrivals.pop_front();
        }
        self.max_in_window = self.max_in_window.max(self.arrivals.len() as u64);
        let n = self.next_request;
        self.next_request += 1;
        self.log.push(LoggedRequest {
            t_ms,
            method: method.to_string(),
            path,
            status: 0,
        });
        n
    }

    /// Forced 429s, then the sliding-window limit, then the fault draws.
    pub(super) fn decide(
        &mut self,
        now: Instant,
        limit: u32,
        window: Duration,
        is_write: bool,
    ) -> Verdict {
        if let Some(until) = self.force_until.filter(|u| *u > now) {
            return Verdict::Reject(ScimError::too_many(whole_secs(until - now)));
        }
        while self
            .admitted
            .front()
            .is_some_and(|t| now.duration_since(*t) >= window)
        {
            self.admitted.pop_front();
        }
        if self.admitted.len() >= limit as usize {
            let oldest = self.admitted.front().copied().unwrap_or(now);
            return Verdict::Reject(ScimError::too_many(whole_secs(oldest + window - now)));
        }
        self.admitted.push_back(now);
        if self.faults.error_rate > 0.0 && self.rng.random::<f64>() < self.faults.error_rate {
            return Verdict::Fail;
        }
        if self.faults.timeout_rate > 0.0 && self.rng.random::<f64>() < self.faults.timeout_rate {
            let apply = is_write && self.rng.random_bool(0.5);
            return Verdict::Hang {
                apply,
                for_: Duration::from_millis(self.faults.timeout_ms),
            };
        }
        Verdict::Handle
    }

    pub(super) fn complete(&mut self, request: u64, status: u16) {
        *self.by_status.entry(status.to_string()).or_insert(0) += 1;
        if let Some(entry) = request
            .checked_sub(self.log_base)
            .and_then(|i| self.log.get_mut(i as usize))
        {
            entry.status = status;
        }
    }
}

/// Seconds to wait, rounded up, at least 1.
fn whole_secs(d: Duration) -> u64 {
    (d.as_secs_f64().ceil() as u64).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn sliding_window_admits_limit_then_answers_retry_after_until_a_slot_frees() {
        let mut g = GateState::new(1);
        let window = Duration::from_secs(2);
        let start = Instant::now();
        for _ in 0..3 {
            assert_eq!(g.decide(start, 3, window, false), Verdict::Handle);
        }
        let later = start + Duration::from_millis(300);
        assert_eq!(
            g.decide(later, 3, window, false),
            Verdict::Reject(ScimError::too_many(2))
        );
        let later = start + Duration::from_millis(1_500);
        assert_eq!(
            g.decide(later, 3, window, false),
            Verdict::Reject(ScimError::too_many(1))
        );
        assert_eq!(g.decide(start + window, 3, window, false), Verdict::Handle);
    }

    #[tokio::test(start_paused = true)]
    async fn max_in_any_window_counts_every_arrival_exactly() {
        let mut g = GateState::new(1);
        let window = Duration::from_secs(1);
        let t0 = Instant::now();
        for ms in [0, 100, 900, 1_000, 1_050, 2_500] {
            g.arrive(
                t0 + Duration::from_millis(ms),
                ms,
                &Method::GET,
                "/".into(),
                window,
            );
        }
        // (0.05, 1.05] holds 100, 900, 1000, 1050.
        assert_eq!(g.stats(1, window).max_in_any_window, 4);
        assert_eq!(g.stats(1, window).total, 6);
    }
}
