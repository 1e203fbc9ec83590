//! User mutations: invite, update, deactivate (one or many), delete.

use async_graphql::{Context, ID, InputObject, Object, Result, SimpleObject};
use futures_util::future::join_all;
use serde::Serialize;

use super::{
    Call, UserError, UserErrorCode, WriteOptions, WriteOutcome, check_count, check_email,
    check_name, group_of, org_of, orgs_named, payload, user_of, write_error,
};
use crate::auth::Role;
use crate::directory::{
    DirHandle, Directories, DirectoryReads, DirectoryWrites, Invite, NameChange, WriteLane,
};
use crate::graphql::guard::RoleGuard;
use crate::graphql::ids::{GlobalId, Kind};
use crate::graphql::types::{Group, User};

#[derive(Default)]
pub struct UserMutation;

/// Input of `inviteUser`.
#[derive(InputObject, Serialize)]
pub struct InviteUserInput {
    /// The organization (its id or slug); may be left out when the gateway serves one.
    pub org: Option<ID>,
    /// The person's e-mail address. It becomes the user's identity in Amplitude and cannot be
    /// changed later (a new address means deleting the user and inviting the new one).
    pub email: String,
    pub given_name: String,
    pub family_name: String,
    /// Groups to add the user to. Amplitude ignores groups sent with a user, so the gateway adds
    /// the user to each group itself, one request per group.
    pub group_ids: Option<Vec<ID>>,
    #[graphql(flatten)]
    #[serde(skip)]
    pub options: WriteOptions,
}

payload!(
    /// The result of `inviteUser`.
    InviteUserPayload {
        /// The invited user (status INVITED until they accept).
        user: Option<User>,
        /// The groups the user was added to.
        groups_applied: Vec<Group>,
    }
);

/// Input of `updateUser`. The e-mail address cannot be changed: Amplitude uses it as the user's
/// identity. To change it, delete the user and invite the new address.
#[derive(InputObject, Serialize)]
pub struct UpdateUserInput {
    /// The user (a User id, or the e-mail address when the gateway serves one organization).
    pub id: ID,
    /// The new given name; unchanged when left out.
    pub given_name: Option<String>,
    /// The new family name; unchanged when left out.
    pub family_name: Option<String>,
    #[graphql(flatten)]
    #[serde(skip)]
    pub options: WriteOptions,
}

payload!(
    /// The result of `updateUser`.
    UpdateUserPayload {
        /// The user as updated.
        user: Option<User>,
    }
);

/// Input of `deactivateUser`.
#[derive(InputObject, Serialize)]
pub struct DeactivateUserInput {
    /// The user (a User id, or the e-mail address when the gateway serves one organization).
    pub id: ID,
    #[graphql(flatten)]
    #[serde(skip)]
    pub options: WriteOptions,
}

/// Input of `deleteUser`.
#[derive(InputObject, Serialize)]
pub struct DeleteUserInput {
    /// The user (a User id, or the e-mail address when the gateway serves one organization).
    pub id: ID,
    #[graphql(flatten)]
    #[serde(skip)]
    pub options: WriteOptions,
}

payload!(
    /// The result of `deactivateUser`.
    DeactivateUserPayload {
        /// The user's final state (status DEACTIVATED). On Amplitude the user has left the
        /// organization and no longer appears in reads.
        user: Option<User>,
    }
);

payload!(
    /// The result of `deleteUser`.
    DeleteUserPayload {
        /// The id of the user who was removed.
        deleted_user_id: Option<ID>,
    }
);

/// Input of `deactivateUsers`.
#[derive(InputObject, Serialize)]
pub struct DeactivateUsersInput {
    /// Up to 100 users.
    pub ids: Vec<ID>,
    /// Report what would be sent, and what it costs, without sending anything.
    #[graphql(default = false)]
    pub dry_run: bool,
    #[graphql(flatten)]
    #[serde(skip)]
    pub options: WriteOptions,
}

/// One user's result in `deactivateUsers`.
#[derive(SimpleObject, Clone)]
pub struct DeactivateUserResult {
    /// The id as given.
    pub id: ID,
    /// The user's e-mail address, when known.
    pub email: Option<String>,
    /// In a dry run, SUCCESS means the user exists and would be deactivated.
    pub outcome: WriteOutcome,
    pub user_error: Option<UserError>,
}

