//! The SCIM proxy's directory side: a raw SCIM request forwarded to the organization's
//! upstream in the lane its kind of change deserves (`lane.rs`), point reads of users answered
//! from a complete mirror where it holds exactly what the upstream would send, and every
//! successful write absorbed into the mirror (`absorb.rs`) so GraphQL reads show it at once.

mod absorb;
mod lane;

use std::time::Duration;

use reqwest::Method;
use serde_json::Value;

use crate::budget::Lane;
use crate::directory::Directory;
use crate::scim::wire::{GroupRef, ResourceId, ScimErrorBody};
use crate::scim::{Forwarded, Profile, ScimError};

/// Why a path below the SCIM root is not forwarded (the scim layer's rule).
pub use crate::scim::check_path as check_proxy_path;
pub(crate) use lane::{Target, is_write};

/// A SCIM request as the proxy's client sent it, below the SCIM root.
#[derive(Clone, Copy, Debug)]
pub struct ProxyRequest<'a> {
    pub method: &'a Method,
    /// Below the SCIM root, as received (percent-encoded), checked by `scim::check_path`.
    pub path: &'a str,
    /// The query, decoded.
    pub query: &'a [(String, String)],
    /// The JSON body, if one was sent.
    pub body: Option<&'a Value>,
    pub if_match: Option<&'a str>,
}

/// Why a forwarded request failed, as a caller (and the audit row) must treat it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProxyFailure {
    /// 404 upstream.
    NotFound,
    /// 409 upstream (the resource exists), or a 412: the version `If-Match` named is gone.
    Conflict,
    /// Another 4xx: the upstream refused the request as sent.
    Rejected,
    /// The budget's admission refused it, or the upstream's 429 outlasted the retries.
    RateLimited,
    /// The upstream failed or could not be reached, and nothing was applied.
    Unavailable,
    /// The upstream rejected the organization's SCIM key.
    CredentialRevoked,
    /// The write could not be recorded as sent; nothing was sent.
    NotRecorded,
    /// No answer came to a write: whether it was applied is unknown.
    Unknown,
}

/// The proxy's answer: a SCIM resource, list or error body and what goes with it.
#[derive(Clone, Debug)]
pub struct ProxyReply {
    pub status: u16,
    /// JSON text; empty for a `204`.
    pub body: String,
    pub etag: Option<String>,
    pub location: Option<String>,
    /// For a 429: when trying again can find a slot.
    pub retry_after: Option<Duration>,
    /// Answered from the mirror, with no upstream call.
    pub from_mirror: bool,
    /// The lane the request took (`critical`, `write`, `interactive`).
    pub lane: &'static str,
    pub failure: Option<ProxyFailure>,
}

impl ProxyReply {
    /// A SCIM error answer (`urn:ietf:params:scim:api:messages:2.0:Error`).
    pub fn error(status: u16, scim_type: Option<&str>, detail: &str) -> ProxyReply {
        let body = ScimErrorBody::new(status, scim_type, detail);
        ProxyReply {
            status,
            body: serde_json::to_string(&body).unwrap_or_default(),
            etag: None,
            location: None,
            retry_after: None,
            from_mirror: false,
            lane: "",
            failure: None,
        }
    }

    fn failed(mut self, failure: ProxyFailure, lane: Lane) -> ProxyReply {
        self.failure = Some(failure);
        self.lane = lane.as_str();
        self
    }
}

impl Directory {
    /// Forwards `request` to the organization's upstream (or answers it from the mirror), in
    /// its lane, and absorbs a successful write into the mirror.
    pub async fn proxy(&self, request: ProxyRequest<'_>) -> ProxyReply {
        let target = Target::of(request.path);
        let snapshot = self.snapshot();
        let lane = lane::lane_of(request.method, &target, request.body, &snapshot);
        if let Some(reply) = self.mirror_answer(&request, &target) {
            return reply;
        }
        let client = &self.inner.client;
        let sent = client
            .forward(
                lane,
                request.method.clone(),
                (request.path, request.query),
                request.body,
                request.if_match,
            )
            .await;
        let write = is_write(request.method, &target);
        match sent {
            Ok(answer) => {
                if write {
                    self.absorb(request.method, &target, &answer, lane).await;
                }
                let Forwarded {
                    status,
                    body,
                    etag,
                    location,
                } = answer;
                ProxyReply {
                    status,
                    body,
                    etag,
                    location,
                    retry_after: None,
                    from_mirror: false,
                    lane: lane.as_str(),
                    failure: None,
                }
            }
            Err(error) => {
                if write && error.outcome_unknown() {
                    // Never sent again; the mirror is brought up to date with the object as
                    // it now is, whatever happened.
                    tracing::warn!(org = %self.org_id(), error = %error, "a proxied write's outcome is unknown; reading the object back for the mirror");
                    self.reread(&target, lane).await;
                }
                error_reply(&error, write).failed(failure_of(&error), lane)
            }
        }
    }

