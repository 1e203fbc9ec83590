//! Validation of each org read from the layers, and resolution of its SCIM key.
//! Every refusal is its own [`ConfigError`] variant; none quotes a secret or a URL.

use std::path::PathBuf;
use std::time::Duration;

use secrecy::SecretString;
use serde::Deserialize;

use super::{
    ApiKeyConfig, ConfigError, LimitsConfig, MirrorConfig, OrgConfig, ReviewsConfig, UpstreamConfig,
};
use crate::budget::BudgetConfig;
use crate::scim::Profile;

/// The most requests per minute Amplitude accepts for one organization.
const AMPLITUDE_LIMIT: u32 = 100;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawOrg {
    id: String,
    name: Option<String>,
    base_url: String,
    #[serde(default)]
    profile: Profile,
    key_env: Option<String>,
    key_file: Option<PathBuf>,
    #[serde(default)]
    budget: BudgetConfig,
    #[serde(default)]
    mirror: MirrorConfig,
    #[serde(default)]
    upstream: UpstreamConfig,
    #[serde(default)]
    reviews: ReviewsConfig,
}

/// An unrecognised `SCIMGATE_*` name is a typo unless an org's `key_env` points at it.
pub(super) fn reject_unknown_vars(
    table: &toml::Table,
    mut names: Vec<String>,
) -> Result<(), ConfigError> {
    let orgs = table
        .get("orgs")
        .and_then(toml::Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    let metrics_key_env = table
        .get("server")
        .and_then(|s| s.get("metrics_key_env")?.as_str());
    let key_envs: Vec<&str> = orgs
        .iter()
        .filter_map(|o| o.get("key_env")?.as_str())
        .chain(metrics_key_env)
        .collect();
    names.retain(|name| !key_envs.contains(&name.as_str()));
    if names.is_empty() {
        Ok(())
    } else {
        Err(ConfigError::UnknownEnv { names })
    }
}

pub(super) fn validate_org(raw: RawOrg) -> Result<OrgConfig, ConfigError> {
    let id = raw.id;
    let id_ok = (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
    if !id_ok {
        return Err(ConfigError::InvalidId);
    }
    let base_url = check_base_url(&raw.base_url).map_err(|reason| ConfigError::BaseUrl {
        org: id.clone(),
        reason: reason.to_string(),
    })?;
    let key_error = |reason| ConfigError::KeySource {
        org: id.clone(),
        reason,
    };
    match (&raw.key_env, &raw.key_file) {
        (Some(_), Some(_)) => return Err(key_error("set only one of key_env and key_file")),
        (None, None) => {
            return Err(key_error(
                "no key: set key_env (an environment variable's name) or key_file",
            ));
        }
        (Some(var), None) if var.trim().is_empty() => return Err(key_error("key_env is empty")),
        (None, Some(path)) if path.as_os_str().is_empty() => {
            return Err(key_error("key_file is empty"));
        }
        _ => {}
    }
    raw.budget
        .validate()
        .map_err(|source| ConfigError::Budget {
            org: id.clone(),
            source,
        })?;
    if raw.profile == Profile::Amplitude && raw.budget.limit > AMPLITUDE_LIMIT {
        tracing::warn!(
            org = %id,
            limit = raw.budget.limit,
            "budget.limit is above Amplitude's {AMPLITUDE_LIMIT} requests per minute; expect 429 answers"
        );
    }
    let human = |d: Duration| humantime::format_duration(d).to_string();
    let mirror = &raw.mirror;
    if mirror.max_age < Duration::from_secs(1) {
        return Err(ConfigError::MirrorMaxAge {
            org: id,
            got: human(mirror.max_age),
        });
    }
    if mirror.not_found_ttl > mirror.max_age {
        return Err(ConfigError::NotFoundTtl {
            org: id,
            ttl: human(mirror.not_found_ttl),
            max_age: human(mirror.max_age),
        });
    }
    if raw.upstream.attempt_timeout.is_zero() {
        return Err(ConfigError::AttemptTimeout { org: id });
    }
    if !(1..=10).contains(&raw.upstream.max_tries) {
        return Err(ConfigError::MaxTries {
            org: id,
            got: raw.upstream.max_tries,
        });
    }
    if let Some(every) = raw.reviews.snapshot_every
        && every < Duration::from_secs(60)
    {
        return Err(ConfigError::SnapshotEvery {
            org: id,
            got: human(every),
        });
    }
    if raw.reviews.snapshot_retention < Duration::from_secs(86_400) {
        return Err(ConfigError::SnapshotRetention {
            org: id,
            got: human(raw.reviews.snapshot_retention),
        });
    }
    Ok(OrgConfig {
        name: raw.name.unwrap_or_else(|| id.clone()),
        id,
        base_url,
        profile: raw.profile,
        key_env: raw.key_env.map(|v| v.trim().to_string()),
        key_file: raw.key_file,
        budget: raw.budget,
        mirror: raw.mirror,
        upstream: raw.upstream,
        reviews: raw.reviews,
        key: SecretString::from(String::new()),
    })
}

/// An absolute http(s) URL with a host, no credentials, query or fragment; trailing `/` trimmed.
fn check_base_url(text: &str) -> Result<String, &'static str> {
    let url = reqwest::Url::parse(text.trim())
        .map_err(|_| "is not an absolute URL (e.g. https://core.amplitude.com/scim/1)")?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err("must use http or https");
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err("has no host");
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("must not carry credentials; use key_env or key_file");
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err("must not have a query or fragment");
    }
    Ok(url.as_str().trim_end_matches('/').to_string())
}