impl super::Stored for DeactivateUserResult {
    fn save(&self) -> serde_json::Value {
        serde_json::json!({
            "id": self.id.save(),
            "email": self.email.save(),
            "outcome": self.outcome.save(),
            "userError": self.user_error.save(),
        })
    }
    fn load(v: &serde_json::Value, dirs: &Directories) -> Option<Self> {
        use super::Stored;
        Some(DeactivateUserResult {
            id: Stored::load(&v["id"], dirs)?,
            email: Stored::load(&v["email"], dirs)?,
            outcome: Stored::load(&v["outcome"], dirs)?,
            user_error: Stored::load(&v["userError"], dirs)?,
        })
    }
}

payload!(
    /// The result of `deactivateUsers`.
    DeactivateUsersPayload {
        /// Whether this was a dry run (nothing sent).
        dry_run: bool,
        /// Upstream requests the deactivations cost (or would cost).
        upstream_calls: i32,
        /// About how long they take at the organization's budget; revocations go first.
        estimated_seconds: f64,
        /// One result per id, in order.
        results: Vec<DeactivateUserResult>,
    }
);

#[Object]
impl UserMutation {
    /// Invites a person: `POST /Users`, which makes Amplitude **send them an invitation e-mail**,
    /// then adds them to each of `groupIds`. The user reads back as INVITED until they accept.
    /// A group that cannot be applied is reported in `userErrors` (outcome PARTIAL); the rest
    /// stay applied.
    #[graphql(guard = "RoleGuard(Role::Write)")]
    async fn invite_user(
        &self,
        ctx: &Context<'_>,
        input: InviteUserInput,
    ) -> Result<InviteUserPayload> {
        let dirs = ctx.data::<Directories<DirHandle>>()?;
        let orgs = orgs_named(dirs, input.org.as_ref(), input.group_ids.iter().flatten());
        Call::new("inviteUser", &input, &input.options, orgs)
            .run(ctx, invite(dirs, input))
            .await
    }

    /// Changes a user's names (`PUT` of the full user). The e-mail address cannot be changed in
    /// Amplitude: delete the user and invite the new address instead.
    #[graphql(guard = "RoleGuard(Role::Write)")]
    async fn update_user(
        &self,
        ctx: &Context<'_>,
        input: UpdateUserInput,
    ) -> Result<UpdateUserPayload> {
        let dirs = ctx.data::<Directories<DirHandle>>()?;
        Call::new(
            "updateUser",
            &input,
            &input.options,
            orgs_named(dirs, None, [&input.id]),
        )
        .run(ctx, update(dirs, input))
        .await
    }

    /// Deactivates a user (`active: false`), ahead of every other request of the organization.
    /// Amplitude removes a deactivated user from the organization (a pending invitation is
    /// revoked), so the user disappears from reads; `deleteUser` does the same by `DELETE`. On
    /// other SCIM services the user stays, with status DEACTIVATED, and can be reactivated there.
    #[graphql(guard = "RoleGuard(Role::Write)")]
    async fn deactivate_user(
        &self,
        ctx: &Context<'_>,
        input: DeactivateUserInput,
    ) -> Result<DeactivateUserPayload> {
        let dirs = ctx.data::<Directories<DirHandle>>()?;
        Call::new(
            "deactivateUser",
            &input,
            &input.options,
            orgs_named(dirs, None, [&input.id]),
        )
        .run(ctx, deactivate(dirs, input))
        .await
    }

    /// Deletes a user (`DELETE`), ahead of every other request of the organization: the user
    /// leaves the organization, or a pending invitation is revoked. Unlike deactivation on
    /// services that keep deactivated users, nothing remains to reactivate.
    #[graphql(guard = "RoleGuard(Role::Write)")]
    async fn delete_user(
        &self,
        ctx: &Context<'_>,
        input: DeleteUserInput,
    ) -> Result<DeleteUserPayload> {
        let dirs = ctx.data::<Directories<DirHandle>>()?;
        Call::new(
            "deleteUser",
            &input,
            &input.options,
            orgs_named(dirs, None, [&input.id]),
        )
        .run(ctx, delete(dirs, input))
        .await
    }

