//! The scheduler's step: due grants are claimed (leased, so one replica handles each), sorted
//! into those whose membership stays (standing access, a longer overlapping grant, already
//! gone: which the upstream confirms when the mirror says so, as the mirror may be behind
//! another replica's write) and those to remove, and the removals go as one PATCH per group in
//! the critical lane, the groups' PATCHes queued together: 1,000 grants due in a minute on a few
//! groups cost a few requests, not 1,000.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Instant;

use futures_util::future::join_all;

use super::{Grants, RunReport};
use crate::directory::{Directory, GroupRec, WriteError, WriteLane};
use crate::keys::{GroupId, UserKey};
use crate::store::{AuditRecord, Grant, GrantState, StoreError, Target};

/// Grants taken per claim; `run_once` claims again until a claim comes back short.
const BATCH: i64 = 500;
/// How long a replica holds a due grant it took: longer than a removal can take.
pub(super) const LEASE_MS: i64 = 60_000;

/// The pause before removal attempt `attempts + 1`: 1 s, doubling, at most 5 minutes.
pub fn backoff_ms(attempts: i64) -> i64 {
    let exp = attempts.clamp(1, 20) - 1;
    (1_000_i64 << exp).min(300_000)
}

/// How a grant's end went.
enum Ended {
    Removed,
    Kept(String),
    AlreadyGone(String),
    Failed(WriteError),
}

/// One group's removal: its directory, the grants it ends (places in the claimed batch), and
/// the members to remove.
struct Removal {
    dir: Directory,
    grants: Vec<usize>,
    users: Vec<UserKey>,
}

/// Groups read from the upstream in one step, by organization and id.
type Fresh = HashMap<(String, String), Option<Arc<GroupRec>>>;

/// What a due grant needs: nothing upstream (it ended already), or its member removed.
enum Plan {
    Done(Ended),
    Remove(Directory, GroupId, UserKey),
}

impl Grants {
    /// One scheduler step at `now_ms`: expiry warnings, pending grants a stopped process left
    /// settled by reading, then every active grant due is taken and ended.
    pub async fn run_once(&self, now_ms: i64) -> Result<RunReport, StoreError> {
        let mut report = RunReport::default();
        self.warn_expiring(now_ms, &mut report).await?;
        self.settle_pending(now_ms, &mut report).await?;
        loop {
            let batch = self
                .store
                .claim_due_grants(now_ms, now_ms.saturating_add(LEASE_MS), BATCH)
                .await?;
            report.claimed += batch.len() as u32;
            self.end_all(&batch, now_ms, "system", &mut report).await?;
            if (batch.len() as i64) < BATCH {
                return Ok(report);
            }
        }
    }

    /// Ends claimed grants (`actor` in their events: `system` at expiry, the revoker's key);
    /// for each, the upstream's failure if its removal failed.
    pub(super) async fn end_all(
        &self,
        grants: &[Grant],
        now_ms: i64,
        actor: &str,
        report: &mut RunReport,
    ) -> Result<Vec<Option<WriteError>>, StoreError> {
        let started = Instant::now();
        let mut ended: Vec<Option<(Ended, i64)>> = Vec::with_capacity(grants.len());
        // By organization and group: the grants (their places in `grants`) and the members.
        let mut removals: BTreeMap<(String, String), Removal> = BTreeMap::new();
        let mut fresh = Fresh::new();
        for (i, grant) in grants.iter().enumerate() {
            match self.plan(grant, now_ms, &mut fresh).await? {
                Plan::Done(end) => ended.push(Some((end, elapsed_ms(started)))),
                Plan::Remove(dir, group, user) => {
                    ended.push(None);
                    let entry = removals
                        .entry((grant.org.clone(), group.as_str().to_owned()))
                        .or_insert_with(|| Removal {
                            dir,
                            grants: Vec::new(),
                            users: Vec::new(),
                        });
                    entry.grants.push(i);
                    if !entry.users.contains(&user) {
                        entry.users.push(user);
                    }
                }
            }
        }
        let sent = join_all(removals.into_iter().map(|((_, group), r)| async move {
            let answer = r
                .dir
                .remove_members(&GroupId::new(group), &r.users, WriteLane::Critical)
                .await;
            (r.grants, answer, elapsed_ms(started))
        }))
        .await;
        for (at, answer, elapsed) in sent {
            for i in at {
                let end = match &answer {
                    Ok(_) => Ended::Removed,
                    Err(WriteError::NotFound) => {
                        Ended::AlreadyGone("the group no longer exists".into())
                    }
                    Err(e) => Ended::Failed(e.clone()),
                };
                ended[i] = Some((end, elapsed));
            }
        }
        let mut failures = Vec::with_capacity(grants.len());
        for (grant, end) in grants.iter().zip(ended) {
            let (end, elapsed) = end.unwrap_or_else(|| {
                let reason = "the removal was not attempted".to_owned();
                (Ended::Failed(WriteError::Unknown { reason }), 0)
            });
            let at = (now_ms, elapsed);
            failures.push(self.record(grant, end, at, actor, report).await?);
        }
        Ok(failures)
    }

