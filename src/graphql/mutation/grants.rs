//! Time-bound group access: `grantGroupAccess`, `revokeGrant` and `extendGrant`. The rules
//! (standing access, overlaps, the maximum) live in `governance`; this maps them to inputs,
//! payloads and user errors.

use std::time::Duration;

use async_graphql::{Context, ID, InputObject, Object, Result};
use serde::Serialize;

use super::{
    Call, UserError, UserErrorCode, WriteOptions, grant_of, group_of, journal, orgs_named, payload,
    user_of, write_error,
};
use crate::auth::{Principal, Role};
use crate::directory::Directories;
use crate::governance::{GrantError, GrantRequest};
use crate::graphql::guard::RoleGuard;
use crate::graphql::types::DateTime;
use crate::graphql::types::grant::{Grant, ms_of, service};
use crate::store::now_ms;

#[derive(Default)]
pub struct GrantMutation;

/// Input of `grantGroupAccess`: give exactly one of `duration` and `expiresAt`.
#[derive(InputObject, Serialize)]
pub struct GrantGroupAccessInput {
    /// The user (a User id, or an e-mail address), already in the organization.
    pub user_id: ID,
    /// The group (a Group id, or the upstream's id when the gateway serves one organization).
    pub group_id: ID,
    /// How long, from now: `4h`, `90m`, `2days`.
    pub duration: Option<String>,
    /// When it ends.
    pub expires_at: Option<DateTime>,
    /// Why (1 to 500 characters): kept with the grant and in the audit log.
    pub reason: String,
    #[graphql(flatten)]
    #[serde(skip)]
    pub options: WriteOptions,
}

/// Input of `revokeGrant`.
#[derive(InputObject, Serialize)]
pub struct RevokeGrantInput {
    /// The grant (a Grant id).
    pub id: ID,
    #[graphql(flatten)]
    #[serde(skip)]
    pub options: WriteOptions,
}

/// Input of `extendGrant`: give exactly one of `until` and `by`.
#[derive(InputObject, Serialize)]
pub struct ExtendGrantInput {
    /// The grant (a Grant id).
    pub id: ID,
    /// The new end.
    pub until: Option<DateTime>,
    /// Added to the current end: `1h`, `30m`.
    pub by: Option<String>,
    #[graphql(flatten)]
    #[serde(skip)]
    pub options: WriteOptions,
}

payload!(
    /// The result of `grantGroupAccess`.
    GrantGroupAccessPayload {
        /// The grant: `ACTIVE` (with `standing` when the user was a member already).
        grant: Option<Grant>,
    }
);
payload!(
    /// The result of `revokeGrant`.
    RevokeGrantPayload {
        /// The grant, `REVOKED`.
        grant: Option<Grant>,
    }
);
payload!(
    /// The result of `extendGrant`.
    ExtendGrantPayload {
        /// The grant with its new end.
        grant: Option<Grant>,
    }
);

