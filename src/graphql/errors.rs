//! The one mapping from internal errors to GraphQL errors: a stable `extensions.code`, a message
//! a person understands, and nothing of the upstream's bodies or the transport.

use std::time::Duration;

use async_graphql::{Error, ErrorExtensions};

pub use super::code::Code;
use crate::directory::DirectoryError;

pub fn bad_input(message: impl Into<String>) -> Error {
    Code::BadUserInput.error(message)
}

pub fn directory(org: &str, e: DirectoryError) -> Error {
    match e {
        DirectoryError::CredentialRevoked => Code::CredentialRevoked.error(format!(
                "organization {org:?}: the upstream rejected the SCIM key; calls are stopped until the configuration changes"
            ),
        ),
        DirectoryError::RateLimited { retry_after } => Error::new(format!(
            "organization {org:?}: its upstream request budget is taken (or the upstream is rate limiting); try again after `retryAfter` seconds"
        ))
        .extend_with(|_, ext| {
            ext.set("code", Code::RateLimited.as_str());
            if let Some(d) = retry_after {
                let (secs, ms) = retry_after_parts(d);
                ext.set("retryAfter", secs);
                ext.set("retryAfterMs", ms);
            }
        }),
        DirectoryError::Unavailable
        | DirectoryError::Interrupted
        | DirectoryError::Malformed
        | DirectoryError::Rejected { .. } => Code::UpstreamUnavailable.error(format!(
                "organization {org:?}: the upstream directory could not be read; try again later"
            ),
        ),
        DirectoryError::ShuttingDown => Code::UpstreamUnavailable.error("the gateway is shutting down"),
        // Only writes are recorded; a read never meets this.
        DirectoryError::NotRecorded => Code::UpstreamUnavailable
            .error("the gateway's store cannot be written; nothing was sent"),
    }
}

/// Grants are kept in the store beside a real directory; the fake of the resolver unit tests
/// has none, and is the only handle that answers this.
pub(crate) fn no_grants() -> Error {
    Code::Internal.error("this organization keeps no grants")
}

/// The code a directory error shows as (for audit rows of system actions, e.g. refreshes).
pub fn code_of(e: &DirectoryError) -> &'static str {
    let code = match e {
        DirectoryError::CredentialRevoked => Code::CredentialRevoked,
        DirectoryError::RateLimited { .. } => Code::RateLimited,
        _ => Code::UpstreamUnavailable,
    };
    code.as_str()
}

/// A wait as `retryAfter` (whole seconds, rounded up, as HTTP's `Retry-After` needs: coming back
/// after it is never early) and `retryAfterMs` (rounded up to the millisecond, precise enough to
/// be within one emission interval of the real wait).
pub fn retry_after_parts(d: Duration) -> (u64, u64) {
    let ms = d.as_nanos().div_ceil(1_000_000) as u64;
    (ms.div_ceil(1_000), ms)
}
