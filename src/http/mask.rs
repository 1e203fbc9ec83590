//! Error masking: every error leaves with an `extensions.code` and the request's id; an error
//! without a code is internal, so it is logged once with the id and shown only as "internal
//! error". Upstream bodies and transport text never reach a client.

use axum::http::{HeaderMap, HeaderValue};
use axum::response::Response;
use serde_json::{Value, json};

use crate::graphql::errors::Code;

pub(crate) const REQUEST_ID: &str = "x-request-id";

/// The id of one request: the client's `x-request-id` when it is sane, else a new one.
pub(crate) struct RequestId(pub String);

impl RequestId {
    pub(crate) fn from_headers(headers: &HeaderMap) -> RequestId {
        let given = headers
            .get(REQUEST_ID)
            .and_then(|v| v.to_str().ok())
            .filter(|v| {
                (1..=64).contains(&v.len())
                    && v.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            });
        match given {
            Some(v) => RequestId(v.to_owned()),
            None => RequestId(format!("{:016x}", rand::random::<u64>())),
        }
    }

    pub(crate) fn stamp(&self, response: &mut Response) {
        if let Ok(v) = HeaderValue::from_str(&self.0) {
            response.headers_mut().insert(REQUEST_ID, v);
        }
    }
}

/// Gives a request its id before anything logs (the client's sane `x-request-id`, else a new
/// one), written back into the request so the handler's `RequestId::from_headers` reads it too.
pub(crate) async fn assign_request_id(
    mut request: axum::extract::Request,
) -> axum::extract::Request {
    let id = RequestId::from_headers(request.headers());
    if let Ok(v) = HeaderValue::from_str(&id.0) {
        request.headers_mut().insert(REQUEST_ID, v);
    }
    request
}

/// The span a request's log lines carry, so each (text or JSON) names its request id. The
/// path only: a query string may hold a GET request's variables.
pub(crate) fn request_span<B>(request: &axum::http::Request<B>) -> tracing::Span {
    let id = request
        .headers()
        .get(REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    tracing::info_span!(
        "request",
        method = %request.method(),
        path = request.uri().path(),
        request_id = id,
    )
}

/// The response as JSON text, every error coded and stamped.
pub(crate) fn mask_to_string(
    response: async_graphql::Response,
    id: &RequestId,
    client: &str,
) -> String {
    if response.errors.is_empty() {
        // The common case: nothing to mask, serialize once.
        if let Ok(text) = serde_json::to_string(&response) {
            return text;
        }
    }
    mask(response, id, client).to_string()
}

/// The response as JSON, every error coded and stamped.
pub(crate) fn mask(mut response: async_graphql::Response, id: &RequestId, client: &str) -> Value {
    mask_errors(&mut response, id, client);
    serde_json::to_value(&response).unwrap_or_else(|_| json!({ "data": null }))
}

/// Codes and stamps every error of `response` in place. An error without a code is internal:
/// its message is logged and replaced, and its extensions are only the code; parse and
/// validation errors (no data, no path) are about the query the client sent and keep theirs.
pub(crate) fn mask_errors(response: &mut async_graphql::Response, id: &RequestId, client: &str) {
    let request_failed = response.data == async_graphql::Value::Null;
    for error in &mut response.errors {
        let has_code = error
            .extensions
            .as_ref()
            .is_some_and(|e| e.get("code").is_some());
        if !has_code {
            let code = if request_failed && error.path.is_empty() {
                Code::GraphqlValidationFailed
            } else {
                tracing::error!(request_id = %id.0, client, error = %error.message, path = ?error.path, "internal error");
                error.message = format!(
                    "internal error; quote request id {} when reporting it",
                    id.0
                );
                error.extensions = None;
                Code::Internal
            };
            error
                .extensions
                .get_or_insert_with(Default::default)
                .set("code", code.as_str());
        }
        if let Some(ext) = &mut error.extensions {
            ext.set("requestId", id.0.as_str());
        }
    }
}

#[cfg(test)]
mod tests {
    use async_graphql::{PathSegment, ServerError};

    use super::*;

    #[test]
    fn errors_without_a_code_are_internal_and_every_error_carries_the_request_id() {
        let mut response = async_graphql::Response::new(
            async_graphql::Value::from_json(json!({ "org": null })).unwrap(),
        );
        let mut internal = ServerError::new(
            "Data `Directories` does not exist. (at src/graphql/query.rs:42)",
            None,
        );
        internal.path = vec![PathSegment::Field("org".into())];
        let mut coded = ServerError::new("`first` must be between 0 and 100", None);
        let mut ext = async_graphql::ErrorExtensionValues::default();
        ext.set("code", "BAD_USER_INPUT");
        coded.extensions = Some(ext);
        response.errors = vec![internal, coded];
        let body = mask(response, &RequestId("req-1".into()), "test");
        let errors = body["errors"].as_array().unwrap();
        assert_eq!(
            errors[0]["extensions"],
            json!({ "code": "INTERNAL", "requestId": "req-1" })
        );
        assert_eq!(
            errors[0]["message"],
            "internal error; quote request id req-1 when reporting it"
        );
        assert!(!body.to_string().contains("src/"));
        assert_eq!(
            errors[1]["extensions"],
            json!({ "code": "BAD_USER_INPUT", "requestId": "req-1" })
        );
        assert_eq!(errors[1]["message"], "`first` must be between 0 and 100");
    }
}
