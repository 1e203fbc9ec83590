//! Expiry warnings: a grant emits one `grant.expiring` event as its end comes within each of
//! `grants.warn_before`'s offsets (24 h and 1 h by default), for the events log, subscriptions
//! and webhooks. An offset applies to grants that last longer than it (a 2-hour grant warns an
//! hour before its end, not at once for "24 hours"; a 30-minute grant does not warn); a step
//! that finds several offsets passed (the gateway was stopped) emits one, for the nearest. An
//! extension starts the warnings again for the new end; a revocation ends them.

use super::{Grants, RunReport};
use crate::store::StoreError;

/// The offsets (largest first) that apply to a grant from `granted_ms` to `expires_ms`, and
/// how many of them its end has come within at `now_ms`.
pub(super) fn passed(
    offsets: &[i64],
    granted_ms: i64,
    expires_ms: i64,
    now_ms: i64,
) -> (Vec<i64>, i64) {
    let lasts = expires_ms.saturating_sub(granted_ms);
    let applies: Vec<i64> = offsets.iter().copied().filter(|&t| t < lasts).collect();
    let left = expires_ms.saturating_sub(now_ms);
    let reached = applies.iter().filter(|&&t| left <= t).count() as i64;
    (applies, reached)
}

impl Grants {
    /// Emits the warnings due at `now_ms`; each once, across replicas (a conditional update
    /// with its event in one transaction).
    pub(super) async fn warn_expiring(
        &self,
        now_ms: i64,
        report: &mut RunReport,
    ) -> Result<(), StoreError> {
        let Some(&largest) = self.warn_before.first() else {
            return Ok(());
        };
        let all = self.warn_before.len() as i64;
        let due = self
            .store
            .grants_to_warn(now_ms, now_ms.saturating_add(largest), all)
            .await?;
        for (grant, warned) in due {
            let (applies, reached) = passed(
                &self.warn_before,
                grant.granted_ms,
                grant.expires_ms,
                now_ms,
            );
            if reached <= warned {
                continue;
            }
            let offset = applies[(reached - 1) as usize];
            let data = serde_json::json!({
                "warnBeforeMs": offset,
                "remainingMs": grant.expires_ms.saturating_sub(now_ms),
                "standing": grant.standing,
            });
            if self
                .store
                .warn_grant(&grant.id, warned, reached, now_ms, data)
                .await?
            {
                report.warned += 1;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::passed;

    const DAY: i64 = 86_400_000;
    const HOUR: i64 = 3_600_000;

    #[test]
    fn an_end_passes_each_offset_once_it_is_within_it() {
        let offsets = [DAY, HOUR];
        let end = 10 * DAY;
        let reached = |now| passed(&offsets, end - 2 * DAY, end, now).1;
        assert_eq!(reached(end - DAY - 1), 0);
        assert_eq!(reached(end - DAY), 1);
        assert_eq!(reached(end - HOUR - 1), 1);
        assert_eq!(reached(end - HOUR), 2);
        assert_eq!(reached(end + 5), 2);
        assert_eq!(passed(&[], 0, end, end), (vec![], 0));
    }

    #[test]
    fn an_offset_applies_only_to_grants_that_last_longer_than_it() {
        let offsets = [DAY, HOUR];
        // Two hours: only the hour's warning, an hour before the end.
        assert_eq!(passed(&offsets, 0, 2 * HOUR, 0), (vec![HOUR], 0));
        assert_eq!(passed(&offsets, 0, 2 * HOUR, HOUR), (vec![HOUR], 1));
        // Thirty minutes, or exactly an hour: none.
        assert_eq!(passed(&offsets, 0, HOUR / 2, 0), (vec![], 0));
        assert_eq!(passed(&offsets, 0, HOUR, 0), (vec![], 0));
    }
}
