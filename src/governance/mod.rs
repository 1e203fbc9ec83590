//! Governance: domain rules over the directory that the store makes durable. Each job is a
//! `run_once(now)` step that tests call with injected time, plus a loop the gateway starts.

mod grants;
pub mod reviews;
pub mod snapshots;
#[cfg(test)]
mod tests;
pub mod webhooks;

pub use grants::{GrantError, GrantRequest, Grants, RunReport, backoff_ms};
pub use snapshots::{Schedule, SnapshotReport, Snapshots};
pub use webhooks::{WebhookReport, Webhooks};
