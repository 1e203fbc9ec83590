//! Access snapshots: an organization's users, their status and their groups, taken from the
//! mirror on demand (`takeSnapshot`) or on a schedule (`[orgs.reviews] snapshot_every`), kept
//! in the store hash-chained per organization, and compared (`snapshotDiff`).

mod content;
mod diff;
pub mod export;
#[cfg(test)]
mod tests;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

pub use content::{Content, GroupEntry, UserEntry, UserStatus};
pub use diff::{Change, ChangeKind, Diff, GroupChanges, Totals, diff};

use crate::directory::{Directories, Snapshot};
use crate::store::{Appended, NewSnapshot, SnapshotTrigger, Store, StoreError, now_ms};

/// The longest the schedule's loop sleeps between looks.
const MAX_TICK: Duration = Duration::from_secs(60);

/// An organization's snapshot schedule and retention.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Schedule {
    /// How often a scheduled snapshot is taken; `None`: never (on demand only).
    pub every: Option<Duration>,
    /// How long snapshots are kept.
    pub retention: Duration,
}

impl Default for Schedule {
    fn default() -> Self {
        Schedule {
            every: None,
            retention: Duration::from_secs(400 * 86_400),
        }
    }
}

/// What one step of the schedule did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SnapshotReport {
    /// Scheduled snapshots taken.
    pub taken: u32,
    /// Due, but the mirror was not complete: skipped until it is.
    pub incomplete: u32,
    /// Due here, but another replica had just taken one.
    pub too_soon: u32,
}

/// The snapshot schedule of every organization, over the directories and the store.
#[derive(Clone)]
pub struct Snapshots {
    dirs: Directories,
    store: Store,
    schedules: Arc<HashMap<String, Schedule>>,
}

fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// How a snapshot is taken.
#[derive(Clone, Copy, Debug)]
pub struct Take<'a> {
    pub trigger: SnapshotTrigger,
    /// The API key's name, or `system`.
    pub taken_by: &'a str,
    pub taken_at_ms: i64,
    /// A scheduled snapshot's period: nothing is taken when the organization's newest
    /// snapshot is younger than that (checked in the appending transaction).
    pub min_gap_ms: Option<i64>,
    /// Append a `system` audit row with it, in the same transaction (scheduled snapshots;
    /// `takeSnapshot` is audited by the mutation journal).
    pub audit: bool,
}

