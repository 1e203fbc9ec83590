//! User writes: each goes out at once in its lane, is applied to the mirror when confirmed, and
//! is settled by reading back when the upstream did not answer — never re-sent blindly.

use std::sync::Arc;
use std::time::SystemTime;

use super::mirror::{self, Change};
use crate::budget::Lane;
use crate::directory::events::EventKind;
use crate::directory::points::{Entry, PointKey, PointValue};
use crate::directory::{Directory, DirectoryError, Source, UserRec, WriteError};
use crate::scim::ScimError;
use crate::scim::wire::User;

/// The log of changes not yet known to be in a completed refresh.
#[derive(Default)]
pub(in crate::directory) struct WriteLog {
    pub counter: u64,
    pub items: Vec<(u64, Change)>,
}

/// How a read-back decided a write whose answer was lost.
pub(super) enum Settled<T> {
    Applied(T),
    NotApplied,
}

impl Directory {
    /// Applies confirmed changes to the mirror and records their events.
    pub(super) async fn commit(
        &self,
        changes: Vec<Change>,
        events: Vec<(EventKind, String, Vec<String>)>,
    ) {
        self.remember_removals(&changes).await;
        let emails_are_keys = self.profile().user_id_is_email();
        {
            let mut log = self.inner.writes.lock().unwrap_or_else(|e| e.into_inner());
            for change in &changes {
                log.counter += 1;
                let n = log.counter;
                log.items.push((n, change.clone()));
            }
            // Computed outside the state's lock, so readers are not held up meanwhile. Commits
            // are serialized by the write log's lock; only a cold load's partial publishing can
            // replace the snapshot in between, and then the change is applied to that one.
            let base = self.snapshot();
            let next = Arc::new(mirror::apply(&base, &changes, emails_are_keys));
            self.inner.state.send_modify(|s| {
                s.snapshot = if Arc::ptr_eq(&s.snapshot, &base) {
                    next
                } else {
                    Arc::new(mirror::apply(&s.snapshot, &changes, emails_are_keys))
                };
            });
        }
        let mut ev = self.inner.events.lock().unwrap_or_else(|e| e.into_inner());
        for (kind, subject, related) in events {
            ev.record(kind, &subject, related);
        }
    }

    /// Remembers removed users and groups as not found, so reading one costs no upstream call.
    pub(in crate::directory) async fn remember_removals(&self, changes: &[Change]) {
        let ttl = self.inner.settings.not_found_ttl;
        for change in changes {
            let org = self.inner.org_id.clone();
            let (key, value) = match change {
                Change::RemoveUser(k) => (
                    PointKey::User {
                        org,
                        key: k.clone(),
                    },
                    PointValue::User(None),
                ),
                Change::RemoveGroup(id) => (
                    PointKey::Group {
                        org,
                        id: id.clone(),
                    },
                    PointValue::Group(None),
                ),
                _ => continue,
            };
            self.inner.points.insert(key, Entry { value, ttl }).await;
        }
    }

    /// Maps a failed write: settles it by `read_back` when its outcome is unknown.
    pub(super) async fn settle<T, F>(&self, error: ScimError, read_back: F) -> Result<T, WriteError>
    where
        F: Future<Output = Result<Settled<T>, ScimError>>,
    {
        if !error.outcome_unknown() {
            return Err(known_failure(error));
        }
        tracing::warn!(org = %self.org_id(), error = %error, "write outcome unknown; reading back to settle it");
        match read_back.await {
            Ok(Settled::Applied(v)) => Ok(v),
            Ok(Settled::NotApplied) => Err(WriteError::NotApplied(DirectoryError::from(&error))),
            Err(read_error) => Err(WriteError::Unknown {
                reason: format!(
                    "the upstream did not confirm the change ({error}) and reading it back failed ({read_error})"
                ),
            }),
        }
    }

