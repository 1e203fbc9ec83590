//! The GraphQL object types, each wrapping a directory value; inputs and enums beside them.
//!
//! Keep the futures of fields small. async-graphql boxes each selected field of an object in a
//! future as large as the type's largest field future, which holds the field's arguments, the
//! locals it keeps across an `.await`, and the value it returns while that resolves. Over
//! 1,032 bytes such a box misses glibc malloc's thread cache and takes the slow path, which
//! consolidates its free lists: at 1,056 bytes a page of 50 users with their groups made 722
//! such allocations instead of 107, and the benchmark's row 3 lost about a tenth. So values
//! fields return stay small (a connection boxes its `PageInfo`), and a rare wait inside a field
//! of `User` or `Group` is boxed; the futures are then 992 bytes. Two tests hold the line:
//! `connection::tests::values_fields_return_stay_small`, and `tests/field_futures.rs`, which
//! counts the large allocations of such a page in an optimized build.

pub(crate) mod audit;
pub(crate) mod event;
pub(crate) mod grant;
mod group;
mod inputs;
mod org;
pub(crate) mod review;
mod scope;
pub(crate) mod snapshot;
mod snapshot_diff;
mod status;
mod user;
pub(crate) mod webhook;

use std::time::SystemTime;

use async_graphql::{Context, Enum, InputValueError, InputValueResult, Scalar, ScalarType, Value};

use crate::graphql::errors::Code;
use crate::store::{Store, StoreError};

pub use audit::{AuditEntry, AuditEntryConnection, AuditLogFilter};
pub use event::DirectoryEventConnection;
pub use grant::{Grant, GrantConnection, GrantFilter};
pub use group::Group;
pub use inputs::{GroupFilter, GroupOrder, OrderDirection, UserFilter, UserOrder};
pub use org::Org;
pub use review::{AccessReview, AccessReviewConnection};
pub use scope::Scope;
pub use snapshot::{Snapshot, SnapshotConnection};
pub use snapshot_diff::SnapshotDiffConnection;
pub use status::{Budget, SyncStatus};
pub use user::User;
pub use webhook::{WebhookDelivery, WebhookDeliveryConnection, WebhookDeliveryFilter};

/// A point in time, as an RFC 3339 string in UTC (`2026-11-29T15:04:05.123Z`).
#[derive(Clone, Copy, Debug)]
pub struct DateTime(pub SystemTime);

/// Inputs' fingerprints (idempotency) hold times as GraphQL shows them.
impl serde::Serialize for DateTime {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&humantime::format_rfc3339_millis(self.0).to_string())
    }
}

/// A point in time, as an RFC 3339 string in UTC (`2026-11-29T15:04:05.123Z`).
#[Scalar]
impl ScalarType for DateTime {
    fn parse(value: Value) -> InputValueResult<Self> {
        match &value {
            Value::String(s) => humantime::parse_rfc3339(s).map(DateTime).map_err(|_| {
                InputValueError::custom(
                    "expected an RFC 3339 date-time such as 2026-11-29T15:04:05Z",
                )
            }),
            _ => Err(InputValueError::expected_type(value)),
        }
    }

    /// Checked at validation, so a bad date-time (a literal or a variable) is refused with a
    /// code before anything runs, as other bad argument values are.
    fn is_valid(value: &Value) -> bool {
        matches!(value, Value::String(s) if humantime::parse_rfc3339(s).is_ok())
    }

    fn to_value(&self) -> Value {
        Value::String(humantime::format_rfc3339_millis(self.0).to_string())
    }
}

/// Where an object was read from.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// The organization's mirror, refreshed in the background.
    Mirror,
    /// A read of this one object from the upstream, because the mirror did not have it.
    Upstream,
}

impl From<crate::directory::Source> for Source {
    fn from(s: crate::directory::Source) -> Self {
        match s {
            crate::directory::Source::Mirror => Source::Mirror,
            crate::directory::Source::Upstream => Source::Upstream,
        }
    }
}

/// The SCIM dialect an organization's upstream speaks.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScimProfile {
    /// Amplitude: e-mail ids, `itemsPerPage`, value-array member removal.
    Amplitude,
    /// Plain RFC 7644.
    #[graphql(name = "RFC7644")]
    Rfc7644,
}

/// Whether a user can use the organization.
///
/// Amplitude lists pending invitees as active, so `INVITED` is derived: a user is INVITED when
/// the upstream shows Amplitude's placeholder names (`NO_GIVEN_NAME` / `NO_FAMILY_NAME`), or when
/// this gateway sent the invitation and has not yet seen the user with real names.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum UserStatus {
    /// A member who has joined.
    Active,
    /// Invited and not yet joined (see the type's description for the rule).
    Invited,
    /// Listed by the upstream with `active: false` (Amplitude removes such users instead).
    Deactivated,
}

impl From<crate::directory::Status> for UserStatus {
    fn from(s: crate::directory::Status) -> Self {
        match s {
            crate::directory::Status::Active => UserStatus::Active,
            crate::directory::Status::Invited => UserStatus::Invited,
            crate::directory::Status::Deactivated => UserStatus::Deactivated,
        }
    }
}

impl From<UserStatus> for crate::directory::Status {
    fn from(s: UserStatus) -> Self {
        match s {
            UserStatus::Active => crate::directory::Status::Active,
            UserStatus::Invited => crate::directory::Status::Invited,
            UserStatus::Deactivated => crate::directory::Status::Deactivated,
        }
    }
}

/// The store `what` (the audit log, the event log, …) is read from, or `STORE_UNAVAILABLE`.
pub(crate) fn store_of<'a>(ctx: &Context<'a>, what: &str) -> async_graphql::Result<&'a Store> {
    ctx.data::<Option<Store>>()?
        .as_ref()
        .ok_or_else(|| store_unavailable(what))
}

/// `STORE_UNAVAILABLE` for reading `what`, the store's error logged (never shown).
pub(crate) fn store_failed(what: &'static str) -> impl Fn(StoreError) -> async_graphql::Error {
    move |e| {
        tracing::error!(error = %e, "{what} could not be read");
        store_unavailable(what)
    }
}

fn store_unavailable(what: &str) -> async_graphql::Error {
    Code::StoreUnavailable.error(format!(
        "{what} cannot be read now: the gateway's store is unavailable; try again later"
    ))
}
