//! The gateway's configuration: one typed tree from defaults < TOML file < `SCIMGATE_*`
//! environment < command-line flags, validated at load, with each org's SCIM key resolved.
//!
//! # Environment variables
//! `SCIMGATE_SERVER__<FIELD>` (`LISTEN`, `GRAPHIQL`, `SHUTDOWN_GRACE`) and, per org,
//! `SCIMGATE_ORGS__<ID>__<FIELD>` (`NAME`, `BASE_URL`, `PROFILE`, `KEY_ENV`, `KEY_FILE`) or
//! `SCIMGATE_ORGS__<ID>__<SECTION>__<FIELD>` (`BUDGET__LIMIT`, `MIRROR__MAX_AGE`, ...), where
//! `<ID>` is the org id upper-cased with `-` written `_`. A variable for an id not in the file
//! defines a new org (id: `<ID>` lower-cased) when its `BASE_URL` is set too. Setting `KEY_ENV`
//! or `KEY_FILE` replaces the file's key source. Numbers and booleans are parsed; durations are
//! human ("500ms", "60s", "5m"). Any other `SCIMGATE_*` name is an error, except those in
//! [`OTHER_VARS`] and names an org's `key_env` points at.
//!
//! # Keys
//! Keys are never in the serde tree: each org names a variable (`key_env`) or a file
//! (`key_file`, content trimmed); [`Config::load`] reads it into the org, [`OrgConfig::key`].

mod env;
mod error;
mod schema;
#[cfg(test)]
mod tests;
mod validate;

use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use secrecy::SecretString;
use serde::{Deserialize, Serialize};

use crate::budget::BudgetConfig;
use crate::scim::{Profile, RetryPolicy};

pub use env::OTHER_VARS;
pub use error::ConfigError;
use validate::{RawOrg, reject_unknown_vars, resolve_key, validate_org};

#[derive(Clone, Debug)]
pub struct Config {
    pub server: ServerConfig,
    pub orgs: Vec<OrgConfig>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    pub listen: SocketAddr,
    /// Serve GraphiQL on `GET /graphql` from a browser.
    pub graphiql: bool,
    /// How long in-flight requests may finish after a shutdown signal.
    #[serde(with = "humantime_serde")]
    pub shutdown_grace: Duration,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen: SocketAddr::from((Ipv4Addr::LOCALHOST, 8080)),
            graphiql: true,
            shutdown_grace: Duration::from_secs(10),
        }
    }
}

/// One organization. Build it with [`Config::load`] (or [`OrgConfig::new`] in code).
#[derive(Clone, Debug)]
pub struct OrgConfig {
    pub id: String,
    pub name: String,
    /// Absolute http(s) URL without a trailing slash.
    pub base_url: String,
    pub profile: Profile,
    pub key_env: Option<String>,
    pub key_file: Option<PathBuf>,
    pub budget: BudgetConfig,
    pub mirror: MirrorConfig,
    pub upstream: UpstreamConfig,
    key: SecretString,
}

impl OrgConfig {
    /// An org with defaults and a key given in code (demo, tests); not validated.
    pub fn new(id: &str, base_url: &str, key: SecretString) -> OrgConfig {
        OrgConfig {
            id: id.to_string(),
            name: id.to_string(),
            base_url: base_url.trim_end_matches('/').to_string(),
            profile: Profile::default(),
            key_env: None,
            key_file: None,
            budget: BudgetConfig::default(),
            mirror: MirrorConfig::default(),
            upstream: UpstreamConfig::default(),
            key,
        }
    }

    /// The SCIM key, resolved at load.
    pub fn key(&self) -> &SecretString {
        &self.key
    }

