//! Mutations, Relay style: one `input`, a payload with `clientMutationId`, an `outcome`, the
//! changed objects and `userErrors` for expected failures. Shared pieces live here.

mod grants;
mod groups;
mod idempotency;
mod journal;
pub(crate) mod outside;
mod proxy;
mod replay;
mod resolve;
mod reviews;
mod snapshots;
mod users;
mod webhooks;

use std::time::Duration;

use async_graphql::{Enum, InputObject, MergedObject, SimpleObject};

pub use idempotency::{Idempotency, orgs_named};
pub use journal::Journal;
pub use proxy::{ProxyPayload, proxy_call};
pub(crate) use replay::Stored;
pub use resolve::{grant_of, group_of, org_of, user_of};

use crate::directory::{DirectoryError, WriteError};
use crate::keys::Email;

/// Every mutation.
#[derive(MergedObject, Default)]
pub struct Mutation(
    users::UserMutation,
    groups::GroupMutation,
    grants::GrantMutation,
    webhooks::WebhookMutation,
    snapshots::SnapshotMutation,
    reviews::ReviewMutation,
);

/// Whether a write happened.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum WriteOutcome {
    /// Done, and reads show it at once.
    Success,
    /// The main change is done but some parts failed (see `userErrors`).
    Partial,
    /// Nothing was changed upstream: validation, not found, a conflict, or a failure known not to
    /// have been applied (safe to try again).
    Failed,
    /// The upstream did not answer and reading back could not tell whether the change was
    /// applied. Check before trying again; the gateway never re-sends such a write by itself.
    Unknown,
}

/// Why a mutation (or part of it) did not happen.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum UserErrorCode {
    /// Not an e-mail address. Nothing was sent.
    InvalidEmail,
    /// A blank name, or one over 100 characters. Nothing was sent.
    InvalidName,
    /// Not an id of the expected type. Nothing was sent.
    InvalidId,
    /// An id of another organization than the one the change concerns. Nothing was sent.
    WrongOrganization,
    /// More than 100 ids in one call. Nothing was sent.
    TooManyIds,
    /// The user, group or organization does not exist.
    NotFound,
    /// The user or group exists already (for a user: a member, or already invited).
    AlreadyExists,
    /// The upstream refused the change as sent.
    UpstreamRejected,
    /// The user or group changed upstream since the gateway read it (someone else's change,
    /// on a service that honours ETags), so the change was refused rather than overwriting it
    /// unseen. Nothing was applied; the mirror was read again and shows the current version:
    /// read it, and apply the change again if it is still wanted.
    Conflict,
    /// The upstream failed and the change was not applied; trying again is safe.
    UpstreamUnavailable,
    /// The upstream is rate limiting the organization; nothing was changed.
    RateLimited,
    /// The upstream rejected the organization's SCIM key; nothing was changed.
    CredentialRevoked,
    /// No answer came and reading back could not tell whether the change was applied.
    OutcomeUnknown,
    /// The idempotency key was used with a different input.
    IdempotencyKeyReused,
    /// A request with this idempotency key is still running (here or on another replica);
    /// trying again in a moment gets its answer.
    IdempotencyKeyInUse,
    /// The gateway's store cannot be written, so the write was refused before anything was
    /// sent (every write is recorded first). Trying again is safe.
    StoreUnavailable,
    /// A grant would last longer than `grants.max_duration` (default 7 days) from now, or
    /// than its group's shorter maximum (`grants.groups`, named in the message). Nothing was
    /// sent.
    GrantTooLong,
    /// Neither or both of `duration` and `expiresAt` (or `until` and `by`), a duration that
    /// is not one (`4h`, `30m`, `2days`), or an end that is not in the future. Nothing was
    /// sent.
    InvalidDuration,
    /// A grant's reason is blank, over 500 characters, or holds control characters. Nothing
    /// was sent.
    InvalidReason,
    /// The grant has ended (expired, revoked or failed) or is being revoked: it cannot be
    /// revoked or extended. Nothing was sent.
    GrantNotActive,
    /// The access review is completed (or applying): decisions are no longer taken, and it
    /// cannot be completed again. Nothing was changed.
    ReviewNotInProgress,
    /// This API key is not one of the review's reviewers (nor an admin's). Nothing was changed.
    NotAReviewer,
    /// The review requires a justification for this decision (see its
    /// `justificationRequired`). Nothing was recorded.
    JustificationRequired,
    /// A review cannot start yet: the organization's mirror is still loading, or the input
    /// names no reviewer. Nothing was created.
    ReviewNotStarted,
}

