//! The HTTP edge: `/graphql` (POST, GET, GraphiQL), `/graphiql/*` assets, `/healthz`, `/readyz`.
//! `app` builds the router without a socket; `serve` runs it on a given listener.

mod graphiql;
mod graphql;
mod health;

use std::future::Future;
use std::sync::Arc;

use axum::Router;
use axum::routing::get;
use tokio::net::TcpListener;
use tower_http::compression::CompressionLayer;
use tower_http::trace::TraceLayer;

pub use graphiql::GraphiqlPage;

use crate::directory::Directories;
use crate::graphql::GatewaySchema;

#[derive(Clone)]
pub struct AppState {
    pub schema: GatewaySchema,
    pub dirs: Directories,
    /// `None` turns GraphiQL off.
    pub graphiql: Option<Arc<GraphiqlPage>>,
}

pub fn app(state: AppState) -> Router {
    let assets = Router::new()
        .route("/graphiql/{file}", get(graphiql::asset))
        .layer(CompressionLayer::new());
    Router::new()
        .route("/graphql", get(graphql::get).post(graphql::post))
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .merge(assets)
        .layer(TraceLayer::new_for_http())
        .with_state(state)
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
