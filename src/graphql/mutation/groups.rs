//! Group mutations (create, rename, delete, add and remove members) and `refreshDirectory`.

use async_graphql::{Context, ID, InputObject, Object, Result};
use serde::Serialize;

use super::{
    Call, UserError, UserErrorCode, WriteOptions, check_count, check_name, group_of, org_of,
    orgs_named, payload, user_of, write_error,
};
use crate::auth::Role;
use crate::directory::{DirHandle, Directories, DirectoryReads, DirectoryWrites, WriteLane};
use crate::graphql::guard::RoleGuard;
use crate::graphql::ids::{GlobalId, Kind};
use crate::graphql::types::{Group, Org};
use crate::keys::UserKey;

#[derive(Default)]
pub struct GroupMutation;

/// Input of `createGroup`.
#[derive(InputObject, Serialize)]
pub struct CreateGroupInput {
    /// The organization (its id or slug); may be left out when the gateway serves one.
    pub org: Option<ID>,
    pub name: String,
    /// Users to add (User ids, or e-mail addresses). Each must already be in the organization:
    /// Amplitude would otherwise invite unknown addresses; use `inviteUser` for new people.
    pub member_ids: Option<Vec<ID>>,
    #[graphql(flatten)]
    #[serde(skip)]
    pub options: WriteOptions,
}

/// Input of `renameGroup`.
#[derive(InputObject, Serialize)]
pub struct RenameGroupInput {
    /// The group (a Group id, or the upstream's id when the gateway serves one organization).
    pub id: ID,
    pub name: String,
    #[graphql(flatten)]
    #[serde(skip)]
    pub options: WriteOptions,
}

/// Input of `deleteGroup`.
#[derive(InputObject, Serialize)]
pub struct DeleteGroupInput {
    /// The group (a Group id, or the upstream's id when the gateway serves one organization).
    pub id: ID,
    #[graphql(flatten)]
    #[serde(skip)]
    pub options: WriteOptions,
}

/// Input of `addGroupMembers`.
#[derive(InputObject, Serialize)]
pub struct AddGroupMembersInput {
    pub group_id: ID,
    /// Up to 100 users (User ids, or e-mail addresses), each already in the organization.
    pub user_ids: Vec<ID>,
    #[graphql(flatten)]
    #[serde(skip)]
    pub options: WriteOptions,
}

/// Input of `removeGroupMembers`.
#[derive(InputObject, Serialize)]
pub struct RemoveGroupMembersInput {
    pub group_id: ID,
    /// Up to 100 users (User ids, or e-mail addresses).
    pub user_ids: Vec<ID>,
    #[graphql(flatten)]
    #[serde(skip)]
    pub options: WriteOptions,
}

/// Input of `refreshDirectory`.
#[derive(InputObject, Serialize)]
pub struct RefreshDirectoryInput {
    /// The organization (its id or slug); may be left out when the gateway serves one.
    pub org: Option<ID>,
    /// Read everything, even where the service lists changes and the next refresh would read
    /// only those: a full refresh is what finds users and groups deleted upstream.
    #[graphql(default = false)]
    pub full: bool,
    /// Echoed in the payload.
    #[serde(skip)]
    pub client_mutation_id: Option<String>,
}

payload!(
    /// The result of `createGroup`.
    CreateGroupPayload {
        /// The new group.
        group: Option<Group>,
    }
);
payload!(
    /// The result of `renameGroup`.
    RenameGroupPayload {
        /// The group as renamed.
        group: Option<Group>,
    }
);
payload!(
    /// The result of `deleteGroup`.
    DeleteGroupPayload {
        /// The id of the group that was deleted.
        deleted_group_id: Option<ID>,
    }
);
payload!(
    /// The result of `addGroupMembers`.
    AddGroupMembersPayload {
        /// The group with its members now.
        group: Option<Group>,
    }
);
payload!(
    /// The result of `removeGroupMembers`.
    RemoveGroupMembersPayload {
        /// The group with its members now.
        group: Option<Group>,
    }
);
payload!(
    /// The result of `refreshDirectory`.
    RefreshDirectoryPayload {
        /// The organization; follow its `sync` for progress.
        org: Option<Org>,
        /// Upstream requests the refresh costs: ceil(users/100) + ceil(groups/100) for a full
        /// one; for an incremental one the least it costs (one per collection), plus one per
        /// further 100 users or groups changed.
        estimated_calls: i32,
        /// About how long it takes in the background lane at the current budget.
        estimated_seconds: f64,
        /// A refresh was already running; this call joined it instead of starting another.
        already_running: bool,
    }
);

