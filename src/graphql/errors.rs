//! The one mapping from internal errors to GraphQL errors: a stable `extensions.code`, a message
//! a person understands, and nothing of the upstream's bodies or the transport.

use async_graphql::{Error, ErrorExtensions};

use crate::directory::DirectoryError;

pub const BAD_USER_INPUT: &str = "BAD_USER_INPUT";
pub const NOT_FOUND: &str = "NOT_FOUND";
pub const RATE_LIMITED: &str = "RATE_LIMITED";
pub const UPSTREAM_UNAVAILABLE: &str = "UPSTREAM_UNAVAILABLE";
pub const CREDENTIAL_REVOKED: &str = "CREDENTIAL_REVOKED";
pub const INTERNAL: &str = "INTERNAL";

/// An error with a code.
pub fn coded(code: &'static str, message: impl Into<String>) -> Error {
    Error::new(message).extend_with(|_, e| e.set("code", code))
}

pub fn bad_input(message: impl Into<String>) -> Error {
    coded(BAD_USER_INPUT, message)
}

pub fn directory(org: &str, e: DirectoryError) -> Error {
    match e {
        DirectoryError::CredentialRevoked => coded(
            CREDENTIAL_REVOKED,
            format!(
                "organization {org:?}: the upstream rejected the SCIM key; calls are stopped until the configuration changes"
            ),
        ),
        DirectoryError::RateLimited { retry_after } => {
            let secs = retry_after.map(|d| d.as_secs_f64().ceil() as u64);
            Error::new(format!(
                "organization {org:?}: the upstream is rate limiting; try again later"
            ))
            .extend_with(|_, ext| {
                ext.set("code", RATE_LIMITED);
                if let Some(s) = secs {
                    ext.set("retryAfter", s);
                }
            })
        }
        DirectoryError::Unavailable
        | DirectoryError::Interrupted
        | DirectoryError::Malformed
        | DirectoryError::Rejected { .. } => coded(
            UPSTREAM_UNAVAILABLE,
            format!(
                "organization {org:?}: the upstream directory could not be read; try again later"
            ),
        ),
        DirectoryError::ShuttingDown => coded(UPSTREAM_UNAVAILABLE, "the gateway is shutting down"),
    }
}