    /// `GET /Users/{id}` with no query, answered from a complete mirror that has the user,
    /// on Amplitude (whose resources carry no version or dates, so the mirror's copy is the
    /// upstream's): the resource as read, its `groups` from the mirror's memberships.
    fn mirror_answer(&self, request: &ProxyRequest<'_>, target: &Target) -> Option<ProxyReply> {
        let Target::User(id) = target else {
            return None;
        };
        if *request.method != Method::GET
            || !request.query.is_empty()
            || self.profile() != Profile::Amplitude
        {
            return None;
        }
        let snapshot = self.snapshot();
        if !snapshot.complete || !snapshot.groups_loaded {
            return None;
        }
        let key = self.user_key(id);
        let rec = snapshot.user_by_key(key.as_str())?;
        let mut user = rec.resource();
        user.groups = Some(
            snapshot
                .groups_of(rec.key())
                .map(|g| GroupRef {
                    value: ResourceId(g.id.clone()),
                    display: Some(g.group.display_name.clone()),
                })
                .collect(),
        );
        Some(ProxyReply {
            status: 200,
            body: serde_json::to_string(&user).ok()?,
            etag: None,
            location: None,
            retry_after: None,
            from_mirror: true,
            lane: "",
            failure: None,
        })
    }
}

fn failure_of(error: &ScimError) -> ProxyFailure {
    if error.outcome_unknown() {
        return ProxyFailure::Unknown;
    }
    match error {
        ScimError::NotFound => ProxyFailure::NotFound,
        ScimError::Conflict { .. } | ScimError::PreconditionFailed => ProxyFailure::Conflict,
        ScimError::Rejected { .. } => ProxyFailure::Rejected,
        ScimError::RateLimited { .. } => ProxyFailure::RateLimited,
        ScimError::CredentialRevoked => ProxyFailure::CredentialRevoked,
        ScimError::NotRecorded { .. } => ProxyFailure::NotRecorded,
        _ => ProxyFailure::Unavailable,
    }
}

/// The most of an upstream's own `detail` a client is shown.
const MAX_DETAIL: usize = 300;

/// A failed call as a SCIM error. A 4xx keeps the upstream's `scimType` and `detail` (a SCIM
/// service's message to its client, which the proxy's client now is); a 5xx or a transport
/// failure gets the gateway's own words, never the upstream's body.
fn error_reply(error: &ScimError, write: bool) -> ProxyReply {
    let upstream = |status: u16, body: &crate::scim::wire::ErrorBody, fallback: &str| {
        let (scim_type, detail) = match body {
            crate::scim::wire::ErrorBody::Scim(b) => (
                b.scim_type.as_deref(),
                b.detail
                    .as_deref()
                    .map(|d| d.chars().take(MAX_DETAIL).collect::<String>()),
            ),
            crate::scim::wire::ErrorBody::Text(_) => (None, None),
        };
        ProxyReply::error(status, scim_type, detail.as_deref().unwrap_or(fallback))
    };
    let unknown = "the upstream did not confirm the change and it was not sent again: whether it was applied is unknown; read the resource before trying again";
    match error {
        ScimError::NotFound => ProxyReply::error(404, None, "Resource not found upstream"),
        ScimError::Conflict { body } => upstream(
            409,
            body,
            "the upstream reports a conflict (the resource exists)",
        ),
        ScimError::PreconditionFailed => ProxyReply::error(
            412,
            None,
            "the resource changed upstream since the version named in If-Match; nothing was applied",
        ),
        ScimError::Rejected { status, body } => {
            upstream(*status, body, "the upstream refused the request as sent")
        }
        ScimError::RateLimited { retry_after } => {
            let mut reply = ProxyReply::error(
                429,
                None,
                "the organization's upstream budget is taken (or the upstream is rate limiting); nothing was sent for this request, try again after Retry-After",
            );
            reply.retry_after = *retry_after;
            reply
        }
        ScimError::CredentialRevoked => ProxyReply::error(
            502,
            None,
            "the upstream rejected the organization's SCIM key; nothing was changed",
        ),
        ScimError::NotRecorded { .. } => ProxyReply::error(
            503,
            None,
            "the gateway cannot record this write in its store, so nothing was sent; try again shortly",
        ),
        ScimError::BudgetClosed => {
            ProxyReply::error(503, None, "the gateway is shutting down; try again shortly")
        }
        ScimError::Timeout { .. } if write && error.outcome_unknown() => {
            ProxyReply::error(504, None, unknown)
        }
        ScimError::Timeout { .. } => {
            ProxyReply::error(504, None, "the upstream did not answer in time")
        }
        _ if write && error.outcome_unknown() => ProxyReply::error(502, None, unknown),
        _ => ProxyReply::error(
            502,
            None,
            "the upstream failed or could not be reached; nothing was changed, trying again is safe",
        ),
    }
}
