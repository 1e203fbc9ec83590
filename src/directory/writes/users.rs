//! User writes: invite, update, deactivate, delete. Each goes out at once in its lane, is applied
//! to the mirror when confirmed, and is settled by reading back when no answer came.

use std::sync::Arc;

use super::WriteLane;
use super::mirror::Change;
use super::settle::Settled;
use crate::directory::record::PLACEHOLDER_GIVEN;
use crate::directory::{Directory, DirectoryError, UserRec, WriteError};
use crate::keys::{Email, UserKey};
use crate::scim::wire::User;
use crate::scim::{EmailLookup, ScimError};

/// A person to invite. The e-mail becomes their identity on Amplitude.
#[derive(Clone, Copy, Debug)]
pub struct Invite<'a> {
    pub email: &'a Email,
    pub given_name: &'a str,
    pub family_name: &'a str,
}

/// New names for a user; a part left `None` stays as it is.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct NameChange<'a> {
    pub(crate) given_name: Option<&'a str>,
    pub(crate) family_name: Option<&'a str>,
}

impl Directory {
    /// `POST /Users`: on Amplitude this e-mails the person an invitation. The user is recorded as
    /// invited by this gateway until seen with real names. Default lane: `Write`.
    pub async fn invite_user(
        &self,
        invite: Invite<'_>,
        lane: WriteLane,
    ) -> Result<Arc<UserRec>, WriteError> {
        let Invite {
            email,
            given_name: given,
            family_name: family,
        } = invite;
        let lane = lane.budget();
        let email = email.as_str();
        let key = self.user_key(email).into_string();
        let snapshot = self.snapshot();
        let known = match self.key_rule().email_lookup() {
            EmailLookup::ById => snapshot.user_by_key(&key),
            EmailLookup::ByUserName => snapshot.user_by_email(&key),
        };
        if snapshot.complete && known.is_some() {
            return Err(WriteError::AlreadyExists);
        }
        let sent_before = self.has_open_invite(&key);
        self.inner.invites.insert(key.clone());
        if !sent_before {
            // Recorded before sending: after a crash, a retry knows this gateway may have sent it.
            self.persist_invite(&key, true).await;
        }
        let user = User::new(email, given, family);
        let client = &self.inner.client;
        let result = match client.create_user(lane, &user).await {
            Ok(created) => Ok(created),
            Err(ScimError::Conflict { .. }) if sent_before => {
                // This gateway sent an invitation for this address before (perhaps one whose
                // answer was lost): the conflict may be our own invite. Look before reporting.
                match client.find_user(lane, email).await {
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
                    Ok(match client.find_user(lane, email).await? {
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
                if rec.key() != key {
                    self.persist_invite(rec.key(), true).await;
                }
                self.commit(vec![Change::UpsertUser(rec.clone())]).await;
                Ok(rec)
            }
            Err(e) => {
                if !matches!(e, WriteError::Unknown { .. }) && !sent_before {
                    self.inner.invites.remove(&key);
                    self.persist_invite(&key, false).await;
                }
                Err(e)
            }
        }
    }

    fn is_placeholder(&self, user: &User) -> bool {
        user.given_name() == Some(PLACEHOLDER_GIVEN)
    }

    /// The user as the upstream has it, for writes that send the full resource: the mirror's
    /// record, else one read in the write's own lane (a revocation never waits behind reads).
    async fn current(&self, key: &str, lane: WriteLane) -> Result<Arc<UserRec>, WriteError> {
        if let Some(rec) = self.snapshot().user_by_key(key) {
            return Ok(rec.clone());
        }
        match self.inner.client.get_user(lane.budget(), key).await {
            Ok(Some(user)) => Ok(self.rec_from(user)),
            Ok(None) => Err(WriteError::NotFound),
            Err(e) => Err(WriteError::NotApplied(DirectoryError::from(&e))),
        }
    }

    /// Replaces the names with `PUT` of the full resource. The e-mail cannot change.
    /// Default lane: `Write`.
    pub(crate) async fn update_user(
        &self,
        key: &UserKey,
        names: NameChange<'_>,
        lane: WriteLane,
    ) -> Result<Arc<UserRec>, WriteError> {
        let current = self.current(key.as_str(), lane).await?;
        let lane = lane.budget();
        let NameChange {
            given_name: given,
            family_name: family,
        } = names;
        let mut user = current.resource();
        let name = user.name.get_or_insert_with(Default::default);
        if let Some(g) = given {
            name.given_name = Some(g.to_owned());
        }
        if let Some(f) = family {
            name.family_name = Some(f.to_owned());
        }
        user.groups = None;
        // The version the mirror holds makes the write conditional where the service honours
        // ETags: another admin's change since is never overwritten unseen.
        let version = user.meta.take().and_then(|m| m.version);
        let id = current.id().to_owned();
        let client = &self.inner.client;
        let wanted = user.name.clone();
        let updated = match client
            .replace_user(lane, &id, &user, version.as_deref())
            .await
        {
            Ok(answer) => {
                // The new version, so the next write is conditional too.
                user.meta = answer.meta.filter(|m| m.version.is_some());
                user
            }
            Err(ScimError::PreconditionFailed) => {
                return Err(self.changed_meanwhile(&current, lane).await);
            }
            Err(e) => {
                self.settle(e, async {
                    Ok(match client.get_user(lane, &id).await? {
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
        self.commit(vec![Change::UpsertUser(rec.clone())]).await;
        Ok(rec)
    }

    /// After a conditional write found the user changed upstream: reads it again (in the
    /// write's lane) so the mirror shows what the change would have overwritten, and returns
    /// the conflict. Nothing was applied, whether or not the read succeeds.
    async fn changed_meanwhile(&self, current: &UserRec, lane: crate::budget::Lane) -> WriteError {
        match self.inner.client.get_user(lane, current.id()).await {
            Ok(Some(user)) => {
                let mut rec = (*self.rec_from(user)).clone();
                rec.seq = current.seq;
                self.commit(vec![Change::UpsertUser(Arc::new(rec))]).await;
            }
            Ok(None) => {
                self.commit(vec![Change::RemoveUser(current.key().to_owned())])
                    .await;
                return WriteError::NotFound;
            }
            Err(e) => {
                tracing::warn!(org = %self.org_id(), error = %e, "a user that changed upstream could not be read again");
            }
        }
        WriteError::Conflict
    }

    /// Sets `active: false`, in the critical lane. Amplitude then removes the user from the
    /// organization (and so from the mirror); elsewhere the user stays, deactivated.
    /// Returns the user's final state. Default lane: `Critical`.
    pub async fn deactivate_user(
        &self,
        key: &UserKey,
        lane: WriteLane,
    ) -> Result<Arc<UserRec>, WriteError> {
        let current = match self.current(key.as_str(), lane).await {
            // A stopped process sent this deactivation and the user is gone since: on a
            // profile where deactivating removes the user, that is the deactivation applied.
            Err(WriteError::NotFound)
                if crate::scim::trace::resuming() && self.profile().deactivation_removes_user() =>
            {
                let mut gone = self.member_stand_in(key.as_str(), None).resource();
                gone.active = false;
                return Ok(self.rec_from(gone));
            }
            other => other?,
        };
        let lane = lane.budget();
        let id = current.id().to_owned();
        let client = &self.inner.client;
        match client
            .set_active(lane, &id, &current.resource(), false)
            .await
        {
            Ok(()) => {}
            // It existed a moment ago: gone now is what was asked (an earlier try whose answer
            // was lost, retried as PUTs are, finds it removed).
            Err(ScimError::NotFound) => {}
            Err(e) => {
                self.settle(e, async {
                    Ok(match client.get_user(lane, &id).await? {
                        Some(u) if u.active => Settled::NotApplied,
                        _ => Settled::Applied(()),
                    })
                })
                .await?;
            }
        }
        let mut user = current.resource();
        user.active = false;
        let mut rec = (*self.rec_from(user)).clone();
        rec.seq = current.seq;
        let rec = Arc::new(rec);
        let change = if self.profile().deactivation_removes_user() {
            Change::RemoveUser(rec.key().to_owned())
        } else {
            Change::UpsertUser(rec.clone())
        };
        self.commit(vec![change]).await;
        Ok(rec)
    }

    /// `DELETE /Users/{id}`, in the critical lane: the user leaves the organization (a pending
    /// invitation is revoked). Default lane: `Critical`.
    pub(crate) async fn delete_user(
        &self,
        key: &UserKey,
        lane: WriteLane,
    ) -> Result<(), WriteError> {
        let key = key.as_str();
        let lane = lane.budget();
        let client = &self.inner.client;
        let known = self.snapshot().user_by_key(key).is_some();
        match client.delete_user(lane, key).await {
            Ok(()) => {}
            // The mirror knew the user, so it existed: gone now is what was asked (an earlier
            // try whose answer was lost, retried as DELETEs are, finds it gone).
            Err(ScimError::NotFound) if known => {}
            Err(e) => {
                self.settle(e, async {
                    Ok(match client.get_user(lane, key).await? {
                        Some(_) => Settled::NotApplied,
                        None => Settled::Applied(()),
                    })
                })
                .await?;
            }
        }
        if self.has_open_invite(key) {
            self.inner.invites.remove(key);
            self.persist_invite(key, false).await;
        }
        self.commit(vec![Change::RemoveUser(key.to_owned())]).await;
        Ok(())
    }
}
