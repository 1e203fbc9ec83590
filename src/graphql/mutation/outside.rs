//! GraphQL's user and membership mutations for callers that do not speak GraphQL (the REST
//! view): the same inputs, validation, lanes, idempotency records (a key sent through REST
//! and through GraphQL meets the same record), journal, audit rows and events.

use std::sync::Arc;

use async_graphql::ID;

use super::groups::{AddGroupMembersInput, RemoveGroupMembersInput};
use super::users::{DeactivateUserInput, DeleteUserInput, InviteUserInput, UpdateUserInput};
use super::{Call, Payload, Stored, UserError, WriteOptions, orgs_named};
use crate::auth::Principal;
use crate::directory::{DirHandle, Directories, Directory, GroupRec, UserRec};
use crate::graphql::GatewaySchema;
use crate::graphql::types::{Group, User};

/// Who writes: the schema's records and journal, the caller, the request's id.
pub(crate) struct Writer<'a> {
    pub(crate) schema: &'a GatewaySchema,
    pub(crate) principal: &'a Principal,
    pub(crate) request_id: &'a str,
    /// Repeating it with the same input within the records' lifetime sends nothing again.
    pub(crate) idempotency_key: Option<String>,
}

/// A user error as the REST view shows it.
#[derive(Clone, Debug)]
pub(crate) struct Problem {
    /// The GraphQL `UserErrorCode`, e.g. `NOT_FOUND`.
    pub(crate) code: String,
    pub(crate) field: Option<Vec<String>>,
    pub(crate) message: String,
    /// Whether this is a failure of the input (400) rather than of the write.
    pub(crate) status_hint: u16,
}

/// What a write did, with the objects it left.
pub(crate) struct Written {
    /// `SUCCESS`, `PARTIAL`, `FAILED` or `UNKNOWN`.
    pub(crate) outcome: String,
    pub(crate) problems: Vec<Problem>,
    pub(crate) user: Option<(Directory, Arc<UserRec>)>,
    pub(crate) group: Option<(Directory, Arc<GroupRec>)>,
    /// The id of what was removed.
    pub(crate) deleted: Option<String>,
}

fn problems(errors: &[UserError]) -> Vec<Problem> {
    use super::UserErrorCode as C;
    errors
        .iter()
        .map(|e| Problem {
            code: e.code.save().as_str().unwrap_or_default().to_owned(),
            field: e.field.clone(),
            message: e.message.clone(),
            status_hint: match e.code {
                C::InvalidEmail
                | C::InvalidName
                | C::InvalidId
                | C::WrongOrganization
                | C::TooManyIds
                | C::InvalidDuration
                | C::InvalidReason => 400,
                C::NotFound => 404,
                C::AlreadyExists | C::Conflict | C::IdempotencyKeyInUse => 409,
                C::IdempotencyKeyReused | C::UpstreamRejected => 422,
                C::RateLimited => 429,
                C::CredentialRevoked | C::OutcomeUnknown => 502,
                _ => 503,
            },
        })
        .collect()
}

fn user_of(u: Option<&User>) -> Option<(Directory, Arc<UserRec>)> {
    let u = u?;
    Some((u.dir().real()?.clone(), Arc::new(u.rec().clone())))
}

fn group_of(g: Option<&Group>) -> Option<(Directory, Arc<GroupRec>)> {
    let g = g?;
    Some((g.dir().real()?.clone(), Arc::new(g.rec().clone())))
}

fn outcome<P: Payload>(p: &P) -> String {
    p.outcome().save().as_str().unwrap_or_default().to_owned()
}

