//! `Budget` and `SyncStatus`: what an organization's upstream allowance and mirror look like now.

use std::time::Duration;

use async_graphql::{Enum, Object, SimpleObject};

use super::DateTime;
use crate::directory::{self, BudgetView, MirrorState};

/// The organization's upstream request budget. The gateway never sends more than `limit`
/// requests in any `windowSeconds`; critical writes go first, background refresh last.
pub struct Budget {
    pub snapshot: BudgetView,
}

/// Calls per lane: waiting for the budget (`queuedByLane`) or refused by it (`refusedByLane`).
#[derive(SimpleObject)]
pub struct LaneQueue {
    /// Revocations: deactivate, delete, remove from group.
    pub critical: i32,
    /// Other writes.
    pub write: i32,
    /// Reads a client is waiting for.
    pub interactive: i32,
    /// Mirror refresh.
    pub background: i32,
}

/// A duration in milliseconds per lane.
#[derive(SimpleObject)]
pub struct LaneWait {
    /// Revocations: deactivate, delete, remove from group.
    pub critical: f64,
    /// Other writes.
    pub write: f64,
    /// Reads a client is waiting for.
    pub interactive: f64,
    /// Mirror refresh.
    pub background: f64,
}

/// The organization's upstream request budget. The gateway never sends more than `limit`
/// requests in any `windowSeconds`; critical writes go first, background refresh last.
#[Object]
impl Budget {
    /// Requests allowed in any sliding window.
    async fn limit(&self) -> i32 {
        self.snapshot.limit as i32
    }

    /// The window's length in seconds.
    async fn window_seconds(&self) -> f64 {
        self.snapshot.window.as_secs_f64()
    }

    /// Requests sent in the last window.
    async fn used_in_window(&self) -> i32 {
        self.snapshot.used_in_window as i32
    }

    /// Requests that could still be sent in the current window.
    async fn remaining(&self) -> i32 {
        self.snapshot.remaining as i32
    }

    /// Calls waiting for the budget, all lanes together.
    async fn queued(&self) -> i32 {
        self.snapshot.queued.iter().sum::<usize>() as i32
    }

    /// Calls waiting for the budget, per lane.
    async fn queued_by_lane(&self) -> LaneQueue {
        let q = self.snapshot.queued;
        LaneQueue {
            critical: q[0] as i32,
            write: q[1] as i32,
            interactive: q[2] as i32,
            background: q[3] as i32,
        }
    }

    /// Calls refused at once with `RATE_LIMITED` since the gateway started, all lanes
    /// together: they would have waited longer than `maxQueueWaitSeconds`, or found their lane
    /// holding `maxQueued` calls. Nothing of theirs was sent upstream.
    async fn refused(&self) -> i32 {
        let total: u64 = self.snapshot.refused.iter().sum();
        total.min(i32::MAX as u64) as i32
    }

    /// Calls refused since the gateway started, per lane. `critical` calls are never refused.
    async fn refused_by_lane(&self) -> LaneQueue {
        let r = self.snapshot.refused.map(|n| n.min(i32::MAX as u64) as i32);
        LaneQueue {
            critical: r[0],
            write: r[1],
            interactive: r[2],
            background: r[3],
        }
    }

    /// The longest a `write` or `interactive` call may expect to wait for its slot before it
    /// is refused with `RATE_LIMITED`; 0 refuses every such call that cannot go out at once.
    /// The expected wait counts the calls ahead of it (all `critical` ones, its share of
    /// `write` and `interactive`, its own lane), the limiter's next free slot and a pause the
    /// upstream asked for.
    async fn max_queue_wait_seconds(&self) -> f64 {
        self.snapshot.max_queue_wait.as_secs_f64()
    }

    /// The most calls one lane may hold waiting; one more is refused with `RATE_LIMITED`.
    async fn max_queued(&self) -> i32 {
        self.snapshot.max_queued.min(i32::MAX as u32) as i32
    }

    /// What a new call would expect to wait now, in milliseconds, per lane (what is queued
    /// now; later `critical` calls can add to it).
    async fn expected_wait_ms(&self) -> LaneWait {
        let w = self
            .snapshot
            .expected_wait
            .map(|d| d.as_secs_f64() * 1000.0);
        LaneWait {
            critical: w[0],
            write: w[1],
            interactive: w[2],
            background: w[3],
        }
    }