    /// Where the key comes from, for messages: `env ACME_SCIM_KEY`, `file /run/secrets/k`.
    pub fn key_origin(&self) -> String {
        match (&self.key_env, &self.key_file) {
            (Some(var), _) => format!("env {var}"),
            (None, Some(path)) => format!("file {}", path.display()),
            (None, None) => "code".to_string(),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MirrorConfig {
    /// A mirror older than this is refreshed in the background lane.
    #[serde(with = "humantime_serde")]
    pub max_age: Duration,
    /// How long "no such user/group" is remembered.
    #[serde(with = "humantime_serde")]
    pub not_found_ttl: Duration,
}

impl Default for MirrorConfig {
    fn default() -> Self {
        MirrorConfig {
            max_age: Duration::from_secs(300),
            not_found_ttl: Duration::from_secs(30),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct UpstreamConfig {
    /// The time limit of one HTTP try.
    #[serde(with = "humantime_serde")]
    pub attempt_timeout: Duration,
    /// Tries in all (the first included) for 5xx, timeouts and connection errors.
    pub max_tries: u32,
}

impl Default for UpstreamConfig {
    fn default() -> Self {
        UpstreamConfig {
            attempt_timeout: Duration::from_secs(10),
            max_tries: 3,
        }
    }
}

impl UpstreamConfig {
    /// The client's retry policy with this org's `max_tries`.
    pub fn retry_policy(&self) -> RetryPolicy {
        RetryPolicy {
            max_tries: self.max_tries,
            ..RetryPolicy::default()
        }
    }
}

/// Values from command-line flags, the last layer.
#[derive(Clone, Debug, Default)]
pub struct Overrides {
    pub listen: Option<SocketAddr>,
}

/// The file's tree as serde reads it; keys are resolved into [`OrgConfig`] afterwards.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default)]
    server: ServerConfig,
    #[serde(default)]
    orgs: Vec<RawOrg>,
}

/// The printed form of an org: the key replaced by where it comes from.
#[derive(Serialize)]
struct RedactedOrg<'a> {
    id: &'a str,
    name: &'a str,
    base_url: &'a str,
    profile: Profile,
    key: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    key_env: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    key_file: Option<String>,
    budget: &'a BudgetConfig,
    mirror: &'a MirrorConfig,
    upstream: &'a UpstreamConfig,
}

#[derive(Serialize)]
struct Redacted<'a> {
    server: &'a ServerConfig,
    orgs: Vec<RedactedOrg<'a>>,
}

impl Config {
    /// Loads defaults < file < env < overrides, resolves keys, validates everything.
    /// Without a file, the orgs must come from the environment.
    pub fn load(
        file: Option<&Path>,
        env: &[(String, String)],
        overrides: &Overrides,
    ) -> Result<Config, ConfigError> {
        match file {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                    path: path.to_path_buf(),
                    source,
                })?;
                Config::build(&text, &path.display().to_string(), env, overrides)
            }
            None => Config::build("", "built-in defaults", env, overrides),
        }
    }

    /// Like [`Config::load`], with the file's text given directly (tests, demo).
    pub fn from_toml_str(
        text: &str,
        env: &[(String, String)],
        overrides: &Overrides,
    ) -> Result<Config, ConfigError> {
        Config::build(text, "config text", env, overrides)
    }

    pub fn org(&self, id: &str) -> Option<&OrgConfig> {
        self.orgs.iter().find(|org| org.id == id)
    }

    /// The effective configuration as TOML, each key shown only as where it comes from, e.g.
    /// `key = "<redacted: from env ACME_SCIM_KEY>"` (so the output is not loadable as is).
    pub fn to_redacted_toml(&self) -> String {
        let orgs = self
            .orgs
            .iter()
            .map(|org| RedactedOrg {
                id: &org.id,
                name: &org.name,
                base_url: &org.base_url,
                profile: org.profile,
                key: format!("<redacted: from {}>", org.key_origin()),
                key_env: org.key_env.as_deref(),
                key_file: org.key_file.as_ref().map(|p| p.display().to_string()),
                budget: &org.budget,
                mirror: &org.mirror,
                upstream: &org.upstream,
            })
            .collect();
        let body = toml::to_string_pretty(&Redacted {
            server: &self.server,
            orgs,
        })
        .unwrap_or_else(|e| format!("# cannot print the configuration: {e}\n"));
        format!(
            "# Effective scimgate configuration (defaults < file < SCIMGATE_* env < flags); keys redacted.\n\n{body}"
        )
    }

    fn build(
        text: &str,
        origin: &str,
        env: &[(String, String)],
        overrides: &Overrides,
    ) -> Result<Config, ConfigError> {
        let mut table: toml::Table = text.parse().map_err(|e: toml::de::Error| {
            let (line, column) = e
                .span()
                .map_or((1, 1), |span| line_column(text, span.start));
            ConfigError::Parse {
                origin: origin.to_string(),
                line,
                column,
                message: e.message().trim_end().to_string(),
            }
        })?;
        let applied = env::apply(&mut table, env)?;
        schema::check(&table, origin, &applied.provenance)?;
        reject_unknown_vars(&table, applied.unrecognised)?;
        let raw: RawConfig =
            toml::Value::Table(table)
                .try_into()
                .map_err(|e: toml::de::Error| ConfigError::Invalid {
                    origin: origin.to_string(),
                    message: e.message().trim_end().to_string(),
                })?;
        let mut server = raw.server;
        if let Some(listen) = overrides.listen {
            server.listen = listen;
        }
        if raw.orgs.is_empty() {
            return Err(ConfigError::NoOrgs);
        }
        let mut orgs: Vec<OrgConfig> = Vec::with_capacity(raw.orgs.len());
        for raw_org in raw.orgs {
            let org = validate_org(raw_org)?;
            if orgs.iter().any(|o| o.id == org.id) {
                return Err(ConfigError::DuplicateId { id: org.id });
            }
            orgs.push(org);
        }
        for org in &mut orgs {
            org.key = resolve_key(org, env)?;
        }
        Ok(Config { server, orgs })
    }
}

/// 1-based line and column of a byte offset.
fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}
