//! The SCIM layer: wire types, dialect profiles, the retry policy and the HTTP client.
//! It knows nothing of GraphQL; it reaches the network only through the budget.

mod client;
mod discovery;
mod error;
mod forward;
mod pager;
mod profile;
mod resources;
mod retry;
pub mod trace;
pub mod wire;

pub use client::{ClientConfig, ScimClient, install_crypto_provider};
pub use error::ScimError;
pub use forward::{Forwarded, check_path};
pub(crate) use pager::{Collection, Page, Pager};
pub use profile::Profile;
pub(crate) use profile::{EmailLookup, KeyRule};
pub use retry::RetryPolicy;

#[cfg(test)]
mod conditional_tests;