    /// Records how one grant's end went: its state, lag, audit row (and its retry when the
    /// removal failed).
    /// `(now_ms, elapsed)`: the step's time and how long after it the answer came.
    async fn record(
        &self,
        grant: &Grant,
        ended: Ended,
        (now_ms, elapsed): (i64, i64),
        actor: &str,
        report: &mut RunReport,
    ) -> Result<Option<WriteError>, StoreError> {
        let lag = now_ms.saturating_sub(grant.expires_ms).max(0) + elapsed;
        let at = now_ms.saturating_add(elapsed);
        let (note, error) = match ended {
            Ended::Removed => {
                report.removed += 1;
                ("membership removed".to_owned(), None)
            }
            Ended::Kept(why) => {
                report.kept += 1;
                (format!("membership kept: {why}"), None)
            }
            Ended::AlreadyGone(why) => {
                report.already_removed += 1;
                (format!("nothing to remove: {why}"), None)
            }
            Ended::Failed(e) => {
                report.failed += 1;
                let attempts = grant.attempts + 1;
                let next = at.saturating_add(backoff_ms(attempts));
                let text = e.to_string();
                self.store.grant_retry(&grant.id, at, next, &text).await?;
                let note = format!("removal failed (attempt {attempts}): {text}");
                self.audit(grant, "FAILED", &note, None).await?;
                return Ok(Some(e));
            }
        };
        // `grant.state`: a pending grant a stopped process left ends from where it is.
        self.store
            .transition_grant(
                &grant.id,
                grant.state,
                grant.end_as,
                at,
                Some(lag),
                &note,
                actor,
            )
            .await?;
        self.audit(grant, "SUCCESS", &note, Some(lag)).await?;
        let end = match grant.end_as {
            GrantState::Revoked => "revoked",
            _ => "expired",
        };
        let lag = std::time::Duration::from_millis(u64::try_from(lag).unwrap_or(0));
        crate::metrics::grant_ended(&grant.org, end, lag);
        Ok(error)
    }

    /// Whether the grant's membership is the grant's to remove, and how. `fresh`: groups read
    /// from the upstream in this step, by organization and id.
    async fn plan(
        &self,
        grant: &Grant,
        now_ms: i64,
        fresh: &mut Fresh,
    ) -> Result<Plan, StoreError> {
        if grant.standing {
            let why = "standing access (a member before the grant)";
            return Ok(Plan::Done(Ended::Kept(why.into())));
        }
        let others = self
            .store
            .active_grants_for(
                &grant.org,
                &grant.user_key,
                &grant.group_id,
                Some(&grant.id),
            )
            .await?;
        if let Some(longer) = others
            .iter()
            .filter(|o| o.standing || o.expires_ms > now_ms)
            .max_by_key(|o| o.expires_ms)
        {
            return Ok(Plan::Done(Ended::Kept(format!(
                "grant {} holds it until {}",
                longer.id, longer.expires_ms
            ))));
        }
        let Some(dir) = self.dirs.get(grant.org.as_str()) else {
            return Ok(Plan::Done(Ended::Failed(WriteError::Unknown {
                reason: format!("the organization {:?} is not configured", grant.org),
            })));
        };
        let group = GroupId::new(grant.group_id.clone());
        let user = dir.user_key(&grant.user_key);
        let mirrored = match dir.group(&group).await {
            Ok(g) => g,
            Err(e) => return Ok(Plan::Done(Ended::Failed(WriteError::NotApplied(e)))),
        };
        if mirrored
            .as_ref()
            .is_some_and(|g| g.member_keys.contains(user.as_str()))
        {
            return Ok(Plan::Remove(dir.clone(), group, user));
        }
        // The mirror says there is nothing to remove; it may be behind (another replica
        // added the member, or a refresh is due), so the upstream decides.
        let key = (grant.org.clone(), grant.group_id.clone());
        let now = match fresh.get(&key) {
            Some(g) => g.clone(),
            None => match dir.group_now(&group, WriteLane::Critical).await {
                Ok(g) => {
                    fresh.insert(key, g.clone());
                    g
                }
                Err(e) => return Ok(Plan::Done(Ended::Failed(WriteError::NotApplied(e)))),
            },
        };
        Ok(match now {
            Some(g) if g.member_keys.contains(user.as_str()) => {
                Plan::Remove(dir.clone(), group, user)
            }
            Some(_) => Plan::Done(Ended::AlreadyGone("the user was no longer a member".into())),
            None => Plan::Done(Ended::AlreadyGone("the group no longer exists".into())),
        })
    }

    async fn audit(
        &self,
        grant: &Grant,
        outcome: &str,
        note: &str,
        lag_ms: Option<i64>,
    ) -> Result<(), StoreError> {
        let action = match grant.end_as {
            GrantState::Revoked => "grant.revoke",
            _ => "grant.expire",
        };
        let input = serde_json::json!({
            "grant": grant.id,
            "expiresAt": grant.expires_ms,
            "note": note,
            "lagMs": lag_ms,
        });
        self.store
            .append_audit(&AuditRecord {
                actor: "system".into(),
                role: "system".into(),
                org: grant.org.clone(),
                action: action.into(),
                targets: vec![
                    Target {
                        kind: "user".into(),
                        id: grant.user_key.clone(),
                        email: Some(grant.user_email.clone()),
                    },
                    Target {
                        kind: "group".into(),
                        id: grant.group_id.clone(),
                        email: None,
                    },
                ],
                input: input.to_string(),
                outcome: outcome.into(),
                ..AuditRecord::default()
            })
            .await
            .map(|_| ())
    }
}

fn elapsed_ms(since: Instant) -> i64 {
    i64::try_from(since.elapsed().as_millis()).unwrap_or(i64::MAX)
}
