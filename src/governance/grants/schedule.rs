//! The scheduler's loop: a step at once (grants that fell due while the gateway was stopped go
//! now), then each next step when the earliest grant falls due, and at least every second (a
//! grant made on another replica, or a claim another replica let lapse). A removal therefore
//! starts within a store read of its due time, and within 1 s at worst.

use std::time::Duration;

use super::Grants;
use crate::store::now_ms;

/// The longest pause between steps.
const MAX_PAUSE_MS: i64 = 1_000;

impl Grants {
    /// Runs steps at the clock's time until the task is dropped.
    pub async fn run_loop(self) {
        loop {
            let stepped_at = now_ms();
            match self.run_once(stepped_at).await {
                Ok(report) if report.claimed + report.warned + report.settled > 0 => {
                    tracing::info!(?report, "grant scheduler step");
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(
                    error = %e,
                    "the grant scheduler could not reach the store; trying again in a second"
                ),
            }
            let next = self.store.next_grant_due().await.ok().flatten();
            tokio::time::sleep(pause(stepped_at, next, now_ms())).await;
        }
    }
}

/// How long to sleep after a step at `stepped_at`, now `now`, the earliest due time `next`:
/// until `next` when it is ahead (a due time at or before the step was taken or is held
/// elsewhere: no sooner than a second), at most a second.
fn pause(stepped_at: i64, next: Option<i64>, now: i64) -> Duration {
    let until = match next {
        Some(due) if due > stepped_at => due.min(stepped_at + MAX_PAUSE_MS),
        _ => stepped_at + MAX_PAUSE_MS,
    };
    Duration::from_millis(until.saturating_sub(now).clamp(0, MAX_PAUSE_MS) as u64)
}

#[cfg(test)]
mod tests {
    use super::pause;
    use std::time::Duration;

    #[test]
    fn the_loop_wakes_at_the_next_due_time_and_at_least_every_second() {
        let ms = Duration::from_millis;
        // A grant due 300 ms after the step: woken then (less the step's own 20 ms).
        assert_eq!(pause(10_000, Some(10_300), 10_020), ms(280));
        // Nothing due, or due only in a minute: a second after the step.
        assert_eq!(pause(10_000, None, 10_020), ms(980));
        assert_eq!(pause(10_000, Some(70_000), 10_000), ms(1_000));
        // Due at or before the step (claimed elsewhere, or pending): not a busy loop.
        assert_eq!(pause(10_000, Some(9_000), 10_010), ms(990));
        // A step that took longer than its pause: the next one at once.
        assert_eq!(pause(10_000, Some(10_300), 10_500), ms(0));
    }
}
