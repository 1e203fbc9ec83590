//! Pending grants a stopped process left: recorded, their add perhaps sent, never confirmed.
//! Two minutes on (an add takes seconds), the scheduler settles each by reading the group,
//! never by sending the add again: the member is there → `ACTIVE` (and it ends on time like
//! any other); not there → `FAILED`, nothing granted. A read that fails is tried again later.

use super::expiry::{LEASE_MS, backoff_ms};
use super::{Grants, RunReport};
use crate::directory::WriteLane;
use crate::keys::GroupId;
use crate::store::{GrantState, StoreError};

const BATCH: i64 = 100;

impl Grants {
    /// Settles the stale pending grants due at `now_ms`.
    pub(super) async fn settle_pending(
        &self,
        now_ms: i64,
        report: &mut RunReport,
    ) -> Result<(), StoreError> {
        let stale = self
            .store
            .claim_stale_pending(now_ms, now_ms.saturating_add(LEASE_MS), BATCH)
            .await?;
        for grant in stale {
            let Some(dir) = self.dirs.get(grant.org.as_str()) else {
                self.store
                    .defer_grant(&grant.id, now_ms.saturating_add(backoff_ms(20)))
                    .await?;
                continue;
            };
            let user = dir.user_key(&grant.user_key);
            let read = dir
                .group_now(&GroupId::new(grant.group_id.clone()), WriteLane::Write)
                .await;
            let (to, note) = match read {
                Ok(Some(g)) if g.member_keys.contains(user.as_str()) => (
                    GrantState::Active,
                    "the gateway stopped before the add was confirmed; a read found the member there",
                ),
                Ok(_) => (
                    GrantState::Failed,
                    "the gateway stopped before the add was confirmed; a read found the user not a member: nothing was granted",
                ),
                Err(e) => {
                    tracing::warn!(grant = %grant.id, error = %e, "a pending grant could not be settled; trying again");
                    let next = now_ms.saturating_add(backoff_ms(grant.attempts + 1));
                    self.store.defer_grant(&grant.id, next).await?;
                    continue;
                }
            };
            if self
                .store
                .transition_grant(
                    &grant.id,
                    GrantState::Pending,
                    to,
                    now_ms,
                    None,
                    note,
                    "system",
                )
                .await?
            {
                report.settled += 1;
            }
        }
        Ok(())
    }
}
