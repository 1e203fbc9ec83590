//! The SCIM layer: wire types, dialect profiles, the retry policy and the HTTP client.
//! It knows nothing of GraphQL; it reaches the network only through the budget.

pub mod client;
pub mod error;
pub mod pager;
pub mod profile;
mod resources;
pub mod retry;
pub mod wire;

pub use client::{ClientConfig, ScimClient, install_crypto_provider};
pub use error::ScimError;
pub use pager::{Collection, Page, Pager};
pub use profile::Profile;
pub use retry::RetryPolicy;
