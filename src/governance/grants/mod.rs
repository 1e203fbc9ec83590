//! Time-bound group access. A grant adds a user to a group (write lane) until its end; at the
//! end the scheduler removes the membership (critical lane) unless the grant found it there
//! already (standing access) or another active grant of the same user and group lasts longer.
//! A failed removal keeps the grant active and overdue, tried again with doubling backoff.

mod expiry;
mod schedule;
mod settle;
mod warnings;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use crate::directory::{Directories, Directory, GroupRec, WriteError, WriteLane};
use crate::keys::{GroupId, UserKey};
use crate::store::{Grant, GrantState, NewGrant, Store, StoreError};

use expiry::LEASE_MS;
pub use expiry::backoff_ms;

/// The grants service: the directories to change and the store that remembers.
#[derive(Clone)]
pub struct Grants {
    dirs: Directories,
    store: Store,
    max_ms: i64,
    /// Shorter maximums by lower-cased group display name: (the name as configured, ms).
    group_max: HashMap<String, (String, i64)>,
    /// How long before its end a grant warns (`grant.expiring`), largest first, in ms.
    warn_before: Vec<i64>,
}

/// Why a grant, revocation or extension did not happen.
#[derive(Debug, thiserror::Error)]
pub enum GrantError {
    /// Longer than `grants.max_duration`, or than the group's own maximum (`group`).
    #[error("a grant {}may last at most {}", .group.as_ref().map(|g| format!("on the group {g:?} ")).unwrap_or_default(), humantime::format_duration(*.max))]
    TooLong {
        max: Duration,
        group: Option<String>,
    },
    /// The end is not after now.
    #[error("the grant's end must be in the future")]
    EndInPast,
    #[error("no such grant")]
    NotFound,
    /// Revoking or extending a grant that has ended (or never began).
    #[error("the grant is {}, not active", .0.as_str())]
    NotActive(GrantState),
    /// The upstream write failed; for a new grant it is recorded `failed`, for a revocation
    /// it stays active (overdue) and the scheduler tries again.
    #[error("the upstream write failed: {0}")]
    Write(#[source] WriteError, Option<Box<Grant>>),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A grant to make.
pub struct GrantRequest<'a> {
    pub dir: &'a Directory,
    pub user: &'a UserKey,
    pub email: &'a str,
    pub group: &'a GroupId,
    pub granted_by: &'a str,
    pub reason: &'a str,
    pub expires_ms: i64,
}

/// What one scheduler step did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RunReport {
    /// Due grants taken.
    pub claimed: u32,
    /// Memberships removed upstream.
    pub removed: u32,
    /// Ended without a removal: standing access, or a longer overlapping grant.
    pub kept: u32,
    /// Ended without a removal: the member was gone already.
    pub already_removed: u32,
    /// Removals that failed, to be tried again.
    pub failed: u32,
    /// `grant.expiring` events emitted.
    pub warned: u32,
    /// Pending grants a stopped process left, settled by reading (active or failed).
    pub settled: u32,
}

fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

impl Grants {
    pub fn new(dirs: Directories, store: Store, max_duration: Duration) -> Grants {
        Grants {
            dirs,
            store,
            max_ms: ms(max_duration),
            group_max: HashMap::new(),
            warn_before: vec![86_400_000, 3_600_000],
        }
    }

    /// When grants warn that they end (`grant.expiring`), once per offset before the end
    /// (default 24 h and 1 h).
    pub fn with_warnings(mut self, before: &[Duration]) -> Grants {
        let mut offsets: Vec<i64> = before.iter().map(|d| ms(*d)).filter(|&m| m > 0).collect();
        offsets.sort_unstable_by(|a, b| b.cmp(a));
        offsets.dedup();
        self.warn_before = offsets;
        self
    }

    /// Shorter maximums for some groups, by display name (matched without regard to case);
    /// the lower of a group's and the organization's applies.
    pub fn with_group_limits(
        mut self,
        limits: impl IntoIterator<Item = (String, Duration)>,
    ) -> Grants {
        self.group_max = limits
            .into_iter()
            .map(|(name, max)| (name.to_lowercase(), (name, ms(max))))
            .collect();
        self
    }

    /// The group's limit when it is below the organization's: its name and maximum.
    fn group_limit(&self, group: &GroupRec) -> Option<(&str, i64)> {
        let lc = group.group.display_name.to_lowercase();
        self.group_max
            .get(&lc)
            .filter(|(_, max)| *max < self.max_ms)
            .map(|(name, max)| (name.as_str(), *max))
    }

