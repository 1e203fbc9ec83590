//! Membership writes: add and remove members with one PATCH each (removal is a revocation), in
//! the organization's PATCH form, settled by reading the group back when no answer came.

use std::sync::Arc;

use super::WriteLane;
use super::mirror::Change;
use crate::directory::{Directory, GroupRec, WriteError};
use crate::keys::{GroupId, UserKey};
use crate::scim::wire::Group;

impl Directory {
    /// Adds members (user keys) with one PATCH. Default lane: `Write`.
    pub async fn add_members(
        &self,
        id: &GroupId,
        keys: &[UserKey],
        lane: WriteLane,
    ) -> Result<Arc<GroupRec>, WriteError> {
        let id = id.as_str();
        let refs: Vec<&str> = keys.iter().map(UserKey::as_str).collect();
        // The mirror's changes and events keep plain strings, as the records do.
        let keys: Vec<String> = refs.iter().map(|&k| k.to_owned()).collect();
        let answer = match self
            .inner
            .client
            .add_members(lane.budget(), id, &refs)
            .await
        {
            Ok(g) => g,
            Err(e) => {
                self.settle_patch(id, lane, e, |g| refs.iter().all(|v| is_member(g, v)))
                    .await?
            }
        };
        self.commit_members(
            id,
            answer,
            Change::AddMembers {
                group: id.to_owned(),
                keys: keys.clone(),
            },
        )
        .await
    }

    /// Removes members (user keys) with one PATCH. Default lane: `Critical`, as for every
    /// revocation.
    pub async fn remove_members(
        &self,
        id: &GroupId,
        keys: &[UserKey],
        lane: WriteLane,
    ) -> Result<Arc<GroupRec>, WriteError> {
        let id = id.as_str();
        let refs: Vec<&str> = keys.iter().map(UserKey::as_str).collect();
        // The mirror's changes and events keep plain strings, as the records do.
        let keys: Vec<String> = refs.iter().map(|&k| k.to_owned()).collect();
        let answer = match self
            .inner
            .client
            .remove_members(lane.budget(), id, &refs)
            .await
        {
            Ok(g) => g,
            Err(e) => {
                self.settle_patch(id, lane, e, |g| !refs.iter().any(|v| is_member(g, v)))
                    .await?
            }
        };
        self.commit_members(
            id,
            answer,
            Change::RemoveMembers {
                group: id.to_owned(),
                keys: keys.clone(),
            },
        )
        .await
    }

    /// Applies a membership change: the group as the upstream answered, else the delta.
    async fn commit_members(
        &self,
        id: &str,
        answer: Option<Group>,
        delta: Change,
    ) -> Result<Arc<GroupRec>, WriteError> {
        let change = match answer.and_then(|g| self.group_rec_now(g)) {
            Some(rec) => Change::UpsertGroup(rec),
            None => delta,
        };
        self.commit(vec![change]).await;
        self.snapshot()
            .group(id)
            .cloned()
            .ok_or(WriteError::NotFound)
    }
}

/// Whether `value` is among the group's members (compared as Amplitude does, ignoring case).
fn is_member(group: &Group, value: &str) -> bool {
    group
        .members
        .iter()
        .any(|m| m.value.eq_ignore_ascii_case(value))
}
