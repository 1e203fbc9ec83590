//! Helpers shared by the integration tests.

use std::time::Duration;

use scimgate::budget::{Budget, BudgetConfig};
use scimgate::scim::{ClientConfig, Profile, RetryPolicy, ScimClient};
use secrecy::SecretString;

pub const KEY: &str = "test-scim-key-0123456789abcdef";

/// A policy that retries as the default one does, only faster.
pub fn fast_policy() -> RetryPolicy {
    RetryPolicy {
        base_backoff: Duration::from_millis(10),
        max_backoff: Duration::from_millis(50),
        ..RetryPolicy::default()
    }
}

/// A client with a budget too large to matter.
pub fn client(base_url: &str, profile: Profile) -> ScimClient {
    client_with(
        base_url,
        profile,
        BudgetConfig::new(1_000, Duration::from_secs(1)),
        KEY,
    )
}

pub fn client_with(
    base_url: &str,
    profile: Profile,
    budget: BudgetConfig,
    key: &str,
) -> ScimClient {
    let mut config = ClientConfig::new(base_url, SecretString::from(key.to_owned()), profile);
    config.retry = fast_policy();
    config.attempt_timeout = Duration::from_millis(500);
    config.org = "test-org".into();
    ScimClient::new(config, Budget::new(budget)).expect("client")
}