    /// The group's record, for its limit; none when it cannot be read (the organization's
    /// limit still applies, and the write that follows reports the failure).
    async fn group_rec(&self, org: &str, group: &str) -> Option<Arc<GroupRec>> {
        if self.group_max.is_empty() {
            return None;
        }
        let dir = self.dirs.get(org)?;
        dir.group(&GroupId::new(group.to_owned()))
            .await
            .ok()
            .flatten()
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Refuses an end not in the future, or further than the group's or the organization's
    /// maximum from now.
    fn check_end(
        &self,
        expires_ms: i64,
        now_ms: i64,
        group: Option<&GroupRec>,
    ) -> Result<(), GrantError> {
        if expires_ms <= now_ms {
            return Err(GrantError::EndInPast);
        }
        let (max_ms, name) = match group.and_then(|g| self.group_limit(g)) {
            Some((name, max)) => (max, Some(name.to_owned())),
            None => (self.max_ms, None),
        };
        if expires_ms.saturating_sub(now_ms) > max_ms {
            return Err(GrantError::TooLong {
                max: Duration::from_millis(max_ms.max(0) as u64),
                group: name,
            });
        }
        Ok(())
    }

    /// Grants `req.user` membership of `req.group` until `req.expires_ms`. A member already
    /// (not through another grant) is recorded as standing access and nothing is sent.
    pub async fn grant(&self, req: GrantRequest<'_>, now_ms: i64) -> Result<Grant, GrantError> {
        self.check_end(req.expires_ms, now_ms, None)?;
        let dir = req.dir;
        let org = dir.org_id().as_str();
        let others = self
            .store
            .active_grants_for(org, req.user.as_str(), req.group.as_str(), None)
            .await?;
        let member = match dir.group(req.group).await {
            Ok(Some(g)) => {
                self.check_end(req.expires_ms, now_ms, Some(&g))?;
                g.member_keys.contains(req.user.as_str())
            }
            Ok(None) => return Err(GrantError::Write(WriteError::NotFound, None)),
            Err(e) => {
                return Err(GrantError::Write(WriteError::NotApplied(e), None));
            }
        };
        let mut new = NewGrant {
            org: org.to_owned(),
            user_key: req.user.as_str().to_owned(),
            user_email: req.email.to_owned(),
            group_id: req.group.as_str().to_owned(),
            granted_by: req.granted_by.to_owned(),
            reason: req.reason.to_owned(),
            granted_ms: now_ms,
            expires_ms: req.expires_ms,
            standing: false,
        };
        if member {
            // A membership that only other grants hold is theirs to end, not standing.
            new.standing = others.is_empty() || others.iter().any(|o| o.standing);
            let note = if new.standing {
                "standing access: the user was a member already; expiry removes nothing"
            } else {
                "the membership is there through another active grant"
            };
            return Ok(self
                .store
                .insert_grant(&new, GrantState::Active, note)
                .await?);
        }
        let grant = self
            .store
            .insert_grant(&new, GrantState::Pending, "requested")
            .await?;
        match dir
            .add_members(req.group, std::slice::from_ref(req.user), WriteLane::Write)
            .await
        {
            Ok(_) => {
                self.store
                    .transition_grant(
                        &grant.id,
                        GrantState::Pending,
                        GrantState::Active,
                        now_ms,
                        None,
                        "member added",
                        req.granted_by,
                    )
                    .await?;
                Ok(self.reload(&grant.id).await?)
            }
            Err(e) => {
                self.store
                    .transition_grant(
                        &grant.id,
                        GrantState::Pending,
                        GrantState::Failed,
                        now_ms,
                        None,
                        &format!("adding the member failed: {e}"),
                        req.granted_by,
                    )
                    .await?;
                Err(GrantError::Write(
                    e,
                    Some(Box::new(self.reload(&grant.id).await?)),
                ))
            }
        }
    }

    async fn reload(&self, id: &str) -> Result<Grant, StoreError> {
        self.store
            .grant(id)
            .await?
            .ok_or_else(|| StoreError::Corrupt(format!("grant {id} is gone")))
    }

    async fn active(&self, id: &str) -> Result<Grant, GrantError> {
        let grant = self.store.grant(id).await?.ok_or(GrantError::NotFound)?;
        if grant.state != GrantState::Active || grant.end_as == GrantState::Revoked {
            let state = if grant.state == GrantState::Active {
                GrantState::Revoked
            } else {
                grant.state
            };
            return Err(GrantError::NotActive(state));
        }
        Ok(grant)
    }

    /// Ends a grant now: its membership goes in the critical lane (under the same rules as
    /// expiry). If the upstream fails the grant stays active and overdue, and the scheduler
    /// tries again.
    pub async fn revoke(&self, id: &str, actor: &str, now_ms: i64) -> Result<Grant, GrantError> {
        self.active(id).await?;
        let note = format!("revocation asked by {actor}");
        if !self
            .store
            .reschedule_grant(id, now_ms, GrantState::Revoked, now_ms, &note, actor)
            .await?
        {
            return Err(GrantError::NotActive(self.reload(id).await?.state));
        }
        let claimed = self
            .store
            .claim_grant(id, now_ms, now_ms.saturating_add(LEASE_MS))
            .await?;
        let Some(grant) = claimed else {
            // The scheduler holds it and is removing it now.
            return Ok(self.reload(id).await?);
        };
        let mut report = RunReport::default();
        let failed = self
            .end_all(std::slice::from_ref(&grant), now_ms, actor, &mut report)
            .await?;
        if let Some(Some(e)) = failed.into_iter().next() {
            return Err(GrantError::Write(e, Some(Box::new(self.reload(id).await?))));
        }
        Ok(self.reload(id).await?)
    }

    /// Moves an active grant's end to `until_ms`, within `grants.max_duration` (or the group's
    /// shorter maximum) from now.
    pub async fn extend(
        &self,
        id: &str,
        until_ms: i64,
        actor: &str,
        now_ms: i64,
    ) -> Result<Grant, GrantError> {
        let grant = self.active(id).await?;
        let group = self.group_rec(&grant.org, &grant.group_id).await;
        self.check_end(until_ms, now_ms, group.as_deref())?;
        let note = format!(
            "end moved by {actor} from {} to {}",
            grant.expires_ms, until_ms
        );
        if !self
            .store
            .reschedule_grant(id, until_ms, GrantState::Expired, now_ms, &note, actor)
            .await?
        {
            return Err(GrantError::NotActive(self.reload(id).await?.state));
        }
        Ok(self.reload(id).await?)
    }
}