impl Writer<'_> {
    fn handles(&self) -> Directories<DirHandle> {
        crate::graphql::visible_handles(self.schema, self.principal)
    }

    fn options(&self) -> WriteOptions {
        WriteOptions {
            idempotency_key: self.idempotency_key.clone(),
            client_mutation_id: None,
        }
    }

    async fn run<P: Payload>(
        &self,
        call: Call,
        work: impl Future<Output = Result<P, UserError>>,
    ) -> Result<P, String> {
        call.run_outside(self.schema, self.principal, self.request_id, work)
            .await
    }

    /// `inviteUser` in `org`, adding the user to `groups` (Group ids).
    pub(crate) async fn invite_user(
        &self,
        org: &str,
        email: String,
        names: (String, String),
        groups: Vec<String>,
    ) -> Result<Written, String> {
        let dirs = self.handles();
        let input = InviteUserInput {
            org: Some(ID(org.to_owned())),
            email,
            given_name: names.0,
            family_name: names.1,
            group_ids: (!groups.is_empty()).then(|| groups.into_iter().map(ID).collect()),
            options: self.options(),
        };
        let orgs = orgs_named(&dirs, input.org.as_ref(), input.group_ids.iter().flatten());
        let call = Call::new("inviteUser", &input, &input.options, orgs);
        let p = self.run(call, super::users::invite(&dirs, input)).await?;
        Ok(Written {
            outcome: outcome(&p),
            problems: problems(&p.user_errors),
            user: user_of(p.user.as_ref()),
            group: None,
            deleted: None,
        })
    }

    /// `updateUser` of the user with global id `id`.
    pub(crate) async fn update_user(
        &self,
        id: String,
        given_name: Option<String>,
        family_name: Option<String>,
    ) -> Result<Written, String> {
        let dirs = self.handles();
        let input = UpdateUserInput {
            id: ID(id),
            given_name,
            family_name,
            options: self.options(),
        };
        let orgs = orgs_named(&dirs, None, [&input.id]);
        let call = Call::new("updateUser", &input, &input.options, orgs);
        let p = self.run(call, super::users::update(&dirs, input)).await?;
        Ok(Written {
            outcome: outcome(&p),
            problems: problems(&p.user_errors),
            user: user_of(p.user.as_ref()),
            group: None,
            deleted: None,
        })
    }

    /// `deactivateUser` of the user with global id `id`.
    pub(crate) async fn deactivate_user(&self, id: String) -> Result<Written, String> {
        let dirs = self.handles();
        let input = DeactivateUserInput {
            id: ID(id),
            options: self.options(),
        };
        let orgs = orgs_named(&dirs, None, [&input.id]);
        let call = Call::new("deactivateUser", &input, &input.options, orgs);
        let p = self
            .run(call, super::users::deactivate(&dirs, input))
            .await?;
        Ok(Written {
            outcome: outcome(&p),
            problems: problems(&p.user_errors),
            user: user_of(p.user.as_ref()),
            group: None,
            deleted: None,
        })
    }

    /// `deleteUser` of the user with global id `id`.
    pub(crate) async fn delete_user(&self, id: String) -> Result<Written, String> {
        let dirs = self.handles();
        let input = DeleteUserInput {
            id: ID(id),
            options: self.options(),
        };
        let orgs = orgs_named(&dirs, None, [&input.id]);
        let call = Call::new("deleteUser", &input, &input.options, orgs);
        let p = self.run(call, super::users::delete(&dirs, input)).await?;
        Ok(Written {
            outcome: outcome(&p),
            problems: problems(&p.user_errors),
            user: None,
            group: None,
            deleted: p.deleted_user_id.map(|id| id.0),
        })
    }

    /// `addGroupMembers` (`add`) or `removeGroupMembers` of global ids `users` to group `group`.
    pub(crate) async fn members(
        &self,
        group: String,
        users: Vec<String>,
        add: bool,
    ) -> Result<Written, String> {
        let dirs = self.handles();
        let (group_id, user_ids) = (ID(group), users.into_iter().map(ID).collect::<Vec<_>>());
        let orgs = orgs_named(&dirs, None, std::iter::once(&group_id).chain(&user_ids));
        let (outcome_text, errors, rec) = if add {
            let input = AddGroupMembersInput {
                group_id,
                user_ids,
                options: self.options(),
            };
            let call = Call::new("addGroupMembers", &input, &input.options, orgs);
            let p = self
                .run(call, super::groups::add_members(&dirs, input))
                .await?;
            (
                outcome(&p),
                problems(&p.user_errors),
                group_of(p.group.as_ref()),
            )
        } else {
            let input = RemoveGroupMembersInput {
                group_id,
                user_ids,
                options: self.options(),
            };
            let call = Call::new("removeGroupMembers", &input, &input.options, orgs);
            let p = self
                .run(call, super::groups::remove_members(&dirs, input))
                .await?;
            (
                outcome(&p),
                problems(&p.user_errors),
                group_of(p.group.as_ref()),
            )
        };
        Ok(Written {
            outcome: outcome_text,
            problems: errors,
            user: None,
            group: rec,
            deleted: None,
        })
    }
}
