//! Group writes: create, rename, delete. Each goes out at once in its lane, is applied to the
//! mirror when confirmed, and is settled by reading back when no answer came.

use std::sync::Arc;

use super::WriteLane;
use super::mirror::Change;
use super::settle::Settled;
use crate::directory::{Directory, GroupRec, WriteError};
use crate::keys::{GroupId, UserKey};
use crate::scim::ScimError;

impl Directory {
    /// `POST /Groups` with these members (user keys the mirror knows). Default lane: `Write`.
    pub(crate) async fn create_group(
        &self,
        name: &str,
        member_keys: &[UserKey],
        lane: WriteLane,
    ) -> Result<Arc<GroupRec>, WriteError> {
        let lane = lane.budget();
        // A member's value is the user's key: the e-mail on Amplitude, the id elsewhere.
        let refs: Vec<&str> = member_keys.iter().map(UserKey::as_str).collect();
        let client = &self.inner.client;
        let group = match client.create_group(lane, name, &refs).await {
            Ok(g) => g,
            Err(e) => {
                self.settle(e, async {
                    Ok(match client.find_group_by_name(lane, name).await? {
                        Some(g) => Settled::Applied(g),
                        None => Settled::NotApplied,
                    })
                })
                .await?
            }
        };
        let rec = self
            .group_rec_now(group)
            .ok_or(WriteError::Rejected { status: 0 })?;
        self.commit(vec![Change::UpsertGroup(rec.clone())]).await;
        Ok(rec)
    }

    /// The group as the mirror (or one read) has it.
    async fn current_group(&self, id: &GroupId) -> Result<Arc<GroupRec>, WriteError> {
        match self.group(id).await {
            Ok(Some(g)) => Ok(g),
            Ok(None) => Err(WriteError::NotFound),
            Err(e) => Err(WriteError::NotApplied(e)),
        }
    }

    /// Renames the group with one PATCH. Default lane: `Write`.
    pub(crate) async fn rename_group(
        &self,
        id: &GroupId,
        name: &str,
        lane: WriteLane,
    ) -> Result<Arc<GroupRec>, WriteError> {
        let current = self.current_group(id).await?;
        let id = id.as_str();
        let client = &self.inner.client;
        // Conditional on the version the mirror holds, where the service honours ETags.
        let version = current
            .group
            .meta
            .as_ref()
            .and_then(|m| m.version.as_deref());
        let answer = match client.rename_group(lane.budget(), id, name, version).await {
            Ok(g) => g,
            Err(ScimError::PreconditionFailed) => {
                return Err(match client.get_group(lane.budget(), id).await {
                    Ok(Some(now)) => {
                        if let Some(rec) = self.group_rec_now(now) {
                            let mut rec = (*rec).clone();
                            rec.seq = current.seq;
                            self.commit(vec![Change::UpsertGroup(Arc::new(rec))]).await;
                        }
                        WriteError::Conflict
                    }
                    Ok(None) => {
                        self.commit(vec![Change::RemoveGroup(id.to_owned())]).await;
                        WriteError::NotFound
                    }
                    Err(e) => {
                        tracing::warn!(org = %self.org_id(), error = %e, "a group that changed upstream could not be read again");
                        WriteError::Conflict
                    }
                });
            }
            Err(e) => {
                self.settle_patch(id, lane, e, |g| g.display_name == name)
                    .await?
            }
        };
        let group = answer.unwrap_or_else(|| {
            let mut g = current.resource();
            g.display_name = name.to_owned();
            // The new version is not known: the next write is unconditional until a read.
            if let Some(meta) = g.meta.as_mut() {
                meta.version = None;
            }
            g
        });
        let mut rec = (*self
            .group_rec_now(group)
            .ok_or(WriteError::Rejected { status: 0 })?)
        .clone();
        rec.seq = current.seq;
        let rec = Arc::new(rec);
        self.commit(vec![Change::UpsertGroup(rec.clone())]).await;
        Ok(rec)
    }

    /// `DELETE /Groups/{id}`: the members stay in the organization. Default lane: `Write`.
    pub(crate) async fn delete_group(
        &self,
        id: &GroupId,
        lane: WriteLane,
    ) -> Result<(), WriteError> {
        let id = id.as_str();
        let lane = lane.budget();
        let client = &self.inner.client;
        match client.delete_group(lane, id).await {
            Ok(()) => {}
            Err(e) => {
                self.settle(e, async {
                    Ok(match client.get_group(lane, id).await? {
                        Some(_) => Settled::NotApplied,
                        None => Settled::Applied(()),
                    })
                })
                .await?;
            }
        }
        self.commit(vec![Change::RemoveGroup(id.to_owned())]).await;
        Ok(())
    }
}