    /// Deactivates up to 100 users, each ahead of other requests, with one result per user.
    /// With `dryRun: true` nothing is sent: the payload says what would be, what it costs in
    /// upstream requests, and about how long that takes at the current budget.
    #[graphql(guard = "RoleGuard(Role::Write)")]
    async fn deactivate_users(
        &self,
        ctx: &Context<'_>,
        input: DeactivateUsersInput,
    ) -> Result<DeactivateUsersPayload> {
        let dirs = ctx.data::<Directories<DirHandle>>()?;
        Call::new(
            "deactivateUsers",
            &input,
            &input.options,
            orgs_named(dirs, None, &input.ids),
        )
        .run(ctx, deactivate_many(dirs, input))
        .await
    }
}

pub(crate) async fn invite(
    dirs: &Directories<DirHandle>,
    input: InviteUserInput,
) -> Result<InviteUserPayload, UserError> {
    let dir = org_of(dirs, input.org.as_ref(), &["input", "org"])?;
    let email = check_email(&input.email, &["input", "email"])?;
    let given = check_name(&input.given_name, &["input", "givenName"])?;
    let family = check_name(&input.family_name, &["input", "familyName"])?;
    let group_ids = input.group_ids.unwrap_or_default();
    check_count(group_ids.len(), &["input", "groupIds"])?;
    let mut groups = Vec::new();
    for (i, id) in group_ids.iter().enumerate() {
        let (_, gid) = group_of(dirs, id, Some(&dir), &["input", "groupIds", &i.to_string()])?;
        groups.push((i, gid));
    }
    let rec = dir
        .invite_user(
            Invite {
                email: &email,
                given_name: &given,
                family_name: &family,
            },
            WriteLane::Write,
        )
        .await
        .map_err(|e| write_error(e, &["input", "email"], &format!("the user {email}")))?;
    let adds = groups.iter().map(|(i, gid)| {
        let (dir, key) = (dir.clone(), dir.user_key(rec.key()));
        async move {
            (
                *i,
                gid,
                dir.add_members(gid, &[key], WriteLane::Write).await,
            )
        }
    });
    let mut user_errors = Vec::new();
    let mut groups_applied = Vec::new();
    for (i, gid, result) in join_all(adds).await {
        match result {
            Ok(g) => groups_applied.push(Group::new(dir.clone(), g)),
            Err(e) => user_errors.push(write_error(
                e,
                &["input", "groupIds", &i.to_string()],
                &format!("group {gid}"),
            )),
        }
    }
    // The user as the mirror now has it.
    let rec = dir
        .snapshot()
        .user_by_key(rec.key())
        .cloned()
        .unwrap_or(rec);
    Ok(InviteUserPayload {
        client_mutation_id: None,
        outcome: if user_errors.is_empty() {
            WriteOutcome::Success
        } else {
            WriteOutcome::Partial
        },
        user_errors,
        user: Some(User::new(dir, rec)),
        groups_applied,
    })
}

