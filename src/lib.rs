//! scimgate: a GraphQL gateway over SCIM 2.0 directories within the upstream's rate budget.

pub mod budget;
pub mod cli;
pub mod config;
pub mod emulator;
pub mod scim;
