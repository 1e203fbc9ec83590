//! Every `extensions.code` the gateway emits, in one table. Clients branch on these names, so a
//! name never changes; `as_str` is the only place one is spelled.

use async_graphql::{Error, ErrorExtensionValues, ErrorExtensions, ServerError};

/// A stable error code (`extensions.code`). Mutations' `userErrors` have their own typed enum,
/// `UserErrorCode`, in the schema.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Code {
    /// No API key, or not a known one (HTTP 401).
    Unauthenticated,
    /// The key's role is too low for the field or mutation.
    Forbidden,
    /// The HTTP request is not a GraphQL request the gateway can read (400, 415).
    BadRequest,
    /// The body or the query string is over `limits.max_body_bytes` (413, 414).
    RequestTooLarge,
    /// No such endpoint (404), or no such object where one is required.
    NotFound,
    /// The method is not accepted on the path (405, with `Allow`).
    MethodNotAllowed,
    /// A JSON array of operations while batching is off.
    BatchingDisabled,
    /// More operations in a batch than `limits.max_batch`.
    BatchLimit,
    /// More lexical tokens than `limits.max_tokens`.
    TokenLimit,
    /// Deeper than `limits.max_depth`.
    DepthLimit,
    /// More aliases than `limits.max_aliases`.
    AliasLimit,
    /// Costlier than `limits.max_complexity`, or more fields once fragments are inlined.
    ComplexityLimit,
    /// As many operations are streaming (subscriptions over WebSocket or SSE) as
    /// `limits.max_subscriptions` allows.
    SubscriptionLimit,
    /// Introspection while `limits.introspection` is off.
    IntrospectionDisabled,
    /// The document does not parse.
    GraphqlParseFailed,
    /// The document parses but does not validate against the schema.
    GraphqlValidationFailed,
    /// An argument the gateway refuses (a page over 100, a forged cursor or id, ...).
    BadUserInput,
    /// The organization's budget cannot take the call soon enough, or the upstream answered 429;
    /// `retryAfter` (seconds) and `retryAfterMs` say when to try again.
    RateLimited,
    /// The upstream could not be read; trying again later is safe.
    UpstreamUnavailable,
    /// The upstream rejected the organization's SCIM key; calls stop until the configuration changes.
    CredentialRevoked,
    /// The gateway's store (the audit log) cannot be read; trying again later is safe.
    StoreUnavailable,
    /// A resume cursor points before events the log's retention removed: the events between
    /// are gone; start again without `after` and reconcile by reading.
    EventsExpired,
    /// A fault of the gateway: logged with the request id, shown only as "internal error".
    Internal,
}