    fn rec_from(&self, user: User) -> Arc<UserRec> {
        let key = Directory::user_key_of(self.profile(), &user);
        Arc::new(UserRec::new(
            key,
            u64::MAX,
            user,
            SystemTime::now(),
            Source::Mirror,
        ))
    }

    /// `POST /Users`: on Amplitude this e-mails the person an invitation. The user is recorded as
    /// invited by this gateway until seen with real names.
    pub async fn invite_user(
        &self,
        email: &str,
        given: &str,
        family: &str,
    ) -> Result<Arc<UserRec>, WriteError> {
        let key = self.user_key(email);
        let snapshot = self.snapshot();
        let known = if self.profile().user_id_is_email() {
            snapshot.user_by_key(&key)
        } else {
            snapshot.user_by_email(&key)
        };
        if snapshot.complete && known.is_some() {
            return Err(WriteError::AlreadyExists);
        }
        let sent_before = self.has_open_invite(&key);
        self.inner.invites.insert(key.clone());
        let user = User::new(email, given, family);
        let client = &self.inner.client;
        let result = match client.create_user(Lane::Write, &user).await {
            Ok(created) => Ok(created),
            Err(ScimError::Conflict { .. }) if sent_before => {
                // This gateway sent an invitation for this address before (perhaps one whose
                // answer was lost): the conflict may be our own invite. Look before reporting.
                match client.find_user(Lane::Write, email).await {
                    Ok(Some(existing))
                        if existing.given_name() == Some(given)
                            || self.is_placeholder(&existing) =>
                    {
                        Ok(existing)
                    }
                    _ => Err(WriteError::AlreadyExists),
                }
            }
            Err(e) => {
                self.settle(e, async {
                    Ok(match client.find_user(Lane::Write, email).await? {
                        Some(u) => Settled::Applied(u),
                        None => Settled::NotApplied,
                    })
                })
                .await
            }
        };
        match result {
            Ok(created) => {
                let mut shown = created.clone();
                // The upstream echoes the request, or shows placeholders: keep the names asked for.
                shown.name = user.name.clone();
                let rec = self.rec_from(shown);
                self.inner.invites.insert(rec.key().to_owned());
                self.commit(
                    vec![Change::UpsertUser(rec.clone())],
                    vec![(EventKind::UserInvited, rec.key().to_owned(), vec![])],
                )
                .await;
                Ok(rec)
            }
            Err(e) => {
                if !matches!(e, WriteError::Unknown { .. }) && !sent_before {
                    self.inner.invites.remove(&key);
                }
                Err(e)
            }
        }
    }

    fn is_placeholder(&self, user: &User) -> bool {
        user.given_name() == Some(crate::directory::record::PLACEHOLDER_GIVEN)
    }

    /// The user as the upstream has it, for writes that send the full resource: the mirror's
    /// record, else one read in the write's own lane (a revocation never waits behind reads).
    async fn current(&self, key: &str, lane: Lane) -> Result<Arc<UserRec>, WriteError> {
        if let Some(rec) = self.snapshot().user_by_key(key) {
            return Ok(rec.clone());
        }
        match self.inner.client.get_user(lane, key).await {
            Ok(Some(user)) => Ok(self.rec_from(user)),
            Ok(None) => Err(WriteError::NotFound),
            Err(e) => Err(WriteError::NotApplied(DirectoryError::from(&e))),
        }
    }

