//! Filling the mirror: a full read at the page maximum, single-flight, in the background lane.
//! A cold mirror is published page by page, so the first client waits for one page, not all.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::SystemTime;

use super::incremental::Loaded;
use super::snapshot::Builder;
use super::{Directory, DirectoryError, Snapshot, Source, UserRec};
use crate::budget::Lane;
use crate::scim::wire::User;
use crate::scim::{Collection, KeyRule, Page, Pager};

impl Directory {
    /// Starts a refresh unless one is running. Returns the `finished` count that marks its end.
    pub fn start_refresh(&self) -> u64 {
        let mut started = false;
        let mut target = 0;
        self.inner.state.send_if_modified(|s| {
            target = s.finished + 1;
            if s.refreshing {
                return false;
            }
            s.refreshing = true;
            started = true;
            true
        });
        if started {
            let this = self.clone();
            tokio::spawn(async move { this.run_refresh().await });
        }
        target
    }

    /// Refreshes now (or joins the refresh under way) and waits for it to end.
    pub async fn refresh(&self) -> Result<(), DirectoryError> {
        let target = self.start_refresh();
        let mut rx = self.inner.state.subscribe();
        let state = rx
            .wait_for(|s| s.finished >= target)
            .await
            .map_err(|_| DirectoryError::ShuttingDown)?;
        match &state.last_error {
            Some(e) => Err(e.clone()),
            None => Ok(()),
        }
    }

    /// What a full refresh costs now: upstream calls, and about how many seconds the background
    /// lane needs for them at the budget (one per emission interval, within its share).
    /// An incremental one costs at least one call per collection; what it costs beyond
    /// depends on how much changed, which is known only once read.
    pub(crate) fn refresh_estimate(&self) -> (u64, f64) {
        let config = self.inner.client.budget().config();
        if self.changes_since().is_some() {
            return (2, config.emission_interval().as_secs_f64());
        }
        let snapshot = self.snapshot();
        let users = if snapshot.complete {
            snapshot.user_count() as u64
        } else {
            snapshot
                .upstream_user_total
                .unwrap_or(snapshot.user_count() as u64)
        };
        let groups = snapshot.group_count() as u64;
        // An empty collection still costs the one call that finds it empty.
        let calls = users.div_ceil(100).max(1) + groups.div_ceil(100).max(1);
        let by_interval = 1.0 / config.emission_interval().as_secs_f64();
        let by_share = config.background_cap() as f64 / config.effective_window().as_secs_f64();
        let rate = by_interval.min(by_share).max(f64::MIN_POSITIVE);
        (calls, (calls.saturating_sub(1)) as f64 / rate)
    }

    /// Whether the mirror is missing or older than `max_age`.
    pub(crate) fn is_stale(&self) -> bool {
        let state = self.inner.state.borrow();
        match state.snapshot.fetched_at {
            Some(at) => at
                .elapsed()
                .map_or(true, |age| age >= self.inner.settings.max_age),
            None => true,
        }
    }

    /// The complete mirror. A stale one is returned at once while a refresh starts behind it;
    /// a missing one is waited for.
    pub(crate) async fn complete_snapshot(&self) -> Result<Arc<Snapshot>, DirectoryError> {
        self.snapshot_where(|s| s.complete).await
    }

    /// A snapshot with the group list (memberships), complete or still loading users.
    pub(crate) async fn snapshot_with_groups(&self) -> Result<Arc<Snapshot>, DirectoryError> {
        self.snapshot_where(|s| s.groups_loaded).await
    }

    /// A snapshot for which `enough` holds (or the complete one), waiting for a cold load.
    pub(crate) async fn snapshot_until(
        &self,
        enough: impl Fn(&Snapshot) -> bool,
    ) -> Result<Arc<Snapshot>, DirectoryError> {
        self.snapshot_where(enough).await
    }

