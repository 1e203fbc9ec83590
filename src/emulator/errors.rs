//! The handler-level error type and its rendering as a SCIM Error message (or plain text).
//! Handlers return `ScimError`; the gate renders it once, with the profile's media type.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::config::{ErrorBodyFormat, Switches};
use crate::scim::Profile;
use crate::scim::wire::ScimErrorBody;

/// A SCIM error answer: status, `scimType` and a human `detail`.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("{status}: {detail}")]
pub(crate) struct ScimError {
    pub(crate) status: StatusCode,
    pub(crate) scim_type: Option<&'static str>,
    pub(crate) detail: String,
    /// Seconds for a `Retry-After` header (429 only).
    pub(crate) retry_after: Option<u64>,
}

impl ScimError {
    pub(crate) fn new(
        status: StatusCode,
        scim_type: Option<&'static str>,
        detail: impl Into<String>,
    ) -> Self {
        ScimError {
            status,
            scim_type,
            detail: detail.into(),
            retry_after: None,
        }
    }

    pub(crate) fn bad_request(scim_type: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, Some(scim_type), detail)
    }

    pub(crate) fn invalid_syntax(detail: impl Into<String>) -> Self {
        Self::bad_request("invalidSyntax", detail)
    }

    pub(crate) fn invalid_value(detail: impl Into<String>) -> Self {
        Self::bad_request("invalidValue", detail)
    }

    pub(crate) fn invalid_filter(detail: impl Into<String>) -> Self {
        Self::bad_request("invalidFilter", detail)
    }

    pub(crate) fn invalid_path(detail: impl Into<String>) -> Self {
        Self::bad_request("invalidPath", detail)
    }

    pub(crate) fn not_found(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, None, detail)
    }

    pub(crate) fn uniqueness(status: StatusCode, detail: impl Into<String>) -> Self {
        Self::new(status, Some("uniqueness"), detail)
    }

    pub(crate) fn too_many(retry_after: u64) -> Self {
        ScimError {
            retry_after: Some(retry_after),
            ..Self::new(StatusCode::TOO_MANY_REQUESTS, None, "Too many requests")
        }
    }

    /// Renders the error as the emulator is configured to.
    pub(crate) fn render(&self, profile: Profile, switches: &Switches) -> Response {
        let mut response = match switches.error_body {
            ErrorBodyFormat::Scim => {
                let body = ScimErrorBody::new(self.status.as_u16(), self.scim_type, &self.detail);
                let text = serde_json::to_string(&body).unwrap_or_default();
                let mut r = (self.status, text).into_response();
                r.headers_mut().insert(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static(profile.media_type()),
                );
                r
            }
            ErrorBodyFormat::Text => (
                self.status,
                format!("{} {}", self.status.as_u16(), self.detail),
            )
                .into_response(),
        };
        if let Some(secs) = self.retry_after.filter(|_| switches.retry_after_on_429) {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}

/// Marks a response as an unrendered error; the gate replaces it with `ScimError::render`.
#[derive(Clone, Debug)]
pub(crate) struct Unrendered(pub ScimError);

impl IntoResponse for ScimError {
    fn into_response(self) -> Response {
        let mut response = self.render(Profile::Amplitude, &Switches::default());
        response.extensions_mut().insert(Unrendered(self));
        response
    }
}

/// Renders an unrendered error left in a response by a handler.
pub(crate) fn finish(response: Response, profile: Profile, switches: &Switches) -> Response {
    match response.extensions().get::<Unrendered>() {
        Some(Unrendered(err)) => err.render(profile, switches),
        None => response,
    }
}

/// Parses a request body as JSON, answering 400 `invalidSyntax` when it is not.
pub(crate) fn parse_json(body: &[u8]) -> Result<serde_json::Value, ScimError> {
    serde_json::from_slice(body)
        .map_err(|e| ScimError::invalid_syntax(format!("invalid JSON body: {e}")))
}