/// Takes a snapshot of `mirror` (organization `org`) into `store`. `invited` says which user
/// keys have an open invitation from the gateway (they read as INVITED).
pub async fn take(
    store: &Store,
    org: &str,
    mirror: Arc<Snapshot>,
    invited: impl Fn(&str) -> bool,
    how: Take<'_>,
) -> Result<Appended, StoreError> {
    let invited = invited_keys(&mirror, invited);
    let fetched_at = mirror.fetched_at.map(|t| {
        t.duration_since(UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
    });
    let complete = mirror.complete;
    // Encoding 100,000 users takes a while: off the async workers.
    let encoded = tokio::task::spawn_blocking(move || {
        let content = Content::of_mirror(&mirror, |k| invited.contains(k));
        (content.users.len(), content.groups.len(), content.encode())
    })
    .await;
    let (users, groups, bytes) = match encoded {
        Ok(v) => v,
        Err(e) => std::panic::resume_unwind(e.into_panic()),
    };
    let new = NewSnapshot {
        org: org.to_owned(),
        taken_at_ms: how.taken_at_ms,
        trigger: how.trigger,
        taken_by: how.taken_by.to_owned(),
        user_count: users as i64,
        group_count: groups as i64,
        mirror_fetched_at_ms: fetched_at,
        complete,
        content: bytes,
    };
    store.append_snapshot(new, how.min_gap_ms, how.audit).await
}

/// The content of a stored snapshot, decoded off the async workers; `None` when there is no
/// such snapshot.
pub async fn content_of(store: &Store, org: &str, seq: i64) -> Result<Option<Content>, StoreError> {
    let Some(bytes) = store.snapshot_content(org, seq).await? else {
        return Ok(None);
    };
    let decoded = tokio::task::spawn_blocking(move || Content::decode(&bytes)).await;
    match decoded {
        Ok(Some(content)) => Ok(Some(content)),
        Ok(None) => Err(StoreError::Corrupt(format!(
            "snapshot {seq} of {org} is not in a known encoding"
        ))),
        Err(e) => std::panic::resume_unwind(e.into_panic()),
    }
}

/// The keys of the mirror's users with an open invitation.
fn invited_keys(mirror: &Snapshot, invited: impl Fn(&str) -> bool) -> HashSet<String> {
    mirror
        .users()
        .iter()
        .map(|u| u.key())
        .filter(|k| invited(k))
        .map(str::to_owned)
        .collect()
}

/// The content of the mirror now, built off the async workers.
pub async fn content_now(mirror: Arc<Snapshot>, invited: impl Fn(&str) -> bool) -> Content {
    let invited = invited_keys(&mirror, invited);
    let built =
        tokio::task::spawn_blocking(move || Content::of_mirror(&mirror, |k| invited.contains(k)))
            .await;
    match built {
        Ok(c) => c,
        Err(e) => std::panic::resume_unwind(e.into_panic()),
    }
}

impl Snapshots {
    /// `schedules` by organization id; an organization without one has the default (no
    /// schedule, 400 days' retention).
    pub fn new(dirs: Directories, store: Store, schedules: HashMap<String, Schedule>) -> Snapshots {
        Snapshots {
            dirs,
            store,
            schedules: Arc::new(schedules),
        }
    }

    fn schedule(&self, org: &str) -> Schedule {
        self.schedules.get(org).copied().unwrap_or_default()
    }

    /// Whether any organization has a schedule (else the loop need not run).
    pub fn any_scheduled(&self) -> bool {
        self.schedules.values().any(|s| s.every.is_some())
    }

    /// One step at `now_ms`: each organization whose newest snapshot is older than its
    /// `snapshot_every` (or that has none) gets a scheduled one, if its mirror is complete.
    pub async fn run_once(&self, now_ms: i64) -> Result<SnapshotReport, StoreError> {
        let mut report = SnapshotReport::default();
        for dir in self.dirs.all() {
            let org = dir.org_id().as_str();
            let Some(every) = self.schedule(org).every else {
                continue;
            };
            let every_ms = ms(every);
            let newest = self.store.newest_snapshot_ms(org).await?;
            if newest.is_some_and(|t| now_ms.saturating_sub(t) < every_ms) {
                continue;
            }
            let mirror = dir.snapshot();
            if !mirror.complete {
                tracing::info!(
                    org,
                    "a scheduled snapshot is due but the mirror is still loading; skipped until it has loaded"
                );
                report.incomplete += 1;
                continue;
            }
            let appended = take(
                &self.store,
                org,
                mirror,
                |k| dir.has_open_invite(k),
                Take {
                    trigger: SnapshotTrigger::Schedule,
                    taken_by: "system",
                    taken_at_ms: now_ms,
                    min_gap_ms: Some(every_ms),
                    audit: true,
                },
            )
            .await?;
            match appended {
                Appended::Taken(row) => {
                    tracing::info!(
                        org,
                        seq = row.seq,
                        users = row.user_count,
                        bytes = row.stored_bytes,
                        "scheduled snapshot taken"
                    );
                    report.taken += 1;
                }
                Appended::TooSoon { .. } => report.too_soon += 1,
            }
        }
        Ok(report)
    }

    /// Removes snapshots past each organization's retention at `now_ms`; how many went.
    pub async fn prune(&self, now_ms: i64) -> Result<u64, StoreError> {
        let mut removed = 0;
        for dir in self.dirs.all() {
            let org = dir.org_id().as_str();
            let before = now_ms.saturating_sub(ms(self.schedule(org).retention));
            removed += self.store.prune_snapshots(org, before).await?;
        }
        Ok(removed)
    }

    /// Steps at the clock's time until the task is dropped: often enough to take each
    /// snapshot within a few percent of its period, at least once a minute.
    pub async fn run_loop(self) {
        let tick = self
            .schedules
            .values()
            .filter_map(|s| s.every)
            .map(|e| e / 20)
            .min()
            .unwrap_or(MAX_TICK)
            .clamp(Duration::from_secs(1), MAX_TICK);
        loop {
            match self.run_once(now_ms()).await {
                Ok(report) if report != SnapshotReport::default() => {
                    tracing::debug!(?report, "snapshot schedule step");
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "the snapshot schedule could not reach the store; trying again");
                }
            }
            tokio::time::sleep(tick).await;
        }
    }
}
