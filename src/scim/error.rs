//! The SCIM layer's one error type. Upstream bodies are kept for logs; the layers above map
//! variants to client-facing codes and never show the bodies.

use std::time::Duration;

use super::wire::ErrorBody;
use crate::budget::BudgetError;

#[derive(Debug, thiserror::Error)]
pub enum ScimError {
    /// 401: the key was regenerated or removed. Calls of the organization stop until the
    /// configuration changes.
    #[error("the upstream rejected the organization's SCIM key")]
    CredentialRevoked,
    /// 429 after the allowed tries, or a `Retry-After` longer than the policy waits.
    #[error("the upstream is rate limiting this organization")]
    RateLimited { retry_after: Option<Duration> },
    #[error("not found upstream")]
    NotFound,
    /// 409, e.g. a user who already exists or is already invited.
    #[error("the upstream reports a conflict")]
    Conflict { body: ErrorBody },
    /// 412 on the first try: the resource's version is no longer the one `If-Match` named
    /// (someone changed it since it was read). Nothing was applied.
    #[error("the resource changed upstream since it was read")]
    PreconditionFailed,
    /// Any other 4xx: the upstream refused the request as sent.
    #[error("the upstream rejected the request with status {status}")]
    Rejected { status: u16, body: ErrorBody },
    /// 5xx after the allowed tries. For a write, whether it was applied is unknown.
    #[error("the upstream failed with status {status}")]
    Upstream {
        status: u16,
        body: ErrorBody,
        outcome_unknown: bool,
    },
    /// No answer in time. For a write, whether it was applied is unknown.
    #[error("the upstream did not answer in time")]
    Timeout { outcome_unknown: bool },
    /// The request could not be sent (connection refused, DNS, TLS).
    #[error("the upstream could not be reached")]
    Unavailable {
        #[source]
        source: Option<reqwest::Error>,
    },
    /// A success answer whose body is not what SCIM promises.
    #[error("the upstream sent a malformed {what}")]
    Malformed {
        what: &'static str,
        #[source]
        source: serde_json::Error,
    },
    #[error("the organization's budget is closed")]
    BudgetClosed,
    /// A stopped process sent this write and never learned its answer; it is not sent again.
    /// Whether it was applied is unknown until read back.
    #[error("a stopped process sent this write and its answer never came")]
    Unconfirmed,
    /// The write could not be recorded as sent (the store is down); nothing was sent.
    #[error("the write could not be recorded before sending ({reason}); nothing was sent")]
    NotRecorded { reason: String },
}

impl ScimError {
    /// Whether a write that failed this way may still have been applied upstream.
    pub fn outcome_unknown(&self) -> bool {
        match self {
            ScimError::Upstream {
                outcome_unknown, ..
            }
            | ScimError::Timeout { outcome_unknown } => *outcome_unknown,
            ScimError::Unconfirmed => true,
            _ => false,
        }
    }
}

impl From<BudgetError> for ScimError {
    fn from(e: BudgetError) -> Self {
        match e {
            BudgetError::CredentialRevoked => ScimError::CredentialRevoked,
            BudgetError::Closed => ScimError::BudgetClosed,
            // Refused before anything was sent: to the caller, the same as the upstream's 429,
            // with the budget's own estimate of when a slot frees up.
            BudgetError::Overloaded { retry_after } => ScimError::RateLimited {
                retry_after: Some(retry_after),
            },
        }
    }
}
