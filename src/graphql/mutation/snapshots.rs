//! `takeSnapshot`: the organization's access as the mirror holds it now, kept in the store
//! hash-chained to its previous snapshot. Admin and auditor keys; audited like every mutation.

use async_graphql::{Context, ID, InputObject, Object, Result};
use serde::Serialize;

use super::{Call, UserError, UserErrorCode, WriteOptions, journal, org_of, orgs_named, payload};
use crate::auth::Principal;
use crate::directory::Directories;
use crate::governance::snapshots;
use crate::graphql::guard::AuditGuard;
use crate::graphql::types::{Snapshot, store_of};
use crate::store::{Appended, SnapshotTrigger, now_ms};

#[derive(Default)]
pub struct SnapshotMutation;

/// Input of `takeSnapshot`.
#[derive(InputObject, Serialize)]
pub struct TakeSnapshotInput {
    /// The organization (its id or slug); may be left out when the gateway serves one.
    pub org: Option<ID>,
    #[graphql(flatten)]
    #[serde(skip)]
    pub options: WriteOptions,
}

payload!(
    /// The result of `takeSnapshot`.
    TakeSnapshotPayload {
        /// The snapshot taken.
        snapshot: Option<Snapshot>,
    }
);

#[Object]
impl SnapshotMutation {
    /// Takes a snapshot of the organization's access now: every user (e-mail, names, status)
    /// with its groups, from the mirror (nothing is sent upstream; `complete` says whether the
    /// mirror had loaded fully, `mirrorFetchedAt` how fresh it was). Admin and auditor keys.
    #[graphql(guard = "AuditGuard")]
    async fn take_snapshot(
        &self,
        ctx: &Context<'_>,
        input: TakeSnapshotInput,
    ) -> Result<TakeSnapshotPayload> {
        let dirs = ctx.data::<Directories>()?;
        let by = ctx
            .data_opt::<Principal>()
            .map_or_else(|| "unknown".to_owned(), |p| p.name.clone());
        Call::new(
            "takeSnapshot",
            &input,
            &input.options,
            orgs_named(dirs, input.org.as_ref(), []),
        )
        .run(ctx, async move {
            let dir = org_of(dirs, input.org.as_ref(), &["input", "org"])?;
            let store = store_of(ctx, "snapshots").map_err(|_| journal::store_unavailable())?;
            let org = dir.org_id().as_str();
            let appended = snapshots::take(
                store,
                org,
                dir.snapshot(),
                |k| dir.has_open_invite(k),
                snapshots::Take {
                    trigger: SnapshotTrigger::Manual,
                    taken_by: &by,
                    taken_at_ms: now_ms(),
                    min_gap_ms: None,
                    audit: false,
                },
            )
            .await
            .map_err(|e| {
                tracing::error!(org, error = %e, "a snapshot could not be stored");
                journal::store_unavailable()
            })?;
            match appended {
                Appended::Taken(row) => Ok(TakeSnapshotPayload::success(Some(Snapshot {
                    row: Box::new(row),
                }))),
                Appended::TooSoon { .. } => Err(UserError::new(
                    UserErrorCode::StoreUnavailable,
                    &[],
                    "the snapshot was not taken; try again",
                )),
            }
        })
        .await
    }
}