    async fn snapshot_where(
        &self,
        enough: impl Fn(&Snapshot) -> bool,
    ) -> Result<Arc<Snapshot>, DirectoryError> {
        let current = self.snapshot();
        if current.complete {
            if self.is_stale() {
                self.start_refresh();
            }
            return Ok(current);
        }
        if enough(&current) {
            return Ok(current);
        }
        let target = self.start_refresh();
        // The load goes on in the background, but a reader is not made to wait out a pause the
        // upstream announced (a 429's `Retry-After`) longer than callers are ever queued for.
        let budget = self.inner.client.budget();
        if let Some(pause) = budget.paused_for()
            && pause > budget.config().max_queue_wait
        {
            return Err(DirectoryError::RateLimited {
                retry_after: Some(pause),
            });
        }
        let mut rx = self.inner.state.subscribe();
        let state = rx
            .wait_for(|s| s.snapshot.complete || enough(&s.snapshot) || s.finished >= target)
            .await
            .map_err(|_| DirectoryError::ShuttingDown)?;
        if state.snapshot.complete || enough(&state.snapshot) {
            return Ok(state.snapshot.clone());
        }
        Err(state
            .last_error
            .clone()
            .unwrap_or(DirectoryError::Unavailable))
    }

    /// Makes the next `n` refreshes panic once they start, as a bug in the gateway would: for
    /// tests of what survives such a fault. Nothing calls it outside tests.
    #[doc(hidden)]
    pub fn inject_refresh_panics(&self, n: u32) {
        self.inner.injected_panics.store(n, Ordering::SeqCst);
    }

    /// Makes the refresh loop itself panic at its next `n` turns, as a bug in it would: for
    /// tests of its supervision. Nothing calls it outside tests.
    #[doc(hidden)]
    pub fn inject_loop_panics(&self, n: u32) {
        self.inner.injected_loop_panics.store(n, Ordering::SeqCst);
    }

    async fn run_refresh(&self) {
        // Whatever ends this task (a panic, or the runtime dropping it), the guard settles the
        // refresh, so `refreshing` never stays set and every waiter wakes.
        let mut guard = Unfinished(Some(self));
        let started = std::time::Instant::now();
        let mark = self
            .inner
            .writes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .counter;
        let (result, calls) = super::traced(None, self.load()).await;
        let result = result.map(|l| (l.snapshot, l.calls, l.kind, l.changes_since));
        crate::metrics::refresh(
            self.org_id().as_str(),
            result.is_ok(),
            Some(started.elapsed()),
            calls.len(),
        );
        let audited = match &result {
            Ok((snapshot, _, kind, _)) => {
                Ok((snapshot.user_count(), snapshot.group_count(), *kind))
            }
            Err(e) => Err(e.clone()),
        };
        let org = self.org_id().to_owned();
        // Writes confirmed after the refresh began may be missing from what it read: apply
        // them again (they state results, so applying twice is harmless).
        // What the refresh found changed behind the gateway's back, for the event log.
        let mut discovered = Vec::new();
        let (succeeded, later) = {
            let mut log = self.inner.writes.lock().unwrap_or_else(|e| e.into_inner());
            let later: Vec<_> = log
                .items
                .iter()
                .filter(|(n, _)| *n > mark)
                .map(|(_, c)| c.clone())
                .collect();
            let result = result.map(|(snapshot, calls, kind, since)| {
                log.items.retain(|(n, _)| *n > mark);
                let snapshot = if later.is_empty() {
                    snapshot
                } else {
                    Arc::new(super::writes::apply(&snapshot, &later, self.key_rule()))
                };
                (snapshot, calls, kind, since)
            });
            let succeeded = result.is_ok();
            guard.0 = None;
            // Compared before publishing, outside the state's lock, so readers are not held up
            // meanwhile; the write log's lock keeps every commit out, so the snapshot replaced
            // is still this one when the new one is published.
            if let Ok((snapshot, ..)) = &result {
                let replaced = self.snapshot();
                discovered =
                    super::diff::changes(org.as_str(), &replaced, snapshot, crate::store::now_ms());
            }
            self.inner.state.send_modify(|s| {
                s.refreshing = false;
                s.finished += 1;
                match result {
                    Ok((snapshot, calls, kind, since)) => {
                        tracing::info!(%org, users = snapshot.user_count(), groups = snapshot.group_count(), calls,
                        ?kind, elapsed = ?started.elapsed(), "mirror refreshed");
                        if kind == super::RefreshKind::Full {
                            s.last_full_refresh_at = Some(SystemTime::now());
                        }
                        s.last_refresh_kind = Some(kind);
                        s.changes_since = since;
                        s.publish(snapshot);
                        s.last_error = None;
                        s.last_refresh_at = Some(SystemTime::now());
                        s.last_refresh_calls = calls;
                        s.refresh_failures = 0;
                    }
                    Err(e) => {
                        tracing::warn!(%org, error = %e, "mirror refresh failed; keeping the previous mirror");
                        s.last_error = Some(e);
                        s.refresh_failures += 1;
                        s.last_failure_at = Some(SystemTime::now());
                    }
                }
            });
            (succeeded, later)
        };
        if succeeded {
            self.inner.points.forget_org(&self.inner.org_id);
            self.remember_removals(&later).await;
            self.settle_invites().await;
            if !discovered.is_empty()
                && let Some(store) = self.inner.store.get().map(|s| &s.store)
                && let Err(e) = store.append_events(&discovered).await
            {
                tracing::warn!(org = %self.org_id(), error = %e, events = discovered.len(), "changes a refresh found could not be recorded as events");
            }
        }
        self.audit_refresh(audited.as_ref().map(|c| *c), calls)
            .await;
    }