    /// Replaces the names with `PUT` of the full resource. The e-mail cannot change.
    pub async fn update_user(
        &self,
        key: &str,
        given: Option<&str>,
        family: Option<&str>,
    ) -> Result<Arc<UserRec>, WriteError> {
        let current = self.current(key, Lane::Write).await?;
        let mut user = current.resource();
        let name = user.name.get_or_insert_with(Default::default);
        if let Some(g) = given {
            name.given_name = Some(g.to_owned());
        }
        if let Some(f) = family {
            name.family_name = Some(f.to_owned());
        }
        user.groups = None;
        user.meta = None;
        let id = current.id().to_owned();
        let client = &self.inner.client;
        let wanted = user.name.clone();
        let updated = match client.replace_user(Lane::Write, &id, &user).await {
            Ok(_) => user,
            Err(e) => {
                self.settle(e, async {
                    Ok(match client.get_user(Lane::Write, &id).await? {
                        Some(u) if u.name == wanted => Settled::Applied(user.clone()),
                        _ => Settled::NotApplied,
                    })
                })
                .await?
            }
        };
        let mut rec = (*self.rec_from(updated)).clone();
        rec.seq = current.seq;
        let rec = Arc::new(rec);
        self.commit(
            vec![Change::UpsertUser(rec.clone())],
            vec![(EventKind::UserUpdated, rec.key().to_owned(), vec![])],
        )
        .await;
        Ok(rec)
    }

    /// Sets `active: false`, in the critical lane. Amplitude then removes the user from the
    /// organization (and so from the mirror); elsewhere the user stays, deactivated.
    /// Returns the user's final state.
    pub async fn deactivate_user(&self, key: &str) -> Result<Arc<UserRec>, WriteError> {
        let current = self.current(key, Lane::Critical).await?;
        let id = current.id().to_owned();
        let client = &self.inner.client;
        match client
            .set_active(Lane::Critical, &id, &current.resource(), false)
            .await
        {
            Ok(()) => {}
            // It existed a moment ago: gone now is what was asked (an earlier try whose answer
            // was lost, retried as PUTs are, finds it removed).
            Err(ScimError::NotFound) => {}
            Err(e) => {
                self.settle(e, async {
                    Ok(match client.get_user(Lane::Critical, &id).await? {
                        Some(u) if u.active => Settled::NotApplied,
                        _ => Settled::Applied(()),
                    })
                })
                .await?
            }
        }
        let mut user = current.resource();
        user.active = false;
        let mut rec = (*self.rec_from(user)).clone();
        rec.seq = current.seq;
        let rec = Arc::new(rec);
        let change = if self.profile().user_id_is_email() {
            Change::RemoveUser(rec.key().to_owned())
        } else {
            Change::UpsertUser(rec.clone())
        };
        self.commit(
            vec![change],
            vec![(EventKind::UserDeactivated, rec.key().to_owned(), vec![])],
        )
        .await;
        Ok(rec)
    }

    /// `DELETE /Users/{id}`, in the critical lane: the user leaves the organization (a pending
    /// invitation is revoked).
    pub async fn delete_user(&self, key: &str) -> Result<(), WriteError> {
        let client = &self.inner.client;
        let known = self.snapshot().user_by_key(key).is_some();
        match client.delete_user(Lane::Critical, key).await {
            Ok(()) => {}
            // The mirror knew the user, so it existed: gone now is what was asked (an earlier
            // try whose answer was lost, retried as DELETEs are, finds it gone).
            Err(ScimError::NotFound) if known => {}
            Err(e) => {
                self.settle(e, async {
                    Ok(match client.get_user(Lane::Critical, key).await? {
                        Some(_) => Settled::NotApplied,
                        None => Settled::Applied(()),
                    })
                })
                .await?
            }
        }
        self.inner.invites.remove(key);
        self.commit(
            vec![Change::RemoveUser(key.to_owned())],
            vec![(EventKind::UserDeleted, key.to_owned(), vec![])],
        )
        .await;
        Ok(())
    }
}

/// A failure whose outcome is known.
pub(super) fn known_failure(e: ScimError) -> WriteError {
    match e {
        ScimError::NotFound => WriteError::NotFound,
        ScimError::Conflict { .. } => WriteError::AlreadyExists,
        ScimError::Rejected { status, .. } => WriteError::Rejected { status },
        other => WriteError::NotApplied(DirectoryError::from(&other)),
    }
}
