//! Every way loading the configuration can fail, each with a message a person can act on.
//! No message carries a secret: keys are named by where they come from, never shown.

use std::path::PathBuf;

/// An error from [`super::Config::load`]. `origin` is the config file's path (or a description
/// of where the text came from); env-related errors name the variable.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {}: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// TOML syntax. Neither the offending line nor a value is quoted back, since either may
    /// hold a secret.
    #[error("{origin}:{line}:{column}: invalid TOML: {message}")]
    Parse {
        origin: String,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("{origin}: unknown key `{key}` (expected one of: {expected})")]
    UnknownKey {
        origin: String,
        key: String,
        expected: String,
    },
    /// A value of the wrong type or shape; `at` is `file, key `path`` or an environment variable.
    #[error("{at}: {message}")]
    Value { at: String, message: String },
    /// The typed tree refused the merged layers (a backstop behind the checks above).
    #[error("{origin}: {message}")]
    Invalid { origin: String, message: String },
    #[error(
        "{origin}: org `{org}` has an inline `key`; secrets do not belong in the config file: \
         set `key_env` to the name of an environment variable holding it, or `key_file` to a file"
    )]
    InlineKey { origin: String, org: String },
    #[error("unknown environment variable(s): {} (check the spelling; see scimgate.example.toml)", names.join(", "))]
    UnknownEnv { names: Vec<String> },
    #[error("environment variable {var}: {message}")]
    EnvValue { var: String, message: String },
    #[error(
        "environment variable {var} configures org `{org}`, which is not in the config file; \
         to define it from the environment alone also set {prefix}BASE_URL"
    )]
    EnvOrgWithoutBaseUrl {
        var: String,
        org: String,
        prefix: String,
    },
    #[error("environment variable {var} matches more than one org ({}); give the orgs ids that differ by more than `-` and `_`", orgs.join(", "))]
    EnvAmbiguousOrg { var: String, orgs: Vec<String> },
    #[error("limits.{name} {reason}")]
    Limit { name: &'static str, reason: String },
    #[error("API key `{name}`: {reason}")]
    ApiKey { name: String, reason: String },
    #[error("webhook `{name}`: {reason}")]
    Webhook { name: String, reason: String },
    #[error(
        "no organization configured: add at least one [[orgs]] table (or SCIMGATE_ORGS__<ID>__BASE_URL)"
    )]
    NoOrgs,
    /// The id is not repeated: whatever was typed there is not known to be harmless.
    #[error("an org id is invalid: use 1 to 64 characters of a-z, 0-9, `_` and `-`")]
    InvalidId,
    #[error("org id `{id}` is used by more than one org")]
    DuplicateId { id: String },
    /// The URL itself is not echoed: it might carry credentials.
    #[error("org `{org}`: base_url {reason}")]
    BaseUrl { org: String, reason: String },
    #[error("org `{org}`: {reason}")]
    KeySource { org: String, reason: &'static str },
    /// The variable's name is not repeated: a key typed where its name belongs would be.
    #[error(
        "org `{org}`: the environment variable that key_env names is not set (key_env takes the \
         variable's name, never the key itself)"
    )]
    KeyEnvMissing { org: String },
    /// The variable's name is not repeated, as for `KeyEnvMissing`.
    #[error(
        "server.metrics_key_env: the environment variable it names is not set or is empty \
         (metrics_key_env takes the variable's name, never the token itself)"
    )]
    MetricsKeyEnv,
    /// The path is not repeated: a key typed where its file's path belongs would be.
    #[error(
        "org `{org}`: cannot read the file that key_file names ({source}; key_file takes a path, \
         never the key itself)"
    )]
    KeyFile {
        org: String,
        #[source]
        source: std::io::Error,
    },
    #[error("org `{org}`: the key from {from} is empty")]
    KeyEmpty { org: String, from: String },
    #[error("org `{org}`: {source}")]
    Budget {
        org: String,
        #[source]
        source: crate::budget::ConfigError,
    },
    #[error("org `{org}`: mirror.max_age must be at least 1s (got {got})")]
    MirrorMaxAge { org: String, got: String },
    #[error("org `{org}`: mirror.not_found_ttl ({ttl}) must not exceed mirror.max_age ({max_age})")]
    NotFoundTtl {
        org: String,
        ttl: String,
        max_age: String,
    },
    #[error("org `{org}`: upstream.attempt_timeout must be longer than zero")]
    AttemptTimeout { org: String },
    #[error("org `{org}`: upstream.max_tries must be between 1 and 10 (got {got})")]
    MaxTries { org: String, got: u32 },
    #[error("org `{org}`: reviews.snapshot_every must be at least 1m (got {got})")]
    SnapshotEvery { org: String, got: String },
    #[error("org `{org}`: reviews.snapshot_retention must be at least 1d (got {got})")]
    SnapshotRetention { org: String, got: String },
}