    /// Reads every user and group: `ceil(N/100) + ceil(G/100)` calls. The first user page comes
    /// first, then the groups, then the other user pages; a cold mirror is published after each.
    /// Where the service can list changes and every resource carried `meta.lastModified`, the
    /// result says from when the next refresh may read only changes (the server's `Date` on the
    /// first page: anything changed later has a later `lastModified`).
    pub(super) async fn load_full(&self, lists_changes: bool) -> Result<Loaded, DirectoryError> {
        let previous = self.snapshot();
        let cold = !previous.complete;
        let keys = self.key_rule();
        let mut builder = Builder::new(Some(previous).filter(|p| p.complete), keys);
        let client = &self.inner.client;
        let mut users = Pager::new(client, Collection::Users, Lane::Background);
        let mut groups = Pager::new(client, Collection::Groups, Lane::Background);
        // Whether every resource read said when it was last modified.
        let mut dated = true;
        // A cold mirror is published after the first page, after the groups, and then each
        // time the users read have doubled: clients see early pages at once, and the copies
        // cost O(N) over the whole load rather than O(N²).
        let mut published = 0;
        let mut publish = |builder: &Builder, force: bool| {
            if cold && (force || builder.user_count() >= 2 * published) {
                published = builder.user_count().max(1);
                let partial = Arc::new(builder.snapshot(false, None));
                self.inner.state.send_modify(|s| s.publish(partial));
            }
        };

        dated &= self.add_user_page(&mut builder, users.next_page().await?);
        builder.upstream_user_total = users.total();
        publish(&builder, true);
        let mut seq = 0;
        while let Some(page) = groups.next_page().await? {
            if let Page::Groups(page) = page {
                let now = SystemTime::now();
                for group in page.resources {
                    dated &= super::incremental::dated(group.meta.as_ref());
                    match Directory::group_rec(keys, group, seq, now, Source::Mirror) {
                        Some(rec) => builder.add_group(rec),
                        None => {
                            tracing::warn!(org = %self.org_id(), "skipping a group without an id");
                        }
                    }
                    seq += 1;
                }
            }
        }
        builder.groups_done();
        publish(&builder, true);
        while let Some(page) = users.next_page().await? {
            dated &= self.add_user_page(&mut builder, Some(page));
            builder.upstream_user_total = users.total();
            publish(&builder, false);
        }
        if let Some(total) = users.total()
            && total as usize != builder.user_count()
        {
            // Offset paging over a directory that changed while it was read.
            tracing::info!(org = %self.org_id(), total, read = builder.user_count(), "user count moved during refresh");
        }
        let snapshot = builder.snapshot(true, Some(SystemTime::now()));
        Ok(Loaded {
            snapshot: Arc::new(snapshot),
            calls: users.calls + groups.calls,
            kind: super::RefreshKind::Full,
            changes_since: users.first_date().filter(|_| lists_changes && dated),
        })
    }

    /// Adds a page of users; whether every one of them said when it was last modified.
    fn add_user_page(&self, builder: &mut Builder, page: Option<Page>) -> bool {
        let Some(Page::Users(page)) = page else {
            return true;
        };
        let now = SystemTime::now();
        let keys = self.key_rule();
        let mut dated = true;
        for user in page.resources {
            dated &= super::incremental::dated(user.meta.as_deref());
            add_mirrored_user(builder, keys, user, now);
        }
        dated
    }

