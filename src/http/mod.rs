//! The HTTP edge: `/graphql` (POST, GET, GraphiQL, SSE), `/graphql/ws` (subscriptions), `/graphiql/*` assets, `/healthz`, `/readyz`,
//! `/export/audit`, `/export/snapshots/{id}`, `/export/reviews/{id}`, the review page
//! `/reviews/{id}` (with `/assets/review/*`) and its report `/reviews/{id}/report`, the SCIM
//! proxy (`/{org}/scim/v2/...`), the unified REST view (`/unified/*`); API keys, CORS,
//! request ids, and a panic never taking the process or a
//! secret with it.
//! `app` builds the router without a socket; `serve` runs it on a given listener.

mod cost;
mod export;
mod graphiql;
mod graphql;
mod health;
mod mask;
mod metrics;
mod openapi;
mod proxy;
mod review_export;
mod review_page;
mod review_report;
mod snapshot_export;
mod stream;
mod unified;

use std::future::Future;
use std::sync::Arc;

use axum::Router;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use tokio::net::TcpListener;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::compression::CompressionLayer;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::trace::TraceLayer;

pub(crate) use graphiql::GraphiqlPage;
use mask::RequestId;
pub(crate) use metrics::MetricsGate;
pub use openapi::document as openapi_document;

use crate::auth::KeyStore;
use crate::config::LimitsConfig;
use crate::directory::Directories;
use crate::graphql::GatewaySchema;
use crate::graphql::errors::Code;
use crate::store::Store;

#[derive(Clone)]
pub struct AppState {
    pub schema: GatewaySchema,
    pub(crate) dirs: Directories,
    /// The durable store (`/readyz` says when it cannot be written).
    pub(crate) store: Option<Store>,
    /// `None` turns GraphiQL off.
    pub(crate) graphiql: Option<Arc<GraphiqlPage>>,
    pub(crate) keys: Arc<KeyStore>,
    pub(crate) limits: Arc<LimitsConfig>,
    /// Browser origins allowed to call the API; none by default.
    pub cors_origins: Vec<String>,
    /// The token `/metrics` asks for; `None` leaves it open.
    pub(crate) metrics_gate: Option<Arc<MetricsGate>>,
    /// Answers of queries the mirror alone decides; `None` when turned off.
    pub(crate) response_cache: Option<Arc<crate::graphql::cache::ResponseCache>>,
}

/// What a panic in a handler becomes: a coded error, no panic text.
fn panic_response(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    tracing::error!("a request handler panicked");
    edge_error(
        StatusCode::INTERNAL_SERVER_ERROR,
        Code::Internal,
        "internal error",
        None,
    )
}

/// An answer at the HTTP edge, in the shape of every other error: a JSON body with a code.
fn edge_error(status: StatusCode, code: Code, message: &str, id: Option<&RequestId>) -> Response {
    let body = code.body(message, id.map(|id| id.0.as_str()));
    let mut response = (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response();
    if let Some(id) = id {
        id.stamp(&mut response);
    }
    response
}

async fn not_found(uri: axum::http::Uri, headers: HeaderMap) -> Response {
    let message = format!(
        "no such endpoint: {}; GraphQL is at /graphql",
        uri.path().chars().take(200).collect::<String>()
    );
    let id = RequestId::from_headers(&headers);
    edge_error(StatusCode::NOT_FOUND, Code::NotFound, &message, Some(&id))
}

async fn method_not_allowed(method: Method, headers: HeaderMap) -> Response {
    // axum adds the path's `Allow` header to this answer.
    let message = format!("{method} is not accepted on this path; see the `Allow` header");
    edge_error(
        StatusCode::METHOD_NOT_ALLOWED,
        Code::MethodNotAllowed,
        &message,
        Some(&RequestId::from_headers(&headers)),
    )
}

fn cors(origins: &[String]) -> Option<CorsLayer> {
    let origins: Vec<HeaderValue> = origins
        .iter()
        .filter_map(|o| HeaderValue::from_str(o).ok())
        .collect();
    if origins.is_empty() {
        return None;
    }
    let request_id = HeaderName::from_static(mask::REQUEST_ID);
    Some(
        CorsLayer::new()
            .allow_origin(AllowOrigin::list(origins))
            .allow_methods([Method::GET, Method::POST])
            .allow_headers([
                header::CONTENT_TYPE,
                header::AUTHORIZATION,
                header::ACCEPT,
                request_id.clone(),
                HeaderName::from_static(cost::HEADER),
            ])
            .expose_headers([request_id, HeaderName::from_static("x-scimgate-cache")]),
    )
}

pub(crate) fn app(state: AppState) -> Router {
    let assets = Router::new()
        .route("/graphiql/{file}", get(graphiql::asset))
        .layer(CompressionLayer::new());
    let cors = cors(&state.cors_origins);
    let router = Router::new()
        .route("/graphql", get(graphql::get).post(graphql::post))
        .route("/graphql/ws", get(stream::ws))
        .route("/openapi.json", get(openapi::serve))
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(metrics::metrics))
        .route("/export/audit", get(export::audit))
        .route("/export/snapshots/{id}", get(snapshot_export::snapshot))
        .route("/export/reviews/{id}", get(review_export::review))
        .route("/reviews/{id}", get(review_page::review))
        .route("/reviews/{id}/report", get(review_report::report))
        .route("/assets/review/{file}", get(review_page::asset))
        .route(
            "/unified/users",
            get(unified::users).post(unified::create_user),
        )
        .route(
            "/unified/users/{id}",
            get(unified::user)
                .patch(unified::update_user)
                .delete(unified::delete_user),
        )
        .route(
            "/unified/users/{id}/deactivate",
            post(unified::deactivate_user),
        )
        .route("/unified/groups", get(unified::groups))
        .route("/unified/groups/{id}", get(unified::group))
        .route("/unified/groups/{id}/members", post(unified::add_members))
        .route(
            "/unified/groups/{id}/members/remove",
            post(unified::remove_members),
        )
        .route("/{org}/scim/v2", any(proxy::handle))
        .route("/{org}/scim/v2/{*path}", any(proxy::handle))
        .merge(assets)
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(TraceLayer::new_for_http().make_span_with(mask::request_span))
        .layer(axum::middleware::map_request(mask::assign_request_id))
        .layer(CatchPanicLayer::custom(panic_response))
        .with_state(state);
    match cors {
        Some(layer) => router.layer(layer),
        None => router,
    }
}

/// Serves until `shutdown` resolves, then lets requests in flight finish.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, app(state))
        .with_graceful_shutdown(shutdown)
        .await
}
