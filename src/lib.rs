//! scimgate: a GraphQL gateway over SCIM 2.0 directories within the upstream's rate budget.

pub mod auth;
pub mod budget;
pub mod cli;
pub mod config;
pub mod directory;
pub mod emulator;
pub mod gateway;
pub mod graphql;
pub mod http;
pub mod scim;
pub(crate) mod supervise;
pub mod telemetry;