/// An expected failure, for a person or a program to act on.
#[derive(SimpleObject, Clone, Debug)]
pub struct UserError {
    /// Stable; switch on this.
    pub code: UserErrorCode,
    /// The input field concerned, as a path: `["input", "groupIds", "2"]`.
    pub field: Option<Vec<String>>,
    /// What happened, in words.
    pub message: String,
    /// For `RATE_LIMITED`: seconds (rounded up) after which trying again can find a slot.
    pub retry_after: Option<i32>,
    /// For `RATE_LIMITED`: the same wait in milliseconds (rounded up).
    pub retry_after_ms: Option<i32>,
    /// Made by a check of the input before anything was sent (not by a write's answer):
    /// such a refusal is not remembered under an idempotency key.
    #[graphql(skip)]
    pub refused_input: bool,
}

impl UserError {
    pub fn new(code: UserErrorCode, field: &[&str], message: impl Into<String>) -> UserError {
        UserError {
            code,
            field: (!field.is_empty()).then(|| field.iter().map(|s| (*s).to_owned()).collect()),
            message: message.into(),
            retry_after: None,
            retry_after_ms: None,
            refused_input: true,
        }
    }

    /// The same error, saying when to try again.
    pub fn with_retry_after(mut self, wait: Option<Duration>) -> UserError {
        if let Some(wait) = wait {
            let (secs, ms) = crate::graphql::errors::retry_after_parts(wait);
            self.retry_after = Some(secs.min(i32::MAX as u64) as i32);
            self.retry_after_ms = Some(ms.min(i32::MAX as u64) as i32);
        }
        self
    }

    /// The same error, as an upstream write's answer rather than a refused input.
    fn answered_upstream(mut self) -> UserError {
        self.refused_input = false;
        self
    }

    /// The outcome a failed write with this error has.
    pub fn outcome(&self) -> WriteOutcome {
        if self.code == UserErrorCode::OutcomeUnknown {
            WriteOutcome::Unknown
        } else {
            WriteOutcome::Failed
        }
    }

    /// Whether a failure is worth trying again with the same idempotency key.
    pub fn retryable(&self) -> bool {
        matches!(
            self.code,
            UserErrorCode::UpstreamUnavailable
                | UserErrorCode::RateLimited
                | UserErrorCode::IdempotencyKeyInUse
                | UserErrorCode::StoreUnavailable
        )
    }
}

/// A write's failure as a user error on `field`.
pub fn write_error(e: WriteError, field: &[&str], what: &str) -> UserError {
    use UserErrorCode as C;
    let error = match e {
        WriteError::NotFound => UserError::new(
            C::NotFound,
            field,
            format!("{what} does not exist upstream"),
        ),
        WriteError::AlreadyExists => {
            UserError::new(C::AlreadyExists, field, format!("{what} already exists"))
        }
        WriteError::Conflict => UserError::new(
            C::Conflict,
            field,
            format!(
                "{what} was changed upstream by someone else since the gateway read it; nothing was changed. Read it again and repeat the change if it is still wanted"
            ),
        ),
        WriteError::Rejected { status } => UserError::new(
            C::UpstreamRejected,
            field,
            format!("the upstream refused the change to {what} (status {status})"),
        ),
        WriteError::NotApplied(DirectoryError::RateLimited { retry_after }) => UserError::new(
            C::RateLimited,
            field,
            format!(
                "the organization's upstream budget is taken (or the upstream is rate limiting); {what} was not changed, try again after `retryAfter` seconds"
            ),
        )
        .with_retry_after(retry_after),
        WriteError::NotApplied(DirectoryError::NotRecorded) => journal::store_unavailable(),
        WriteError::NotApplied(DirectoryError::CredentialRevoked) => UserError::new(
            C::CredentialRevoked,
            field,
            "the upstream rejected the organization's SCIM key; nothing was changed",
        ),
        WriteError::NotApplied(_) => UserError::new(
            C::UpstreamUnavailable,
            field,
            format!("the upstream failed; {what} was not changed and it is safe to try again"),
        ),
        WriteError::Unknown { reason } => {
            UserError::new(C::OutcomeUnknown, field, format!("{what}: {reason}"))
        }
    };
    error.answered_upstream()
}

/// A name for a person or a group: not blank, at most 100 characters, no control characters.
pub fn check_name(value: &str, field: &[&str]) -> Result<String, UserError> {
    let trimmed = value.trim();
    if trimmed.is_empty() || trimmed.chars().count() > 100 || trimmed.chars().any(char::is_control)
    {
        return Err(UserError::new(
            UserErrorCode::InvalidName,
            field,
            format!(
                "{:?} is not a usable name: 1 to 100 characters, not blank",
                value.chars().take(120).collect::<String>()
            ),
        ));
    }
    Ok(trimmed.to_owned())
}

pub fn check_email(value: &str, field: &[&str]) -> Result<Email, UserError> {
    let Ok(email) = Email::from_input(value) else {
        return Err(UserError::new(
            UserErrorCode::InvalidEmail,
            field,
            format!(
                "{:?} is not an e-mail address a person can be invited with (one `name@domain.tld`, \
                 without spaces, quotes, `<`, `>` or `/`)",
                value.chars().take(100).collect::<String>()
            ),
        ));
    };
    Ok(email)
}

