//! The budget's settings and the arithmetic that turns them into a GCRA quota.

use std::num::NonZeroU32;
use std::time::Duration;

use governor::Quota;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BudgetConfig {
    /// Requests allowed in any sliding `window` (default 90: Amplitude allows 100 per minute and
    /// the customer's identity provider needs the rest).
    pub limit: u32,
    #[serde(with = "humantime_serde")]
    pub window: Duration,
    /// Requests that may go out back to back when the budget is idle (default 2: on a cold load
    /// the group list follows the first user page at once). A larger burst lowers the sustained
    /// rate, since burst − 1 + window / T must stay ≤ limit.
    pub burst: u32,
    /// The most of the window the background lane may use (0.0 to 1.0, default 0.5).
    pub background_share: f64,
    /// Added to the window when computing the rate, so that requests released exactly one
    /// window apart never arrive inside one window at the upstream (default: 5% of the window,
    /// at least 50 ms, at most 2 s).
    #[serde(default, with = "humantime_serde")]
    pub guard: Option<Duration>,
    /// The longest a `write` or `interactive` call may expect to wait for its slot; a call
    /// expected to wait longer is refused at once with `RATE_LIMITED` and the wait as its
    /// `retryAfter` (default 10 s; 0 refuses every such call that cannot go out now).
    #[serde(with = "humantime_serde")]
    pub max_queue_wait: Duration,
    /// The most calls one lane may hold waiting; a call over it is refused like one that would
    /// wait too long (default 1,000). `critical` is never refused.
    pub max_queued: u32,
    /// The share of releases `interactive` gets while `write` waits too (0.0 to 1.0, default
    /// 0.5); `write` gets the rest. With 0.0 writes go strictly first, as with 1.0 reads do.
    pub interactive_share: f64,
}

impl Default for BudgetConfig {
    fn default() -> Self {
        BudgetConfig {
            limit: 90,
            window: Duration::from_secs(60),
            burst: 2,
            background_share: 0.5,
            guard: None,
            max_queue_wait: Duration::from_secs(10),
            max_queued: 1_000,
            interactive_share: 0.5,
        }
    }
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ConfigError {
    #[error("budget limit must be at least 1")]
    ZeroLimit,
    #[error("budget window must be longer than zero")]
    ZeroWindow,
    #[error("budget burst must be between 1 and the limit ({limit}), got {burst}")]
    Burst { burst: u32, limit: u32 },
    #[error("background_share must be between 0.0 and 1.0, got {0}")]
    Share(f64),
    #[error("interactive_share must be between 0.0 and 1.0, got {0}")]
    InteractiveShare(f64),
    #[error("max_queued must be at least 1")]
    ZeroQueue,
}

impl BudgetConfig {
    pub fn new(limit: u32, window: Duration) -> BudgetConfig {
        BudgetConfig {
            limit,
            window,
            ..BudgetConfig::default()
        }
    }

    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        if self.limit == 0 {
            return Err(ConfigError::ZeroLimit);
        }
        if self.window.is_zero() {
            return Err(ConfigError::ZeroWindow);
        }
        if self.burst == 0 || self.burst > self.limit {
            return Err(ConfigError::Burst {
                burst: self.burst,
                limit: self.limit,
            });
        }
        if !(0.0..=1.0).contains(&self.background_share) {
            return Err(ConfigError::Share(self.background_share));
        }
        if !(0.0..=1.0).contains(&self.interactive_share) {
            return Err(ConfigError::InteractiveShare(self.interactive_share));
        }
        if self.max_queued == 0 {
            return Err(ConfigError::ZeroQueue);
        }
        Ok(())
    }

    pub(crate) fn guard(&self) -> Duration {
        self.guard.unwrap_or_else(|| {
            self.window
                .mul_f64(0.05)
                .clamp(Duration::from_millis(50), Duration::from_secs(2))
        })
    }

    /// The window the limiter actually enforces: the configured one plus the guard.
    pub(crate) fn effective_window(&self) -> Duration {
        self.window + self.guard()
    }

    /// The emission interval T: one request per T once the burst is spent.
    pub fn emission_interval(&self) -> Duration {
        let slots = self.limit.saturating_sub(self.burst.max(1)) + 1;
        self.effective_window() / slots.max(1)
    }

    /// The most background releases allowed in one effective window (at least one when the
    /// share is above zero).
    pub(crate) fn background_cap(&self) -> u32 {
        if self.background_share <= 0.0 {
            return 0;
        }
        ((self.limit as f64 * self.background_share).floor() as u32).max(1)
    }

    pub(super) fn quota(&self) -> Quota {
        let burst =
            NonZeroU32::new(self.burst.clamp(1, self.limit.max(1))).unwrap_or(NonZeroU32::MIN);
        Quota::with_period(self.emission_interval().max(Duration::from_nanos(1)))
            .expect("the period is never zero")
            .allow_burst(burst)
    }
}