    /// The least share of releases `interactive` gets while `write` waits too (0 to 1);
    /// `write` gets the rest. `critical` always goes first; `background` takes what is left.
    async fn interactive_share(&self) -> f64 {
        self.snapshot.interactive_share
    }

    /// The steady spacing between requests, in milliseconds, once the burst is spent.
    async fn emission_interval_ms(&self) -> f64 {
        self.snapshot.emission_interval.as_secs_f64() * 1000.0
    }

    /// Until when every call is held because the upstream answered 429, if it did.
    async fn paused_until(&self) -> Option<DateTime> {
        self.snapshot.paused_until.map(DateTime)
    }

    /// Whether the upstream rejected the organization's SCIM key (401). Calls stay stopped
    /// until the configuration changes.
    async fn credential_revoked(&self) -> bool {
        self.snapshot.credential_revoked
    }
}

/// How a refresh read the directory.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum RefreshKind {
    /// Every user and group; finds deletions.
    Full,
    /// Only the users and groups modified since the previous refresh began
    /// (`meta.lastModified`); deletions wait for the next full refresh.
    Incremental,
}

/// The state of an organization's mirror.
pub struct SyncStatus {
    pub state: MirrorState,
    pub max_age: Duration,
}

/// The state of an organization's mirror: the in-memory copy of its directory that reads
/// are served from.
#[Object]
impl SyncStatus {
    /// When the last successful refresh (full or incremental) finished.
    async fn last_refresh_at(&self) -> Option<DateTime> {
        self.state.last_refresh_at.map(DateTime)
    }

    /// Whether the last successful refresh read everything or only what changed.
    async fn last_refresh_kind(&self) -> Option<RefreshKind> {
        self.state.last_refresh_kind.map(|k| match k {
            directory::RefreshKind::Full => RefreshKind::Full,
            directory::RefreshKind::Incremental => RefreshKind::Incremental,
        })
    }

    /// When the last successful full refresh finished: the mirror has seen every deletion made
    /// upstream before then.
    async fn last_full_refresh_at(&self) -> Option<DateTime> {
        self.state.last_full_refresh_at.map(DateTime)
    }

    /// Whether refreshes read only what changed since the previous one: the service lists
    /// changes (RFC 7644 filtering, resources with `meta.lastModified`; never on Amplitude)
    /// and a full refresh has run. Full ones still run every `mirror.full_refresh_every`.
    async fn incremental(&self) -> bool {
        self.state.changes_since.is_some()
    }

    /// Whether a refresh is running now.
    async fn refreshing(&self) -> bool {
        self.state.refreshing
    }

    /// Whether the mirror holds the whole directory (false until the first load finishes).
    async fn complete(&self) -> bool {
        self.state.snapshot.complete
    }

    /// Users in the mirror.
    async fn user_count(&self) -> i32 {
        self.state.snapshot.user_count() as i32
    }

    /// Groups in the mirror.
    async fn group_count(&self) -> i32 {
        self.state.snapshot.group_count() as i32
    }

    /// Upstream calls the last refresh made (`ceil(users/100) + ceil(groups/100)` when nothing failed).
    async fn last_refresh_calls(&self) -> i32 {
        self.state.last_refresh_calls as i32
    }

    /// Why the last refresh failed, if it did (the mirror keeps the previous data).
    async fn last_error(&self) -> Option<String> {
        self.state.last_error.as_ref().map(|e| e.to_string())
    }

    /// Refreshes that failed in a row since the last one that succeeded (0 when the last one
    /// succeeded). The mirror keeps serving its previous data meanwhile.
    async fn refresh_failures(&self) -> i32 {
        self.state.refresh_failures as i32
    }

    /// When a refresh last failed or the background refresh task last stopped, if ever.
    async fn last_failure_at(&self) -> Option<DateTime> {
        self.state.last_failure_at.map(DateTime)
    }

    /// Times the background refresh task stopped unexpectedly and was started again (with a
    /// pause that doubles from 1 to 60 seconds) since the gateway started.
    async fn restarts(&self) -> i32 {
        self.state.restarts as i32
    }

    /// The mirror is refreshed when older than this many seconds.
    async fn max_age_seconds(&self) -> f64 {
        self.max_age.as_secs_f64()
    }
}
