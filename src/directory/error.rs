//! The directory layer's error: what went wrong upstream, reduced to what a caller can act on.
//! Cloneable, because one failed refresh answers every client that waited for it.

use std::time::Duration;

use crate::scim::ScimError;

#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum DirectoryError {
    #[error("the organization's SCIM credential was rejected by the upstream")]
    CredentialRevoked,
    #[error("the upstream is rate limiting this organization")]
    RateLimited { retry_after: Option<Duration> },
    #[error("the upstream directory is unavailable")]
    Unavailable,
    #[error("the upstream sent an answer that could not be read")]
    Malformed,
    #[error("the upstream rejected the request")]
    Rejected { status: u16 },
    #[error("the gateway is shutting down")]
    ShuttingDown,
    /// The refresh stopped on a fault of the gateway itself (a panic); it is tried again.
    #[error("the refresh stopped on an internal error; it will be tried again")]
    Interrupted,
    /// The store could not record the write before it was sent; nothing was sent.
    #[error("the store could not record the write; nothing was sent")]
    NotRecorded,
}

impl From<&ScimError> for DirectoryError {
    fn from(e: &ScimError) -> Self {
        match e {
            ScimError::CredentialRevoked => DirectoryError::CredentialRevoked,
            ScimError::RateLimited { retry_after } => DirectoryError::RateLimited {
                retry_after: *retry_after,
            },
            ScimError::Malformed { .. } => DirectoryError::Malformed,
            ScimError::Rejected { status, .. } => DirectoryError::Rejected { status: *status },
            ScimError::PreconditionFailed => DirectoryError::Rejected { status: 412 },
            ScimError::NotFound | ScimError::Conflict { .. } => {
                DirectoryError::Rejected { status: 0 }
            }
            ScimError::Upstream { .. }
            | ScimError::Timeout { .. }
            | ScimError::Unavailable { .. }
            | ScimError::Unconfirmed => DirectoryError::Unavailable,
            ScimError::BudgetClosed => DirectoryError::ShuttingDown,
            ScimError::NotRecorded { .. } => DirectoryError::NotRecorded,
        }
    }
}

impl From<ScimError> for DirectoryError {
    fn from(e: ScimError) -> Self {
        DirectoryError::from(&e)
    }
}

/// Why a write did not succeed, as the caller must treat it.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum WriteError {
    #[error("no such user or group upstream")]
    NotFound,
    #[error("it already exists upstream")]
    AlreadyExists,
    /// The upstream refused the request as sent (a 4xx other than 404 and 409).
    #[error("the upstream refused the change (status {status})")]
    Rejected { status: u16 },
    /// The object changed upstream since the gateway read it (an `If-Match` write answered
    /// 412): nothing was applied, and the mirror now holds the object as it is.
    #[error("it changed upstream since the gateway read it")]
    Conflict,
    /// It failed and is known not to have been applied; trying again is safe.
    #[error("{0}")]
    NotApplied(DirectoryError),
    /// The upstream did not answer and reading back could not tell whether it was applied.
    #[error("outcome unknown: {reason}")]
    Unknown { reason: String },
}
