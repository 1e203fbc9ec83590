//! The SCIM layer: wire types, dialect profiles, the retry policy and the HTTP client.
//! It knows nothing of GraphQL; it reaches the network only through the budget.

pub(crate) mod client;
pub(crate) mod error;
pub(crate) mod pager;
pub(crate) mod profile;
mod resources;
pub(crate) mod retry;
pub mod wire;

pub use client::{ClientConfig, ScimClient, install_crypto_provider};
pub use error::ScimError;
pub(crate) use pager::{Collection, Page, Pager};
pub use profile::Profile;
pub use retry::RetryPolicy;
