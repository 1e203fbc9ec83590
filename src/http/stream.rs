//! Streamed GraphQL: subscriptions (and any other operation) over graphql-transport-ws on
//! `/graphql/ws`, and over SSE on `/graphql` in the graphql-sse protocol's
//! distinct-connections mode (`Accept: text/event-stream`; each result an `event: next`, then
//! `event: complete`). Both check the API key, the organization scope and the query limits as
//! `/graphql` does, and code every error the same way.
//!
//! The key: on a WebSocket, the upgrade's `Authorization` header or `connection_init`'s
//! payload `{"Authorization": "Bearer <key>"}` (browsers cannot set headers on a WebSocket);
//! on SSE, the `Authorization` header, or `access_token` in the query string of a GET
//! (RFC 6750 §2.3, for a browser's `EventSource`, which cannot set headers either; request
//! logs never carry the query string).

use std::convert::Infallible;
use std::sync::{Arc, OnceLock};

use async_graphql::http::ALL_WEBSOCKET_PROTOCOLS;
use async_graphql::{Data, Executor};
use async_graphql_axum::{GraphQLProtocol, GraphQLWebSocket};
use axum::extract::State;
use axum::extract::ws::WebSocketUpgrade;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::stream::{self, BoxStream, StreamExt};

use super::AppState;
use super::mask::{RequestId, mask, mask_errors, mask_to_string};
use crate::auth::{KeyStore, Principal};
use crate::graphql::errors::Code;
use crate::graphql::limits::StreamSlots;
use crate::graphql::{self, GatewaySchema};

/// Whether the client asked for an event stream.
pub(super) fn wants_event_stream(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| {
            a.split(',').any(|r| {
                r.split(';')
                    .next()
                    .unwrap_or("")
                    .trim()
                    .eq_ignore_ascii_case("text/event-stream")
            })
        })
}

/// The `access_token` of a query string, percent-decoded.
pub(super) fn access_token(query: &str) -> Option<String> {
    query.split('&').find_map(|pair| {
        let value = pair.strip_prefix("access_token=")?;
        let value = value.replace('+', " ");
        percent_encoding::percent_decode_str(&value)
            .decode_utf8()
            .ok()
            .map(|v| v.into_owned())
    })
}

/// Runs `request` and answers with its results as server-sent events.
pub(super) fn sse(
    state: &AppState,
    request: async_graphql::Request,
    principal: &Principal,
    id: &RequestId,
) -> Response {
    let slot = match take_slot(&state.schema, "sse") {
        Ok(slot) => slot,
        Err(refused) => {
            // Refused before it ran: no `data`, as `/graphql` answers such a request.
            let mut body = mask(
                async_graphql::Response::from_errors(vec![refused]),
                id,
                &principal.name,
            );
            if let Some(object) = body.as_object_mut() {
                object.remove("data");
            }
            let mut response = (
                StatusCode::SERVICE_UNAVAILABLE,
                [(header::CONTENT_TYPE, "application/json")],
                body.to_string(),
            )
                .into_response();
            id.stamp(&mut response);
            return response;
        }
    };
    let results = match graphql::prepare(request, &state.schema, principal, &id.0) {
        Ok(request) => state.schema.execute_stream(request),
        Err(refused) => {
            stream::once(async { async_graphql::Response::from_errors(vec![refused]) }).boxed()
        }
    };
    let (id_for_stream, client) = (RequestId(id.0.clone()), principal.name.clone());
    let events = results
        .map(move |response| {
            let _slot = &slot;
            Ok::<_, Infallible>(Event::default().event("next").data(mask_to_string(
                response,
                &id_for_stream,
                &client,
            )))
        })
        .chain(stream::once(async {
            Ok(Event::default().event("complete").data(""))
        }));
    let mut response = Sse::new(events)
        .keep_alive(KeepAlive::default())
        .into_response();
    id.stamp(&mut response);
    response
}