/// User keys of `ids`, all in `dir`; with `known`, each must be in the organization.
async fn members(
    dirs: &Directories<DirHandle>,
    dir: &DirHandle,
    ids: &[ID],
    known: bool,
) -> Result<Vec<UserKey>, UserError> {
    check_count(ids.len(), &["input", "userIds"])?;
    let mut keys = Vec::new();
    for (i, id) in ids.iter().enumerate() {
        let field = ["input", "userIds", &i.to_string()].map(str::to_owned);
        let field: Vec<&str> = field.iter().map(String::as_str).collect();
        let (_, key) = user_of(dirs, id, Some(dir), &field).await?;
        if known {
            match dir.user(&key).await {
                Ok(Some(u)) => keys.push(dir.user_key(u.key())),
                Ok(None) => {
                    return Err(UserError::new(
                        UserErrorCode::NotFound,
                        &field,
                        format!("{:?} is not a user of the organization", id.as_str()),
                    ));
                }
                Err(e) => {
                    return Err(write_error(
                        crate::directory::WriteError::NotApplied(e),
                        &field,
                        "the user",
                    ));
                }
            }
        } else {
            keys.push(key);
        }
    }
    Ok(keys)
}

#[Object]
impl GroupMutation {
    /// Creates a group (`POST /Groups`) with existing users as members. In Amplitude a group is
    /// a permission group: give it project roles in Amplitude's UI.
    #[graphql(guard = "RoleGuard(Role::Write)")]
    async fn create_group(
        &self,
        ctx: &Context<'_>,
        input: CreateGroupInput,
    ) -> Result<CreateGroupPayload> {
        let dirs = ctx.data::<Directories<DirHandle>>()?;
        let orgs = orgs_named(dirs, input.org.as_ref(), input.member_ids.iter().flatten());
        Call::new("createGroup", &input, &input.options, orgs)
            .run(ctx, async move {
                let dir = org_of(dirs, input.org.as_ref(), &["input", "org"])?;
                let name = check_name(&input.name, &["input", "name"])?;
                let ids = input.member_ids.unwrap_or_default();
                let keys = members(dirs, &dir, &ids, true).await.map_err(|mut e| {
                    if let Some(f) = e.field.as_mut() {
                        f[1] = "memberIds".into();
                    }
                    e
                })?;
                let rec = dir
                    .create_group(&name, &keys, WriteLane::Write)
                    .await
                    .map_err(|e| {
                        write_error(e, &["input", "name"], &format!("the group {name:?}"))
                    })?;
                Ok(CreateGroupPayload::success(Some(Group::new(dir, rec))))
            })
            .await
    }

    /// Renames a group.
    #[graphql(guard = "RoleGuard(Role::Write)")]
    async fn rename_group(
        &self,
        ctx: &Context<'_>,
        input: RenameGroupInput,
    ) -> Result<RenameGroupPayload> {
        let dirs = ctx.data::<Directories<DirHandle>>()?;
        Call::new(
            "renameGroup",
            &input,
            &input.options,
            orgs_named(dirs, None, [&input.id]),
        )
        .run(ctx, async move {
            let (dir, id) = group_of(dirs, &input.id, None, &["input", "id"])?;
            let name = check_name(&input.name, &["input", "name"])?;
            let rec = dir
                .rename_group(&id, &name, WriteLane::Write)
                .await
                .map_err(|e| write_error(e, &["input", "id"], "the group"))?;
            Ok(RenameGroupPayload::success(Some(Group::new(dir, rec))))
        })
        .await
    }