pub(super) fn resolve_key(
    org: &OrgConfig,
    env: &[(String, String)],
) -> Result<SecretString, ConfigError> {
    let key = match (&org.key_env, &org.key_file) {
        (Some(var), _) => env
            .iter()
            .rev()
            .find(|(name, _)| name == var)
            .map(|(_, value)| value.trim().to_string())
            .ok_or_else(|| ConfigError::KeyEnvMissing {
                org: org.id.clone(),
            })?,
        (None, Some(path)) => std::fs::read_to_string(path)
            .map_err(|e| ConfigError::KeyFile {
                org: org.id.clone(),
                // The kind only: io errors' text can carry the path.
                source: std::io::Error::from(e.kind()),
            })?
            .trim()
            .to_string(),
        (None, None) => {
            return Err(ConfigError::KeySource {
                org: org.id.clone(),
                reason: "no key source",
            });
        }
    };
    if key.is_empty() {
        return Err(ConfigError::KeyEmpty {
            org: org.id.clone(),
            from: org.key_origin(),
        });
    }
    Ok(SecretString::from(key))
}

/// The token `server.metrics_key_env` names, if it names one: set and not empty.
pub(super) fn resolve_metrics_key(
    server: &super::ServerConfig,
    env: &[(String, String)],
) -> Result<Option<super::MetricsKey>, ConfigError> {
    let Some(var) = &server.metrics_key_env else {
        return Ok(None);
    };
    let token = env
        .iter()
        .rev()
        .find(|(name, _)| name == var.trim())
        .map(|(_, value)| value.trim().to_owned())
        .unwrap_or_default();
    if token.is_empty() {
        return Err(ConfigError::MetricsKeyEnv);
    }
    Ok(Some(super::MetricsKey(SecretString::from(token))))
}

pub(super) fn validate_limits(limits: &LimitsConfig) -> Result<(), ConfigError> {
    let positive = [
        ("max_depth", limits.max_depth),
        ("max_aliases", limits.max_aliases),
        ("max_tokens", limits.max_tokens),
        ("max_complexity", limits.max_complexity),
        ("max_body_bytes", limits.max_body_bytes),
        ("max_batch", limits.max_batch),
        ("max_subscriptions", limits.max_subscriptions),
    ];
    for (name, value) in positive {
        if value == 0 {
            return Err(ConfigError::Limit {
                name,
                reason: "must be at least 1".into(),
            });
        }
    }
    Ok(())
}

pub(super) fn validate_api_keys(
    keys: &[ApiKeyConfig],
    orgs: &[OrgConfig],
) -> Result<(), ConfigError> {
    let mut names = std::collections::HashSet::new();
    for key in keys {
        let bad = |reason: String| ConfigError::ApiKey {
            name: key.name.clone(),
            reason,
        };
        if key.name.trim().is_empty() {
            return Err(bad("the name is empty".into()));
        }
        if !names.insert(key.name.as_str()) {
            return Err(bad("another key has the same name".into()));
        }
        if !crate::auth::is_key_hash(&key.hash) {
            return Err(bad("`hash` must be `sha256:` and 64 lowercase hex digits, as `scimgate hash-key` prints".into()));
        }
        if key.orgs.is_empty() {
            return Err(bad(
                "`orgs` is empty: list org ids, or [\"*\"] for all".into()
            ));
        }
        for org in &key.orgs {
            if org != "*" && !orgs.iter().any(|o| &o.id == org) {
                return Err(bad(format!(
                    "`orgs` names `{org}`, which is not a configured organization"
                )));
            }
        }
    }
    Ok(())
}

/// Names unique, organizations configured, URLs http(s), and each secret read from its
/// variable (refused when unset or empty; its value is never shown).
pub(super) fn validate_webhooks(
    hooks: &mut [super::WebhookConfig],
    orgs: &[OrgConfig],
    env: &[(String, String)],
) -> Result<(), ConfigError> {
    let mut names = std::collections::HashSet::new();
    for hook in hooks.iter_mut() {
        let bad = |reason: String| ConfigError::Webhook {
            name: hook.name.clone(),
            reason,
        };
        if hook.name.trim().is_empty() {
            return Err(bad("the name is empty".into()));
        }
        if !names.insert(hook.name.clone()) {
            return Err(bad("another webhook has the same name".into()));
        }
        if !orgs.iter().any(|o| o.id == hook.org) {
            return Err(bad(format!(
                "`org` names `{}`, which is not a configured organization",
                hook.org
            )));
        }
        if !(hook.url.starts_with("https://") || hook.url.starts_with("http://")) {
            return Err(bad("`url` must be an http:// or https:// URL".into()));
        }
        let secret = env
            .iter()
            .rev()
            .find(|(name, _)| name == &hook.secret_env)
            .map(|(_, value)| value.trim().to_owned())
            .filter(|v| !v.is_empty());
        let Some(secret) = secret else {
            return Err(bad(format!(
                "the environment variable `{}` (`secret_env`) is not set or empty",
                hook.secret_env
            )));
        };
        hook.secret = Some(SecretString::from(secret));
    }
    Ok(())
}