    /// Closes the gateway's own invite records for users now seen with real names.
    async fn settle_invites(&self) {
        let snapshot = self.snapshot();
        let mut closed = Vec::new();
        self.inner.invites.retain(|key| {
            let open = snapshot.user_by_key(key).is_none_or(|u| u.placeholder());
            if !open {
                closed.push(key.clone());
            }
            open
        });
        for key in closed {
            self.persist_invite(&key, false).await;
        }
    }

    /// One audit row per refresh: a system action, with every upstream call it made.
    async fn audit_refresh(
        &self,
        outcome: Result<(usize, usize, super::RefreshKind), &DirectoryError>,
        calls: Vec<crate::store::UpstreamCall>,
    ) {
        let Some(store) = self.inner.store.get().map(|s| &s.store) else {
            return;
        };
        let (outcome, code, input) = match outcome {
            Ok((users, groups, kind)) => (
                "SUCCESS",
                String::new(),
                serde_json::json!({
                    "users": users,
                    "groups": groups,
                    "kind": match kind {
                        super::RefreshKind::Full => "full",
                        super::RefreshKind::Incremental => "incremental",
                    },
                })
                .to_string(),
            ),
            Err(e) => (
                "FAILED",
                self.inner
                    .store
                    .get()
                    .map_or("", |s| (s.codes)(e))
                    .to_owned(),
                e.to_string(),
            ),
        };
        let record = crate::store::AuditRecord {
            actor: "system".into(),
            role: "system".into(),
            org: self.org_id().to_string(),
            action: "refresh".into(),
            input,
            outcome: outcome.into(),
            error_code: code,
            calls,
            ..crate::store::AuditRecord::default()
        };
        if let Err(e) = store.append_audit(&record).await {
            tracing::warn!(org = %self.org_id(), error = %e, "the refresh could not be audited");
        }
    }

    /// Counts a restart of the refresh loop after it stopped unexpectedly.
    pub(crate) fn record_restart(&self) {
        self.inner.state.send_modify(|s| {
            s.restarts += 1;
            s.last_failure_at = Some(SystemTime::now());
        });
    }

    /// Keeps the mirror fresh: refreshes whenever it is older than `max_age`, until dropped.
    /// A failed refresh is tried again after a pause that grows to `max_age`.
    pub(crate) async fn run_refresh_loop(self) {
        let max_age = self.inner.settings.max_age;
        let mut pause = std::time::Duration::from_secs(5).min(max_age);
        loop {
            let injected = self.inner.injected_loop_panics.fetch_update(
                Ordering::SeqCst,
                Ordering::SeqCst,
                |n| n.checked_sub(1),
            );
            if injected.is_ok() {
                panic!("injected refresh loop panic (test hook)");
            }
            let due = match self.snapshot().fetched_at {
                Some(at) => max_age.saturating_sub(at.elapsed().unwrap_or_default()),
                None => std::time::Duration::ZERO,
            };
            tokio::time::sleep(due).await;
            match self.refresh().await {
                Ok(()) => pause = std::time::Duration::from_secs(5).min(max_age),
                Err(DirectoryError::CredentialRevoked) | Err(DirectoryError::ShuttingDown) => {
                    return;
                }
                Err(_) => {
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(max_age);
                }
            }
        }
    }
}

/// Settles a refresh that ended without reaching its end (it panicked or was dropped): the
/// refresh counts as failed with `Interrupted`, so waiters get an error instead of waiting on.
struct Unfinished<'a>(Option<&'a Directory>);

impl Drop for Unfinished<'_> {
    fn drop(&mut self) {
        let Some(dir) = self.0 else { return };
        tracing::error!(org = %dir.org_id(), "mirror refresh stopped unexpectedly; keeping the previous mirror");
        crate::metrics::refresh(dir.org_id().as_str(), false, None, 0);
        dir.inner.state.send_modify(|s| {
            s.refreshing = false;
            s.finished += 1;
            s.last_error = Some(DirectoryError::Interrupted);
            s.refresh_failures += 1;
            s.last_failure_at = Some(SystemTime::now());
        });
    }
}

/// A user as the mirror holds it: keyed by the key rule, numbered by the builder.
pub(super) fn add_mirrored_user(builder: &mut Builder, keys: KeyRule, user: User, now: SystemTime) {
    let key = keys.key_of(&user).into_string();
    let seq = builder.seq_for(&key);
    builder.add_user(UserRec::new(key, seq, user, now, Source::Mirror));
}
