//! The GraphQL layer: the schema and its one constructor. Resolvers reach data only through
//! `Directories`; errors leave through `errors` with a stable code.

pub mod connection;
pub mod errors;
pub mod ids;
pub mod loaders;
pub mod mutation;
pub mod query;
pub mod types;

use std::time::Duration;

use async_graphql::{EmptySubscription, Schema};

use crate::directory::Directories;

pub type GatewaySchema = Schema<query::Query, mutation::Mutation, EmptySubscription>;

/// Builds the schema with every limit set.
pub fn build_schema(dirs: Directories) -> GatewaySchema {
    Schema::build(
        query::Query,
        mutation::Mutation::default(),
        EmptySubscription,
    )
    .data(dirs)
    .data(mutation::Idempotency::new(
        Duration::from_secs(24 * 3600),
        100_000,
    ))
    .limit_depth(16)
    .limit_recursive_depth(32)
    .finish()
}

/// The schema's SDL, as committed in `schema.graphql`.
pub fn sdl() -> String {
    build_schema(Directories::default()).sdl()
}

/// Prepares a request for execution: its per-request DataLoader.
pub fn prepare(request: async_graphql::Request, schema: &GatewaySchema) -> async_graphql::Request {
    match schema.data::<Directories>() {
        Some(dirs) => loaders::attach(request, dirs),
        None => request,
    }
}