/// `GET /graphql/ws`: a WebSocket speaking graphql-transport-ws (or the legacy
/// subscriptions-transport-ws, by the subprotocol the client offers).
pub(crate) async fn ws(
    State(state): State<AppState>,
    headers: HeaderMap,
    protocol: Result<GraphQLProtocol, StatusCode>,
    upgrade: Result<WebSocketUpgrade, axum::extract::ws::rejection::WebSocketUpgradeRejection>,
) -> Response {
    let id = RequestId::from_headers(&headers);
    let (Ok(protocol), Ok(upgrade)) = (protocol, upgrade) else {
        return super::edge_error(
            StatusCode::BAD_REQUEST,
            Code::BadRequest,
            "this endpoint is a WebSocket speaking graphql-transport-ws: open one with `Sec-WebSocket-Protocol: graphql-transport-ws`, or stream over SSE with POST /graphql and `Accept: text/event-stream`",
            Some(&id),
        );
    };
    let principal = Arc::new(OnceLock::new());
    if let Some(p) = super::graphql::authenticate(&state, &headers) {
        let _ = principal.set(p.clone());
    }
    let executor = Guarded {
        schema: state.schema.clone(),
        principal: principal.clone(),
        id: Arc::new(id.0.clone()),
    };
    let keys = state.keys.clone();
    let mut response = upgrade
        .protocols(ALL_WEBSOCKET_PROTOCOLS)
        .on_upgrade(move |socket| {
            GraphQLWebSocket::new(socket, executor, protocol)
                .on_connection_init(move |payload| connection_init(keys, principal, payload))
                .serve()
        });
    id.stamp(&mut response);
    response
}

/// Accepts the connection when the upgrade carried a valid key, or its payload does.
async fn connection_init(
    keys: Arc<KeyStore>,
    principal: Arc<OnceLock<Principal>>,
    payload: serde_json::Value,
) -> async_graphql::Result<Data> {
    if principal.get().is_some() {
        return Ok(Data::default());
    }
    let value = payload.as_object().and_then(|o| {
        o.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("authorization"))
            .and_then(|(_, v)| v.as_str())
    });
    match keys.authenticate_bearer(value) {
        Some(p) => {
            let _ = principal.set(p.clone());
            Ok(Data::default())
        }
        None => Err(
            "send a valid API key: `{\"Authorization\": \"Bearer <key>\"}` as connection_init's payload"
                .into(),
        ),
    }
}

/// The schema behind a WebSocket: each operation prepared for the connection's principal,
/// as `/graphql` prepares a request.
#[derive(Clone)]
struct Guarded {
    schema: GatewaySchema,
    principal: Arc<OnceLock<Principal>>,
    id: Arc<String>,
}

impl Executor for Guarded {
    async fn execute(&self, request: async_graphql::Request) -> async_graphql::Response {
        self.execute_stream(request, None)
            .next()
            .await
            .unwrap_or_default()
    }

    fn execute_stream(
        &self,
        request: async_graphql::Request,
        session_data: Option<Arc<Data>>,
    ) -> BoxStream<'static, async_graphql::Response> {
        let id = RequestId(self.id.to_string());
        let Some(principal) = self.principal.get() else {
            let refused = Code::Unauthenticated.error("send a valid API key in connection_init");
            let response = async_graphql::Response::from_errors(vec![
                refused.into_server_error(async_graphql::Pos::default()),
            ]);
            return stream::once(async { response }).boxed();
        };
        let client = principal.name.clone();
        let slot = match take_slot(&self.schema, "ws") {
            Ok(slot) => slot,
            Err(refused) => {
                let mut response = async_graphql::Response::from_errors(vec![refused]);
                mask_errors(&mut response, &id, &client);
                return stream::once(async { response }).boxed();
            }
        };
        let results = match graphql::prepare(request, &self.schema, principal, &id.0) {
            Ok(request) => self
                .schema
                .execute_stream_with_session_data(request, session_data.unwrap_or_default()),
            Err(refused) => {
                stream::once(async { async_graphql::Response::from_errors(vec![refused]) }).boxed()
            }
        };
        results
            .map(move |mut response| {
                let _slot = &slot;
                mask_errors(&mut response, &id, &client);
                response
            })
            .boxed()
    }
}

/// A streaming slot of the gateway behind `schema` (`limits.max_subscriptions`).
fn take_slot(
    schema: &GatewaySchema,
    transport: &'static str,
) -> Result<crate::graphql::limits::StreamSlot, async_graphql::ServerError> {
    match schema.data::<std::sync::Arc<StreamSlots>>() {
        Some(slots) => slots.take(transport),
        None => Ok(StreamSlots::new(u32::MAX).take(transport)?),
    }
}