pub(super) fn duration_of(text: &str, field: &[&str]) -> Result<i64, UserError> {
    humantime::parse_duration(text.trim())
        .ok()
        .filter(|d| !d.is_zero())
        .map(|d: Duration| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .ok_or_else(|| {
            UserError::new(
                UserErrorCode::InvalidDuration,
                field,
                format!(
                    "{:?} is not a duration: write it like `4h`, `90m` or `2days`",
                    text.chars().take(40).collect::<String>()
                ),
            )
        })
}

/// A grant's reason: kept with it and in the audit log, so a person can read it later.
fn check_reason(value: &str) -> Result<&str, UserError> {
    let trimmed = value.trim();
    if trimmed.is_empty() || trimmed.chars().count() > 500 || trimmed.chars().any(char::is_control)
    {
        return Err(UserError::new(
            UserErrorCode::InvalidReason,
            &["input", "reason"],
            "say why in 1 to 500 characters (a ticket, an incident), without control characters",
        ));
    }
    Ok(trimmed)
}

fn one_of(field: &[&str], names: &str) -> UserError {
    UserError::new(
        UserErrorCode::InvalidDuration,
        field,
        format!("give exactly one of {names}"),
    )
}

/// A governance refusal or failure as a user error on `field`.
fn grant_error(e: GrantError, field: &[&str]) -> UserError {
    use UserErrorCode as C;
    match e {
        GrantError::TooLong { .. } => UserError::new(C::GrantTooLong, field, e.to_string()),
        GrantError::EndInPast => UserError::new(C::InvalidDuration, field, e.to_string()),
        GrantError::NotFound => UserError::new(C::NotFound, &["input", "id"], "no such grant"),
        GrantError::NotActive(_) => {
            UserError::new(C::GrantNotActive, &["input", "id"], e.to_string())
        }
        GrantError::Write(w, _) => write_error(w, field, "the group's membership"),
        GrantError::Store(_) => journal::store_unavailable(),
    }
}

fn actor(ctx: &Context<'_>) -> String {
    ctx.data_opt::<Principal>()
        .map_or_else(|| "unknown".to_owned(), |p| p.name.clone())
}

#[Object]
impl GrantMutation {
    /// Adds a user to a group until a set time (one PATCH, unless the user is a member
    /// already: then the grant records standing access and nothing is sent). At the end the
    /// gateway removes the membership in the organization's critical lane, retrying with
    /// backoff until the upstream takes it; a membership another active grant still holds
    /// stays until the last one ends.
    #[graphql(guard = "RoleGuard(Role::Write)")]
    async fn grant_group_access(
        &self,
        ctx: &Context<'_>,
        input: GrantGroupAccessInput,
    ) -> Result<GrantGroupAccessPayload> {
        let dirs = ctx.data::<Directories>()?;
        let orgs = orgs_named(dirs, None, [&input.group_id, &input.user_id]);
        let granted_by = actor(ctx);
        Call::new("grantGroupAccess", &input, &input.options, orgs)
            .run(ctx, async move {
                let grants = service(ctx).map_err(|_| journal::store_unavailable())?;
                let reason = check_reason(&input.reason)?;
                let now = now_ms();
                let expires_ms = match (&input.duration, input.expires_at) {
                    (Some(d), None) => now.saturating_add(duration_of(d, &["input", "duration"])?),
                    (None, Some(t)) => ms_of(t),
                    _ => return Err(one_of(&["input", "duration"], "`duration` and `expiresAt`")),
                };
                let field: &[&str] = if input.duration.is_some() {
                    &["input", "duration"]
                } else {
                    &["input", "expiresAt"]
                };
                let (dir, group) = group_of(dirs, &input.group_id, None, &["input", "groupId"])?;
                let (_, user) =
                    user_of(dirs, &input.user_id, Some(&dir), &["input", "userId"]).await?;
                let email = match dir.user(&user).await {
                    Ok(Some(rec)) => rec.email().to_owned(),
                    Ok(None) => {
                        return Err(UserError::new(
                            UserErrorCode::NotFound,
                            &["input", "userId"],
                            format!(
                                "{:?} is not a user of the organization",
                                input.user_id.as_str()
                            ),
                        ));
                    }
                    Err(e) => {
                        return Err(write_error(
                            crate::directory::WriteError::NotApplied(e),
                            &["input", "userId"],
                            "the user",
                        ));
                    }
                };
                let request = GrantRequest {
                    dir: &dir,
                    user: &user,
                    email: &email,
                    group: &group,
                    granted_by: &granted_by,
                    reason,
                    expires_ms,
                };
                let grant = grants.grant(request, now).await.map_err(|e| match e {
                    GrantError::Write(..) => grant_error(e, &["input", "groupId"]),
                    other => grant_error(other, field),
                })?;
                Ok(GrantGroupAccessPayload::success(Some(Grant {
                    row: Box::new(grant),
                })))
            })
            .await
    }

    /// Ends a grant now: its membership is removed at once in the critical lane (unless it
    /// was standing or another active grant holds it). If the upstream fails, the grant stays
    /// active and `overdue` and the gateway keeps trying.
    #[graphql(guard = "RoleGuard(Role::Write)")]
    async fn revoke_grant(
        &self,
        ctx: &Context<'_>,
        input: RevokeGrantInput,
    ) -> Result<RevokeGrantPayload> {
        let dirs = ctx.data::<Directories>()?;
        let orgs = orgs_named(dirs, None, [&input.id]);
        let by = actor(ctx);
        Call::new("revokeGrant", &input, &input.options, orgs)
            .run(ctx, async move {
                let grants = service(ctx).map_err(|_| journal::store_unavailable())?;
                let (_, id) = grant_of(dirs, &input.id, &["input", "id"])?;
                let grant = grants.revoke(&id, &by, now_ms()).await.map_err(|e| {
                    let mut error = grant_error(e, &["input", "id"]);
                    if !error.refused_input {
                        error.message.push_str(
                            "; the grant stays active and overdue, and the gateway keeps trying to remove it",
                        );
                    }
                    error
                })?;
                Ok(RevokeGrantPayload::success(Some(Grant {
                    row: Box::new(grant),
                })))
            })
            .await
    }

    /// Moves an active grant's end (`until`, or `by` added to the current end), at most
    /// `grants.max_duration` from now. Sends nothing upstream.
    #[graphql(guard = "RoleGuard(Role::Write)")]
    async fn extend_grant(
        &self,
        ctx: &Context<'_>,
        input: ExtendGrantInput,
    ) -> Result<ExtendGrantPayload> {
        let dirs = ctx.data::<Directories>()?;
        let orgs = orgs_named(dirs, None, [&input.id]);
        let by = actor(ctx);
        Call::new("extendGrant", &input, &input.options, orgs)
            .run(ctx, async move {
                let grants = service(ctx).map_err(|_| journal::store_unavailable())?;
                let (_, id) = grant_of(dirs, &input.id, &["input", "id"])?;
                let current = grants
                    .store()
                    .grant(&id)
                    .await
                    .map_err(|_| journal::store_unavailable())?
                    .ok_or_else(|| grant_error(GrantError::NotFound, &["input", "id"]))?;
                let (until, field) = match (input.until, &input.by) {
                    (Some(t), None) => (ms_of(t), ["input", "until"]),
                    (None, Some(d)) => (
                        current
                            .expires_ms
                            .saturating_add(duration_of(d, &["input", "by"])?),
                        ["input", "by"],
                    ),
                    _ => return Err(one_of(&["input", "until"], "`until` and `by`")),
                };
                let grant = grants
                    .extend(&id, until, &by, now_ms())
                    .await
                    .map_err(|e| grant_error(e, &field))?;
                Ok(ExtendGrantPayload::success(Some(Grant {
                    row: Box::new(grant),
                })))
            })
            .await
    }
}
