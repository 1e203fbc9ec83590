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
}

impl Default for BudgetConfig {
    fn default() -> Self {
        BudgetConfig {
            limit: 90,
            window: Duration::from_secs(60),
            burst: 2,
            background_share: 0.5,
            guard: None,
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
}

impl BudgetConfig {
    pub fn new(limit: u32, window: Duration) -> BudgetConfig {
        BudgetConfig {
            limit,
            window,
            ..BudgetConfig::default()
        }
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
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
        Ok(())
    }

    pub fn guard(&self) -> Duration {
        self.guard.unwrap_or_else(|| {
            self.window
                .mul_f64(0.05)
                .clamp(Duration::from_millis(50), Duration::from_secs(2))
        })
    }

    /// The window the limiter actually enforces: the configured one plus the guard.
    pub fn effective_window(&self) -> Duration {
        self.window + self.guard()
    }

    /// The emission interval T: one request per T once the burst is spent.
    pub fn emission_interval(&self) -> Duration {
        let slots = self.limit.saturating_sub(self.burst.max(1)) + 1;
        self.effective_window() / slots.max(1)
    }

    /// The most background releases allowed in one effective window (at least one when the
    /// share is above zero).
    pub fn background_cap(&self) -> u32 {
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