    /// Deletes a group. Its members stay in the organization, without the roles it granted.
    #[graphql(guard = "RoleGuard(Role::Write)")]
    async fn delete_group(
        &self,
        ctx: &Context<'_>,
        input: DeleteGroupInput,
    ) -> Result<DeleteGroupPayload> {
        let dirs = ctx.data::<Directories<DirHandle>>()?;
        Call::new(
            "deleteGroup",
            &input,
            &input.options,
            orgs_named(dirs, None, [&input.id]),
        )
        .run(ctx, async move {
            let (dir, id) = group_of(dirs, &input.id, None, &["input", "id"])?;
            dir.delete_group(&id, WriteLane::Write)
                .await
                .map_err(|e| write_error(e, &["input", "id"], "the group"))?;
            let deleted =
                ID(GlobalId::new(Kind::Group, dir.org_id().as_str(), id.as_str()).encode());
            Ok(DeleteGroupPayload::success(Some(deleted)))
        })
        .await
    }

    /// Adds users to a group (one PATCH).
    #[graphql(guard = "RoleGuard(Role::Write)")]
    async fn add_group_members(
        &self,
        ctx: &Context<'_>,
        input: AddGroupMembersInput,
    ) -> Result<AddGroupMembersPayload> {
        let dirs = ctx.data::<Directories<DirHandle>>()?;
        let orgs = orgs_named(
            dirs,
            None,
            std::iter::once(&input.group_id).chain(&input.user_ids),
        );
        Call::new("addGroupMembers", &input, &input.options, orgs)
            .run(ctx, add_members(dirs, input))
            .await
    }

    /// Removes users from a group (one PATCH), ahead of every other request of the organization:
    /// removing access is never queued behind reads.
    #[graphql(guard = "RoleGuard(Role::Write)")]
    async fn remove_group_members(
        &self,
        ctx: &Context<'_>,
        input: RemoveGroupMembersInput,
    ) -> Result<RemoveGroupMembersPayload> {
        let dirs = ctx.data::<Directories<DirHandle>>()?;
        let orgs = orgs_named(
            dirs,
            None,
            std::iter::once(&input.group_id).chain(&input.user_ids),
        );
        Call::new("removeGroupMembers", &input, &input.options, orgs)
            .run(ctx, remove_members(dirs, input))
            .await
    }

    /// Reads the organization's whole directory again, now, in the background lane; the
    /// payload says what that costs before it starts. Reads keep being served meanwhile.
    #[graphql(guard = "RoleGuard(Role::Admin)")]
    async fn refresh_directory(
        &self,
        ctx: &Context<'_>,
        input: RefreshDirectoryInput,
    ) -> Result<RefreshDirectoryPayload> {
        let dirs = ctx.data::<Directories>()?;
        let options = WriteOptions {
            idempotency_key: None,
            client_mutation_id: input.client_mutation_id.clone(),
        };
        Call::new(
            "refreshDirectory",
            &input,
            &options,
            orgs_named(dirs, input.org.as_ref(), []),
        )
        .run(ctx, async move {
            let dir = org_of(dirs, input.org.as_ref(), &["input", "org"])?;
            if input.full {
                dir.request_full_refresh();
            }
            let (calls, seconds) = dir.refresh_estimate();
            let already_running = dir.state().refreshing;
            dir.start_refresh();
            Ok(RefreshDirectoryPayload::success(
                Some(Org { dir: dir.into() }),
                calls as i32,
                seconds,
                already_running,
            ))
        })
        .await
    }
}

pub(crate) async fn add_members(
    dirs: &Directories<DirHandle>,
    input: AddGroupMembersInput,
) -> Result<AddGroupMembersPayload, UserError> {
    let (dir, id) = group_of(dirs, &input.group_id, None, &["input", "groupId"])?;
    let keys = members(dirs, &dir, &input.user_ids, true).await?;
    let rec = dir
        .add_members(&id, &keys, WriteLane::Write)
        .await
        .map_err(|e| write_error(e, &["input", "groupId"], "the group"))?;
    Ok(AddGroupMembersPayload::success(Some(Group::new(dir, rec))))
}

pub(crate) async fn remove_members(
    dirs: &Directories<DirHandle>,
    input: RemoveGroupMembersInput,
) -> Result<RemoveGroupMembersPayload, UserError> {
    let (dir, id) = group_of(dirs, &input.group_id, None, &["input", "groupId"])?;
    let keys = members(dirs, &dir, &input.user_ids, false).await?;
    let rec = dir
        .remove_members(&id, &keys, WriteLane::Critical)
        .await
        .map_err(|e| write_error(e, &["input", "groupId"], "the group"))?;
    Ok(RemoveGroupMembersPayload::success(Some(Group::new(
        dir, rec,
    ))))
}
