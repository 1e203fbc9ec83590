//! Group writes: create, rename, delete, add and remove members (removal in the critical lane),
//! in the organization's PATCH form, settled by reading back when no answer came.

use std::sync::Arc;
use std::time::SystemTime;

use super::mirror::Change;
use super::users::Settled;
use crate::budget::Lane;
use crate::directory::events::EventKind;
use crate::directory::{Directory, GroupRec, Source, WriteError};
use crate::scim::wire::Group;

impl Directory {
    fn group_rec_now(&self, group: Group) -> Option<Arc<GroupRec>> {
        Directory::group_rec(
            self.profile(),
            group,
            u64::MAX,
            SystemTime::now(),
            Source::Mirror,
        )
        .map(Arc::new)
    }

    /// `POST /Groups` with these members (user keys the mirror knows).
    pub async fn create_group(
        &self,
        name: &str,
        member_keys: &[String],
    ) -> Result<Arc<GroupRec>, WriteError> {
        // A member's value is the user's key: the e-mail on Amplitude, the id elsewhere.
        let refs: Vec<&str> = member_keys.iter().map(String::as_str).collect();
        let client = &self.inner.client;
        let group = match client.create_group(Lane::Write, name, &refs).await {
            Ok(g) => g,
            Err(e) => {
                self.settle(e, async {
                    Ok(match client.find_group_by_name(Lane::Write, name).await? {
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
        self.commit(
            vec![Change::UpsertGroup(rec.clone())],
            vec![(
                EventKind::GroupCreated,
                rec.id.clone(),
                member_keys.to_vec(),
            )],
        )
        .await;
        Ok(rec)
    }

    /// The group as the mirror (or one read) has it.
    async fn current_group(&self, id: &str) -> Result<Arc<GroupRec>, WriteError> {
        match self.group(id).await {
            Ok(Some(g)) => Ok(g),
            Ok(None) => Err(WriteError::NotFound),
            Err(e) => Err(WriteError::NotApplied(e)),
        }
    }

    /// Reads the group back after a PATCH whose answer was lost; `done` says whether it shows
    /// the change.
    async fn settle_patch(
        &self,
        id: &str,
        lane: Lane,
        error: crate::scim::ScimError,
        done: impl Fn(&Group) -> bool,
    ) -> Result<Option<Group>, WriteError> {
        let client = &self.inner.client;
        self.settle(error, async {
            Ok(match client.get_group(lane, id).await? {
                Some(g) if done(&g) => Settled::Applied(Some(g)),
                _ => Settled::NotApplied,
            })
        })
        .await
    }

    pub async fn rename_group(&self, id: &str, name: &str) -> Result<Arc<GroupRec>, WriteError> {
        let current = self.current_group(id).await?;
        let answer = match self.inner.client.rename_group(Lane::Write, id, name).await {
            Ok(g) => g,
            Err(e) => {
                self.settle_patch(id, Lane::Write, e, |g| g.display_name == name)
                    .await?
            }
        };
        let group = answer.unwrap_or_else(|| {
            let mut g = current.resource();
            g.display_name = name.to_owned();
            g
        });
        let mut rec = (*self
            .group_rec_now(group)
            .ok_or(WriteError::Rejected { status: 0 })?)
        .clone();
        rec.seq = current.seq;
        let rec = Arc::new(rec);
        self.commit(
            vec![Change::UpsertGroup(rec.clone())],
            vec![(EventKind::GroupRenamed, rec.id.clone(), vec![])],
        )
        .await;
        Ok(rec)
    }

    pub async fn delete_group(&self, id: &str) -> Result<(), WriteError> {
        let client = &self.inner.client;
        match client.delete_group(Lane::Write, id).await {
            Ok(()) => {}
            Err(e) => {
                self.settle(e, async {
                    Ok(match client.get_group(Lane::Write, id).await? {
                        Some(_) => Settled::NotApplied,
                        None => Settled::Applied(()),
                    })
                })
                .await?
            }
        }
        self.commit(
            vec![Change::RemoveGroup(id.to_owned())],
            vec![(EventKind::GroupDeleted, id.to_owned(), vec![])],
        )
        .await;
        Ok(())
    }

    /// Adds members (user keys) with one PATCH.
    pub async fn add_members(
        &self,
        id: &str,
        keys: &[String],
    ) -> Result<Arc<GroupRec>, WriteError> {
        let refs: Vec<&str> = keys.iter().map(String::as_str).collect();
        let answer = match self.inner.client.add_members(Lane::Write, id, &refs).await {
            Ok(g) => g,
            Err(e) => {
                self.settle_patch(id, Lane::Write, e, |g| refs.iter().all(|v| is_member(g, v)))
                    .await?
            }
        };
        self.commit_members(
            id,
            answer,
            Change::AddMembers {
                group: id.to_owned(),
                keys: keys.to_vec(),
            },
            EventKind::MembersAdded,
            keys,
        )
        .await
    }

    /// Removes members (user keys) with one PATCH, in the critical lane.
    pub async fn remove_members(
        &self,
        id: &str,
        keys: &[String],
    ) -> Result<Arc<GroupRec>, WriteError> {
        let refs: Vec<&str> = keys.iter().map(String::as_str).collect();
        let answer = match self
            .inner
            .client
            .remove_members(Lane::Critical, id, &refs)
            .await
        {
            Ok(g) => g,
            Err(e) => {
                self.settle_patch(id, Lane::Critical, e, |g| {
                    !refs.iter().any(|v| is_member(g, v))
                })
                .await?
            }
        };
        self.commit_members(
            id,
            answer,
            Change::RemoveMembers {
                group: id.to_owned(),
                keys: keys.to_vec(),
            },
            EventKind::MembersRemoved,
            keys,
        )
        .await
    }

    /// Applies a membership change: the group as the upstream answered, else the delta.
    async fn commit_members(
        &self,
        id: &str,
        answer: Option<Group>,
        delta: Change,
        kind: EventKind,
        keys: &[String],
    ) -> Result<Arc<GroupRec>, WriteError> {
        let change = match answer.and_then(|g| self.group_rec_now(g)) {
            Some(rec) => Change::UpsertGroup(rec),
            None => delta,
        };
        self.commit(vec![change], vec![(kind, id.to_owned(), keys.to_vec())])
            .await;
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
