//! Admission: how long a new call would wait for its slot, from what is queued now, the
//! limiter's state and a known pause; and the rule that shares releases between `write` and
//! `interactive` while both wait. Pure arithmetic, so the dispatcher and the estimate agree.

use std::time::Duration;

use tokio::time::Instant;

use super::Lane;

/// Who gets a release that `write` and `interactive` both want: a credit that grows by
/// `share` per contested release; `interactive` takes the release whenever the credit reaches
/// one. Over `n` contested releases `interactive` gets `⌊n·share⌋` or one more, `write` the
/// rest, so neither starves unless its share is zero. Returns the lane and the new credit.
pub(super) fn contested(credit: f64, share: f64) -> (Lane, f64) {
    let credit = credit + share;
    if credit >= 1.0 {
        (Lane::Interactive, credit - 1.0)
    } else {
        (Lane::Write, credit)
    }
}

/// Live calls waiting per lane, in `Lane::ALL` order, and the sharing credit: what the
/// dispatcher will serve, in the order it will serve it, until someone new arrives.
#[derive(Clone, Copy, Debug)]
pub(super) struct Line {
    pub(crate) queued: [usize; 4],
    pub(crate) credit: f64,
    pub(crate) share: f64,
}

impl Line {
    /// How many releases go before a call joining the back of `lane` now. `critical` goes
    /// strictly first; `write` and `interactive` alternate by [`contested`] while both wait;
    /// `background` goes last (its cap can only delay it further, so this is a lower bound).
    /// Calls that arrive later in a lane that goes ahead (a `critical`, or the other of
    /// `write`/`interactive` taking its share) can only lengthen the wait.
    pub(crate) fn releases_ahead(&self, lane: Lane) -> usize {
        let [critical, write, interactive, background] = self.queued;
        match lane {
            Lane::Critical => critical,
            Lane::Background => critical + write + interactive + background,
            Lane::Write | Lane::Interactive => {
                let (mut mine, mut other) = if lane == Lane::Write {
                    (write, interactive)
                } else {
                    (interactive, write)
                };
                let mut ahead = critical;
                let mut credit = self.credit;
                // Our call waits at the back of its lane, so its lane is never empty here: a
                // release is contested exactly while the other lane still has calls.
                while other > 0 {
                    let (winner, next) = contested(credit, self.share);
                    credit = next;
                    if winner == lane {
                        if mine == 0 {
                            return ahead;
                        }
                        mine -= 1;
                    } else {
                        other -= 1;
                    }
                    ahead += 1;
                }
                ahead + mine
            }
        }
    }
}

/// The GCRA's view of the future, mirrored from each release the dispatcher makes (governor
/// does not let one look without taking): a cell conforms at `now` when
/// `tat - (burst - 1)·T ≤ now`, and each release moves `tat` to `max(tat, now) + T`.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct Gcra {
    tat: Option<Instant>,
}

impl Gcra {
    pub(crate) fn released(&mut self, now: Instant, interval: Duration) {
        let from = self.tat.map_or(now, |t| t.max(now));
        self.tat = Some(from + interval);
    }

    /// When the limiter frees its slot for the `ahead`-th next release (0 = the next one),
    /// if nothing is released before `from` (now, or the end of a pause): `max(from,
    /// max(tat, from) + (ahead + 1 − burst)·T)`.
    pub(crate) fn slot_at(
        &self,
        from: Instant,
        ahead: usize,
        interval: Duration,
        burst: u32,
    ) -> Instant {
        let tat = self.tat.map_or(from, |t| t.max(from));
        let steps = ahead as i64 + 1 - i64::from(burst.max(1));
        let at = if steps >= 0 {
            tat + interval * steps as u32
        } else {
            tat.checked_sub(interval * steps.unsigned_abs() as u32)
                .unwrap_or(from)
        };
        at.max(from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(queued: [usize; 4], share: f64) -> Line {
        Line {
            queued,
            credit: 0.0,
            share,
        }
    }

    #[test]
    fn half_share_alternates_and_zero_or_one_means_strict_order() {
        let mut credit = 0.0;
        let order: Vec<_> = (0..6)
            .map(|_| {
                let (lane, next) = contested(credit, 0.5);
                credit = next;
                lane
            })
            .collect();
        use Lane::{Interactive as I, Write as W};
        assert_eq!(order, [W, I, W, I, W, I]);
        assert_eq!(contested(0.0, 0.0).0, W);
        assert_eq!(contested(0.0, 1.0).0, I);
    }

    #[test]
    fn releases_ahead_follow_the_lanes_and_the_share() {
        // Two critical go first in every lane.
        assert_eq!(line([2, 0, 0, 0], 0.5).releases_ahead(Lane::Critical), 2);
        // 10 writes and 4 reads at half share: W I W I W I W I, then ours (the 5th read)
        // comes after one more write: 2 + 9.
        assert_eq!(
            line([2, 10, 4, 0], 0.5).releases_ahead(Lane::Interactive),
            11
        );
        // Writes strictly first (share 0): the read waits for all of them.
        assert_eq!(
            line([0, 10, 4, 0], 0.0).releases_ahead(Lane::Interactive),
            14
        );
        // Reads strictly first (share 1): a write waits for every read.
        assert_eq!(line([0, 3, 4, 0], 1.0).releases_ahead(Lane::Write), 7);
        // Uncontested: just the calls ahead in the lane.
        assert_eq!(line([1, 0, 4, 9], 0.5).releases_ahead(Lane::Interactive), 5);
        assert_eq!(line([1, 2, 3, 4], 0.5).releases_ahead(Lane::Background), 10);
    }

    #[test]
    fn slots_follow_the_gcra() {
        let t = Duration::from_millis(100);
        let now = Instant::now();
        let mut gcra = Gcra::default();
        // Idle, burst 2: two at once, then one per T.
        assert_eq!(gcra.slot_at(now, 0, t, 2), now);
        assert_eq!(gcra.slot_at(now, 1, t, 2), now);
        assert_eq!(gcra.slot_at(now, 2, t, 2), now + t);
        gcra.released(now, t);
        gcra.released(now, t);
        assert_eq!(gcra.slot_at(now, 0, t, 2), now + t);
        assert_eq!(gcra.slot_at(now, 3, t, 2), now + t * 4);
        // After a pause ending later than the limiter's next slot, the pause decides.
        let later = now + Duration::from_secs(5);
        assert_eq!(gcra.slot_at(later, 0, t, 2), later);
        assert_eq!(gcra.slot_at(later, 2, t, 2), later + t);
    }
}
