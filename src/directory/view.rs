//! What the layers above see of the SCIM profile and the budget, as the directory's own types:
//! callers of the directory never name `scim` or `budget`.

use std::time::{Duration, SystemTime};

use crate::budget::BudgetSnapshot;
use crate::scim::Profile;

/// The SCIM dialect an organization's upstream speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Dialect {
    /// Amplitude's SCIM 2.0 API, with its quirks.
    Amplitude,
    /// Plain RFC 7644.
    Rfc7644,
}

impl From<Profile> for Dialect {
    fn from(p: Profile) -> Dialect {
        match p {
            Profile::Amplitude => Dialect::Amplitude,
            Profile::Rfc7644 => Dialect::Rfc7644,
        }
    }
}

impl From<Dialect> for Profile {
    fn from(d: Dialect) -> Profile {
        match d {
            Dialect::Amplitude => Profile::Amplitude,
            Dialect::Rfc7644 => Profile::Rfc7644,
        }
    }
}

/// An organization's upstream budget, now. Per-lane arrays are in priority order: critical,
/// write, interactive, background.
#[derive(Clone, Debug)]
pub(crate) struct BudgetView {
    pub(crate) limit: u32,
    pub(crate) window: Duration,
    /// Requests released in the last `window`.
    pub(crate) used_in_window: u32,
    pub(crate) remaining: u32,
    /// Calls waiting per lane.
    pub(crate) queued: [usize; 4],
    /// Calls refused by admission since start, per lane.
    pub(crate) refused: [u64; 4],
    /// What a new call in each lane would expect to wait now.
    pub(crate) expected_wait: [Duration; 4],
    pub(crate) max_queue_wait: Duration,
    pub(crate) max_queued: u32,
    pub(crate) interactive_share: f64,
    pub(crate) paused_until: Option<SystemTime>,
    pub(crate) credential_revoked: bool,
    /// One request per this once the burst is spent.
    pub(crate) emission_interval: Duration,
}

impl BudgetView {
    pub(super) fn new(s: BudgetSnapshot, emission_interval: Duration) -> BudgetView {
        BudgetView {
            limit: s.limit,
            window: s.window,
            used_in_window: s.used_in_window,
            remaining: s.remaining,
            queued: s.queued,
            refused: s.refused,
            expected_wait: s.expected_wait,
            max_queue_wait: s.max_queue_wait,
            max_queued: s.max_queued,
            interactive_share: s.interactive_share,
            paused_until: s.paused_until,
            credential_revoked: s.credential_revoked,
            emission_interval,
        }
    }
}