pub fn check_count(len: usize, field: &[&str]) -> Result<(), UserError> {
    if len > 100 {
        return Err(UserError::new(
            UserErrorCode::TooManyIds,
            field,
            format!("at most 100 ids in one call, got {len}"),
        ));
    }
    Ok(())
}

/// The fields every payload has, then its own.
macro_rules! payload {
    ($(#[$doc:meta])* $name:ident { $($(#[$fdoc:meta])* $field:ident : $ty:ty),* $(,)? }) => {
        $(#[$doc])*
        #[derive(async_graphql::SimpleObject, Clone)]
        pub struct $name {
            /// The input's `clientMutationId`, echoed.
            pub client_mutation_id: Option<String>,
            /// Whether the write happened.
            pub outcome: $crate::graphql::mutation::WriteOutcome,
            /// Expected failures; empty on success.
            pub user_errors: Vec<$crate::graphql::mutation::UserError>,
            $($(#[$fdoc])* pub $field: $ty,)*
        }

        impl $name {
            /// A payload for a write that succeeded, with its objects.
            #[allow(dead_code)]
            pub fn success($($field: $ty),*) -> $name {
                $name {
                    client_mutation_id: None,
                    outcome: $crate::graphql::mutation::WriteOutcome::Success,
                    user_errors: Vec::new(),
                    $($field,)*
                }
            }
        }

        impl $crate::graphql::mutation::Payload for $name {
            fn failed(error: $crate::graphql::mutation::UserError) -> $name {
                $name {
                    client_mutation_id: None,
                    outcome: error.outcome(),
                    user_errors: vec![error],
                    $($field: Default::default(),)*
                }
            }

            fn keep(&self) -> bool {
                !self.user_errors.iter().any(|e| e.retryable() || e.refused_input)
            }

            fn echo(&mut self, client_mutation_id: Option<String>) {
                self.client_mutation_id = client_mutation_id;
            }

            fn outcome(&self) -> $crate::graphql::mutation::WriteOutcome {
                self.outcome
            }

            fn first_error(&self) -> Option<$crate::graphql::mutation::UserErrorCode> {
                self.user_errors.first().map(|e| e.code)
            }

            fn save(&self) -> serde_json::Value {
                use $crate::graphql::mutation::Stored;
                serde_json::json!({
                    "outcome": self.outcome.save(),
                    "userErrors": self.user_errors.save(),
                    $(stringify!($field): self.$field.save(),)*
                })
            }

            fn load(
                v: &serde_json::Value,
                dirs: &$crate::directory::Directories,
            ) -> Option<$name> {
                use $crate::graphql::mutation::Stored;
                Some($name {
                    client_mutation_id: None,
                    outcome: Stored::load(&v["outcome"], dirs)?,
                    user_errors: Stored::load(&v["userErrors"], dirs)?,
                    $($field: Stored::load(&v[stringify!($field)], dirs)?,)*
                })
            }
        }
    };
}
pub(crate) use payload;

/// What the shared mutation plumbing needs of a payload.
pub trait Payload: Clone + Send + Sync + 'static {
    /// A payload for a mutation that failed with `error` before changing anything.
    fn failed(error: UserError) -> Self;
    /// Whether an idempotency key should remember this result (failures known not applied and
    /// worth retrying, and inputs refused before sending, are forgotten, so the same key can
    /// try again).
    fn keep(&self) -> bool;
    fn echo(&mut self, client_mutation_id: Option<String>);
    fn outcome(&self) -> WriteOutcome;
    /// The first user error's code: the audit row's error code.
    fn first_error(&self) -> Option<UserErrorCode>;
    /// The payload as an idempotency record keeps it.
    fn save(&self) -> serde_json::Value;
    /// The payload `save` kept; `None` if it cannot be rebuilt.
    fn load(v: &serde_json::Value, dirs: &crate::directory::Directories) -> Option<Self>;
}

/// What every write's input takes besides its own fields.
#[derive(InputObject, Clone, Default, Debug)]
pub struct WriteOptions {
    /// Repeating a request with the same key and input within 24 hours returns the first result
    /// and sends nothing: safe retries. Keys are 1 to 255 visible ASCII characters, scoped to
    /// the API key, the organization and the mutation: another caller's key never meets yours.
    /// An input refused by validation is not remembered.
    pub idempotency_key: Option<String>,
    /// Echoed in the payload.
    pub client_mutation_id: Option<String>,
}

/// One mutation call: its name, its input's fingerprint, the organizations it names (see
/// `orgs_named`), and the write options.
pub struct Call {
    name: &'static str,
    fingerprint: String,
    orgs: String,
    options: WriteOptions,
    targets: Vec<crate::store::Target>,
}

impl Call {
    pub fn new<I: serde::Serialize>(
        name: &'static str,
        input: &I,
        options: &WriteOptions,
        orgs: String,
    ) -> Call {
        let value = serde_json::to_value(input).unwrap_or_default();
        Call {
            name,
            fingerprint: format!("{name}:{value}"),
            orgs,
            options: options.clone(),
            targets: journal::targets_of(&value),
        }
    }

    /// The audit row's targets, when the input's ids and e-mails do not say them (a raw SCIM
    /// request's path and body).
    pub fn with_targets(mut self, targets: Vec<crate::store::Target>) -> Call {
        self.targets = targets;
        self
    }

    /// Runs `work` under the idempotency key (if any), turns a validation failure into a
    /// payload, and echoes `clientMutationId`.
    pub async fn run<P: Payload>(
        self,
        ctx: &async_graphql::Context<'_>,
        work: impl Future<Output = Result<P, UserError>>,
    ) -> async_graphql::Result<P> {
        let runner = Runner {
            idempotency: ctx.data::<Idempotency>()?,
            journal: ctx.data_opt::<Option<Journal>>().and_then(Option::as_ref),
            dirs: ctx.data::<crate::directory::Directories>()?,
        };
        let request_id = ctx
            .data_opt::<crate::graphql::RequestTag>()
            .map(|t| t.0.clone())
            .unwrap_or_default();
        self.run_with(
            runner,
            ctx.data_opt::<crate::auth::Principal>(),
            request_id,
            work,
        )
        .await
        .map_err(crate::graphql::errors::bad_input)
    }

    /// [`Call::run`] for a write that does not come through GraphQL (the SCIM proxy, the REST
    /// view): the same idempotency records, journal and audit log, taken from `schema`. An
    /// idempotency key that is not one is the `Err`, and nothing ran.
    pub async fn run_outside<P: Payload>(
        self,
        schema: &crate::graphql::GatewaySchema,
        principal: &crate::auth::Principal,
        request_id: &str,
        work: impl Future<Output = Result<P, UserError>>,
    ) -> Result<P, String> {
        let (Some(idempotency), Some(dirs)) = (
            schema.data::<Idempotency>(),
            schema.data::<crate::directory::Directories>(),
        ) else {
            return Err("the gateway is not set up for writes".to_owned());
        };
        let runner = Runner {
            idempotency,
            journal: schema.data::<Option<Journal>>().and_then(Option::as_ref),
            dirs,
        };
        self.run_with(runner, Some(principal), request_id.to_owned(), work)
            .await
    }

    async fn run_with<P: Payload>(
        self,
        runner: Runner<'_>,
        principal: Option<&crate::auth::Principal>,
        request_id: String,
        work: impl Future<Output = Result<P, UserError>>,
    ) -> Result<P, String> {
        let Runner {
            idempotency,
            journal,
            dirs,
        } = runner;
        let key = self.options.idempotency_key.as_deref();
        if let Some(key) = key {
            idempotency::check_key(key)?;
        }
        let scope = idempotency::Scope {
            principal: principal.map(|p| p.name.clone()).unwrap_or_default(),
            orgs: self.orgs.clone(),
            mutation: self.name,
        };
        let meta = crate::store::IntentMeta {
            principal: scope.principal.clone(),
            role: principal.map(|p| p.role.to_string()).unwrap_or_default(),
            orgs: self.orgs,
            mutation: self.name.to_owned(),
            request_id,
            targets: self.targets,
            fingerprint: self.fingerprint.clone(),
        };
        // Boxed: a write's future is large, and resolvers nest in the executor's.
        let work = Box::pin(async move {
            let work = async { work.await.unwrap_or_else(P::failed) };
            match journal {
                Some(journal) => journal.run(meta, key, dirs, work).await,
                None => work.await,
            }
        });
        let mut payload = match idempotency
            .run(scope, key, self.fingerprint, work, P::keep)
            .await
        {
            Ok(p) => p,
            Err(idempotency::Reused) => P::failed(reused()),
        };
        payload.echo(self.options.client_mutation_id);
        Ok(payload)
    }
}

/// What a write runs with: idempotency records, the journal (none in the SDL's and the
/// resolver tests' schemas) and the directories a replayed answer is rebuilt from.
struct Runner<'a> {
    idempotency: &'a Idempotency,
    journal: Option<&'a Journal>,
    dirs: &'a crate::directory::Directories,
}

/// The user error for a reused idempotency key.
pub fn reused() -> UserError {
    UserError::new(
        UserErrorCode::IdempotencyKeyReused,
        &["input", "idempotencyKey"],
        "this idempotency key was used with a different input in the last 24 hours",
    )
}