async fn deactivate_many(
    dirs: &Directories<DirHandle>,
    input: DeactivateUsersInput,
) -> Result<DeactivateUsersPayload, UserError> {
    check_count(input.ids.len(), &["input", "ids"])?;
    let mut results: Vec<DeactivateUserResult> = Vec::new();
    let mut targets = Vec::new();
    for (i, id) in input.ids.iter().enumerate() {
        let field = ["input", "ids", &i.to_string()].map(str::to_owned);
        let field: Vec<&str> = field.iter().map(String::as_str).collect();
        let item = |email: Option<String>, error: Option<UserError>| DeactivateUserResult {
            id: id.clone(),
            email,
            outcome: error
                .as_ref()
                .map_or(WriteOutcome::Success, UserError::outcome),
            user_error: error,
        };
        match user_of(dirs, id, None, &field).await {
            Err(e) => results.push(item(None, Some(e))),
            Ok((dir, key)) => {
                let known = dir
                    .snapshot()
                    .user_by_key(key.as_str())
                    .map(|u| u.email().to_owned());
                if input.dry_run && known.is_none() && dir.snapshot().complete {
                    let e = UserError::new(
                        UserErrorCode::NotFound,
                        &field,
                        "no such user in the organization",
                    );
                    results.push(item(None, Some(e)));
                } else {
                    targets.push((results.len(), dir, key));
                    results.push(item(known, None));
                }
            }
        }
    }
    let calls = targets.len();
    let interval = targets
        .first()
        .map(|(_, d, _)| d.budget().emission_interval)
        .unwrap_or_default();
    let estimated_seconds = interval.as_secs_f64() * calls.saturating_sub(1) as f64;
    if !input.dry_run {
        let work = targets.into_iter().map(|(i, dir, key)| async move {
            (i, dir.deactivate_user(&key, WriteLane::Critical).await)
        });
        for (i, result) in join_all(work).await {
            let field = ["input".to_owned(), "ids".to_owned(), i.to_string()];
            let field: Vec<&str> = field.iter().map(String::as_str).collect();
            match result {
                Ok(rec) => results[i].email = Some(rec.email().to_owned()),
                Err(e) => {
                    let e = write_error(e, &field, "the user");
                    results[i].outcome = e.outcome();
                    results[i].user_error = Some(e);
                }
            }
        }
    }
    let succeeded = results
        .iter()
        .filter(|r| r.outcome == WriteOutcome::Success)
        .count();
    let outcome = if succeeded == results.len() {
        WriteOutcome::Success
    } else if succeeded > 0 {
        WriteOutcome::Partial
    } else if results.iter().any(|r| r.outcome == WriteOutcome::Unknown) {
        WriteOutcome::Unknown
    } else {
        WriteOutcome::Failed
    };
    Ok(DeactivateUsersPayload {
        client_mutation_id: None,
        outcome,
        user_errors: vec![],
        dry_run: input.dry_run,
        upstream_calls: calls as i32,
        estimated_seconds,
        results,
    })
}

pub(crate) async fn update(
    dirs: &Directories<DirHandle>,
    input: UpdateUserInput,
) -> Result<UpdateUserPayload, UserError> {
    let (dir, user_key) = user_of(dirs, &input.id, None, &["input", "id"]).await?;
    let given = input
        .given_name
        .as_deref()
        .map(|n| check_name(n, &["input", "givenName"]))
        .transpose()?;
    let family = input
        .family_name
        .as_deref()
        .map(|n| check_name(n, &["input", "familyName"]))
        .transpose()?;
    if given.is_none() && family.is_none() {
        return Err(UserError::new(
            UserErrorCode::InvalidName,
            &["input"],
            "give `givenName`, `familyName` or both",
        ));
    }
    let rec = dir
        .update_user(
            &user_key,
            NameChange {
                given_name: given.as_deref(),
                family_name: family.as_deref(),
            },
            WriteLane::Write,
        )
        .await
        .map_err(|e| write_error(e, &["input", "id"], "the user"))?;
    Ok(UpdateUserPayload::success(Some(User::new(dir, rec))))
}

pub(crate) async fn deactivate(
    dirs: &Directories<DirHandle>,
    input: DeactivateUserInput,
) -> Result<DeactivateUserPayload, UserError> {
    let (dir, user_key) = user_of(dirs, &input.id, None, &["input", "id"]).await?;
    let rec = dir
        .deactivate_user(&user_key, WriteLane::Critical)
        .await
        .map_err(|e| write_error(e, &["input", "id"], "the user"))?;
    Ok(DeactivateUserPayload::success(Some(User::new(dir, rec))))
}

pub(crate) async fn delete(
    dirs: &Directories<DirHandle>,
    input: DeleteUserInput,
) -> Result<DeleteUserPayload, UserError> {
    let (dir, user_key) = user_of(dirs, &input.id, None, &["input", "id"]).await?;
    dir.delete_user(&user_key, WriteLane::Critical)
        .await
        .map_err(|e| write_error(e, &["input", "id"], "the user"))?;
    let id = ID(GlobalId::new(Kind::User, dir.org_id().as_str(), user_key.as_str()).encode());
    Ok(DeleteUserPayload::success(Some(id)))
}