impl Code {
    pub const ALL: [Code; 23] = [
        Code::Unauthenticated,
        Code::Forbidden,
        Code::BadRequest,
        Code::RequestTooLarge,
        Code::NotFound,
        Code::MethodNotAllowed,
        Code::BatchingDisabled,
        Code::BatchLimit,
        Code::TokenLimit,
        Code::DepthLimit,
        Code::AliasLimit,
        Code::ComplexityLimit,
        Code::SubscriptionLimit,
        Code::IntrospectionDisabled,
        Code::GraphqlParseFailed,
        Code::GraphqlValidationFailed,
        Code::BadUserInput,
        Code::RateLimited,
        Code::UpstreamUnavailable,
        Code::CredentialRevoked,
        Code::StoreUnavailable,
        Code::EventsExpired,
        Code::Internal,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            Code::Unauthenticated => "UNAUTHENTICATED",
            Code::Forbidden => "FORBIDDEN",
            Code::BadRequest => "BAD_REQUEST",
            Code::RequestTooLarge => "REQUEST_TOO_LARGE",
            Code::NotFound => "NOT_FOUND",
            Code::MethodNotAllowed => "METHOD_NOT_ALLOWED",
            Code::BatchingDisabled => "BATCHING_DISABLED",
            Code::BatchLimit => "BATCH_LIMIT",
            Code::TokenLimit => "TOKEN_LIMIT",
            Code::DepthLimit => "DEPTH_LIMIT",
            Code::AliasLimit => "ALIAS_LIMIT",
            Code::ComplexityLimit => "COMPLEXITY_LIMIT",
            Code::SubscriptionLimit => "SUBSCRIPTION_LIMIT",
            Code::IntrospectionDisabled => "INTROSPECTION_DISABLED",
            Code::GraphqlParseFailed => "GRAPHQL_PARSE_FAILED",
            Code::GraphqlValidationFailed => "GRAPHQL_VALIDATION_FAILED",
            Code::BadUserInput => "BAD_USER_INPUT",
            Code::RateLimited => "RATE_LIMITED",
            Code::UpstreamUnavailable => "UPSTREAM_UNAVAILABLE",
            Code::CredentialRevoked => "CREDENTIAL_REVOKED",
            Code::StoreUnavailable => "STORE_UNAVAILABLE",
            Code::EventsExpired => "EVENTS_EXPIRED",
            Code::Internal => "INTERNAL",
        }
    }

    /// A resolver's error with this code.
    pub fn error(self, message: impl Into<String>) -> Error {
        Error::new(message).extend_with(|_, e| e.set("code", self.as_str()))
    }

    /// A request-level error with this code (before or instead of execution).
    pub fn server_error(self, message: impl Into<String>) -> ServerError {
        let mut e = ServerError::new(message, None);
        self.stamp(&mut e);
        e
    }

    /// Sets this code on an error, replacing any other extensions.
    pub fn stamp(self, e: &mut ServerError) {
        let mut ext = ErrorExtensionValues::default();
        ext.set("code", self.as_str());
        e.extensions = Some(ext);
    }

    /// The error body the HTTP edge answers with, in GraphQL's error shape.
    pub fn body(self, message: &str, request_id: Option<&str>) -> serde_json::Value {
        let mut extensions = serde_json::json!({ "code": self.as_str() });
        if let Some(id) = request_id {
            extensions["requestId"] = id.into();
        }
        serde_json::json!({ "errors": [{ "message": message, "extensions": extensions }] })
    }
}

impl std::fmt::Display for Code {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn every_code_is_listed_once_and_spelled_as_its_name_in_screaming_snake_case() {
        let names: HashSet<&str> = Code::ALL.iter().map(|c| c.as_str()).collect();
        assert_eq!(names.len(), Code::ALL.len());
        for code in Code::ALL {
            let debug = format!("{code:?}");
            let mut snake = String::new();
            for (i, c) in debug.chars().enumerate() {
                if c.is_uppercase() && i > 0 {
                    snake.push('_');
                }
                snake.push(c.to_ascii_uppercase());
            }
            assert_eq!(code.as_str(), snake);
        }
    }

    #[test]
    fn the_edge_body_is_graphqls_error_shape() {
        assert_eq!(
            Code::NotFound.body("no such endpoint", Some("req-1")),
            serde_json::json!({ "errors": [{ "message": "no such endpoint", "extensions": { "code": "NOT_FOUND", "requestId": "req-1" } }] })
        );
        let e = Code::TokenLimit.server_error("too many");
        assert_eq!(
            serde_json::to_value(&e).unwrap(),
            serde_json::json!({ "message": "too many", "extensions": { "code": "TOKEN_LIMIT" } })
        );
    }

    /// Codes are spelled only in `as_str`: no other source file writes one as a string.
    #[test]
    fn no_source_file_spells_a_code_outside_this_table() {
        fn files(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
            for entry in std::fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    files(&path, out);
                } else if path.extension().is_some_and(|e| e == "rs") {
                    out.push(path);
                }
            }
        }
        let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut all = Vec::new();
        files(&src, &mut all);
        for path in all {
            let shown = path.strip_prefix(&src).unwrap().display().to_string();
            // The emulator speaks SCIM's error shape, not the gateway's; this file is the table.
            if shown.starts_with("emulator")
                || shown.ends_with("code.rs")
                || shown.contains("tests")
            {
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            let code = text.split("#[cfg(test)]").next().unwrap();
            for c in Code::ALL {
                let literal = format!("\"{}\"", c.as_str());
                assert!(
                    !code.contains(&literal),
                    "{shown} spells the code {literal}; use `Code::{c:?}`"
                );
            }
        }
    }
}
