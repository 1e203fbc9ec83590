//! A proxied write made visible in the mirror: from the upstream's answer when it holds the
//! whole resource (a user with its `userName`, a group with its `members`), else by reading
//! the one object back in the write's lane; a `DELETE` removes the object without a read.

use std::sync::Arc;

use reqwest::Method;
use serde_json::Value;

use super::Target;
use crate::budget::Lane;
use crate::directory::Directory;
use crate::directory::writes::Change;
use crate::scim::Forwarded;
use crate::scim::wire::{Group, User};

impl Directory {
    /// Applies what a successful write did to the mirror.
    pub(super) async fn absorb(
        &self,
        method: &Method,
        target: &Target,
        answer: &Forwarded,
        lane: Lane,
    ) {
        let body: Option<Value> = serde_json::from_str(&answer.body).ok();
        let changes = match (method.as_str(), target) {
            ("DELETE", Target::User(id)) => {
                let key = self.user_key(id).into_string();
                if self.has_open_invite(&key) {
                    self.inner.invites.remove(&key);
                    self.persist_invite(&key, false).await;
                }
                vec![Change::RemoveUser(key)]
            }
            ("DELETE", Target::Group(id)) => vec![Change::RemoveGroup(id.clone())],
            ("POST", Target::Users) => match whole_user(body) {
                Some(user) => {
                    // As `inviteUser` does: on Amplitude the person was e-mailed an invitation.
                    let key = self.key_rule().key_of(&user).into_string();
                    self.inner.invites.insert(key.clone());
                    self.persist_invite(&key, true).await;
                    vec![self.user_change(user)]
                }
                None => Vec::new(),
            },
            ("POST", Target::Groups) => whole_group(body)
                .and_then(|g| self.group_change(g))
                .into_iter()
                .collect(),
            ("PUT" | "PATCH", Target::User(_)) => match whole_user(body) {
                Some(user) => vec![self.user_change(user)],
                None => self.read_back(target, lane).await,
            },
            ("PUT" | "PATCH", Target::Group(_)) => {
                match whole_group(body).and_then(|g| self.group_change(g)) {
                    Some(change) => vec![change],
                    None => self.read_back(target, lane).await,
                }
            }
            // A collection-wide or discovery write: nothing the mirror can place; the next
            // refresh reads it.
            _ => Vec::new(),
        };
        if !changes.is_empty() {
            self.commit(changes).await;
        }
    }

    /// After a write whose outcome is unknown: the object as it now is, in the mirror.
    pub(super) async fn reread(&self, target: &Target, lane: Lane) {
        let changes = self.read_back(target, lane).await;
        if !changes.is_empty() {
            self.commit(changes).await;
        }
    }

    /// The one object `target` names, read in `lane`, as a change to the mirror (none when
    /// the read fails: the next refresh corrects the mirror then).
    async fn read_back(&self, target: &Target, lane: Lane) -> Vec<Change> {
        let client = &self.inner.client;
        match target {
            Target::User(id) => match client.get_user(lane, id).await {
                Ok(Some(user)) => vec![self.user_change(user)],
                Ok(None) => vec![Change::RemoveUser(self.user_key(id).into_string())],
                Err(e) => {
                    tracing::warn!(org = %self.org_id(), error = %e, "a proxied user could not be read back; the mirror waits for the next refresh");
                    Vec::new()
                }
            },
            Target::Group(id) => match client.get_group(lane, id).await {
                Ok(Some(group)) => self.group_change(group).into_iter().collect(),
                Ok(None) => vec![Change::RemoveGroup(id.clone())],
                Err(e) => {
                    tracing::warn!(org = %self.org_id(), error = %e, "a proxied group could not be read back; the mirror waits for the next refresh");
                    Vec::new()
                }
            },
            _ => Vec::new(),
        }
    }

    /// A user as the upstream has it, for the mirror: removed where deactivating removes the
    /// user (Amplitude), else upserted in its place in the upstream order.
    fn user_change(&self, mut user: User) -> Change {
        // Memberships live in the groups; the mirror's users never carry them.
        user.groups = None;
        let rec = self.rec_from(user);
        if !rec.active() && self.profile().deactivation_removes_user() {
            return Change::RemoveUser(rec.key().to_owned());
        }
        let mut rec = (*rec).clone();
        if let Some(current) = self.snapshot().user_by_key(rec.key()) {
            rec.seq = current.seq;
        }
        Change::UpsertUser(Arc::new(rec))
    }

    fn group_change(&self, group: Group) -> Option<Change> {
        let rec = self.group_rec_now(group)?;
        let mut rec = (*rec).clone();
        if let Some(current) = self.snapshot().group(&rec.id) {
            rec.seq = current.seq;
        }
        Some(Change::UpsertGroup(Arc::new(rec)))
    }
}

/// A user answer that is a whole resource (with `id` and `userName`).
fn whole_user(body: Option<Value>) -> Option<User> {
    let user: User = serde_json::from_value(body?).ok()?;
    user.id.is_some().then_some(user)
}

/// A group answer that is a whole resource: with `id`, `displayName` and `members` (an answer
/// without `members` says nothing of them, so it is not taken as "no members").
fn whole_group(body: Option<Value>) -> Option<Group> {
    let body = body?;
    body.get("members")?;
    let group: Group = serde_json::from_value(body).ok()?;
    group.id.is_some().then_some(group)
}
