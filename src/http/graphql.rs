//! `/graphql` per the GraphQL-over-HTTP spec: POST with JSON, GET with query parameters (queries
//! only), answers as `application/graphql-response+json` when asked, else `application/json`.

use async_graphql::parser::types::OperationType;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::AppState;
use crate::graphql;

const GRAPHQL_RESPONSE: &str = "application/graphql-response+json";
const JSON: &str = "application/json";

/// Whether the client asked for `application/graphql-response+json`.
fn wants_graphql_response(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains(GRAPHQL_RESPONSE))
}

fn wants_html(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("text/html"))
}

/// A request the gateway could not read at all, in GraphQL's error shape.
fn request_error(status: StatusCode, code: &str, message: &str, gql: bool) -> Response {
    let body = json!({ "errors": [{ "message": message, "extensions": { "code": code } }] });
    let content_type = if gql { GRAPHQL_RESPONSE } else { JSON };
    (
        status,
        [(header::CONTENT_TYPE, HeaderValue::from_static(content_type))],
        body.to_string(),
    )
        .into_response()
}

pub async fn post(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let gql = wants_graphql_response(&headers);
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let media = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if media != JSON && media != GRAPHQL_RESPONSE {
        return request_error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "BAD_REQUEST",
            "send the GraphQL request as JSON with `Content-Type: application/json`",
            gql,
        );
    }
    let request: async_graphql::Request = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => {
            let message = format!("the body is not a GraphQL request in JSON: {e}");
            return request_error(StatusCode::BAD_REQUEST, "BAD_REQUEST", &message, gql);
        }
    };
    execute(&state, request, gql).await
}

pub async fn get(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let gql = wants_graphql_response(&headers);
    let query = query.unwrap_or_default();
    if query.is_empty() && wants_html(&headers) {
        if let Some(page) = &state.graphiql {
            return page.response();
        }
    }
    let request = match async_graphql::http::parse_query_string(&query) {
        Ok(r) => r,
        Err(e) => {
            let message = format!("the query string is not a GraphQL request: {e}");
            return request_error(StatusCode::BAD_REQUEST, "BAD_REQUEST", &message, gql);
        }
    };
    if is_mutation(&request) {
        let mut response = request_error(
            StatusCode::METHOD_NOT_ALLOWED,
            "BAD_REQUEST",
            "mutations are accepted only with POST",
            gql,
        );
        response
            .headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("POST"));
        return response;
    }
    execute(&state, request, gql).await
}

/// Whether the operation that would run is a mutation (GET may not run one).
fn is_mutation(request: &async_graphql::Request) -> bool {
    let Ok(doc) = async_graphql::parser::parse_query(&request.query) else {
        return false;
    };
    let mut ops = doc.operations.iter();
    let op = match &request.operation_name {
        Some(name) => ops
            .find(|(n, _)| n.map(|n| n.as_str()) == Some(name.as_str()))
            .map(|(_, op)| op),
        None => ops.next().map(|(_, op)| op),
    };
    op.is_some_and(|op| op.node.ty == OperationType::Mutation)
}

async fn execute(state: &AppState, request: async_graphql::Request, gql: bool) -> Response {
    let request = graphql::prepare(request, &state.schema);
    let response = state.schema.execute(request).await;
    // A request that failed before execution (parse or validation) has no data at all.
    let request_failed = response.data == async_graphql::Value::Null && !response.errors.is_empty();
    let status = if gql && request_failed {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    let content_type = if gql { GRAPHQL_RESPONSE } else { JSON };
    let body = serde_json::to_string(&response).unwrap_or_else(|_| {
        json!({ "errors": [{ "message": "the response could not be encoded", "extensions": { "code": "INTERNAL" } }] }).to_string()
    });
    (
        status,
        [(header::CONTENT_TYPE, HeaderValue::from_static(content_type))],
        body,
    )
        .into_response()
}
