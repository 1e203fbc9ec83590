//! Failed writes reduced to what the caller must do: a known failure is mapped as it is, an
//! unknown outcome is settled by reading the object back, never by sending the write again.

use super::WriteLane;
use crate::directory::{Directory, DirectoryError, WriteError};
use crate::scim::ScimError;
use crate::scim::wire::Group;

/// How a read-back decided a write whose answer was lost.
pub(super) enum Settled<T> {
    Applied(T),
    NotApplied,
}

impl Directory {
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

    /// Reads the group back after a PATCH whose answer was lost; `done` says whether it shows
    /// the change.
    pub(super) async fn settle_patch(
        &self,
        id: &str,
        lane: WriteLane,
        error: ScimError,
        done: impl Fn(&Group) -> bool,
    ) -> Result<Option<Group>, WriteError> {
        let client = &self.inner.client;
        self.settle(error, async {
            Ok(match client.get_group(lane.budget(), id).await? {
                Some(g) if done(&g) => Settled::Applied(Some(g)),
                _ => Settled::NotApplied,
            })
        })
        .await
    }
}

/// A failure whose outcome is known.
fn known_failure(e: ScimError) -> WriteError {
    match e {
        ScimError::NotFound => WriteError::NotFound,
        ScimError::Conflict { .. } => WriteError::AlreadyExists,
        ScimError::Rejected { status, .. } => WriteError::Rejected { status },
        other => WriteError::NotApplied(DirectoryError::from(&other)),
    }
}
