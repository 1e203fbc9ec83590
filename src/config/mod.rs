//! The gateway's configuration: one typed tree from defaults < TOML file < `SCIMGATE_*`
//! environment < command-line flags, validated at load, with each org's SCIM key resolved.
//!
//! # Environment variables
//! `SCIMGATE_SERVER__<FIELD>` (`LISTEN`, `GRAPHIQL`, `SHUTDOWN_GRACE`, `CORS_ORIGINS`,
//! `METRICS_KEY_ENV`), `SCIMGATE_STORE__<FIELD>`
//! (`URL`, `AUDIT_RETENTION`, `IDEMPOTENCY_TTL`, `REPLICA`) and, per org,
//! `SCIMGATE_ORGS__<ID>__<FIELD>` (`NAME`, `BASE_URL`, `PROFILE`, `KEY_ENV`, `KEY_FILE`) or
//! `SCIMGATE_ORGS__<ID>__<SECTION>__<FIELD>` (`BUDGET__LIMIT`, `MIRROR__MAX_AGE`, ...), where
//! `<ID>` is the org id upper-cased with `-` written `_`. A variable for an id not in the file
//! defines a new org (id: `<ID>` lower-cased) when its `BASE_URL` is set too. Setting `KEY_ENV`
//! or `KEY_FILE` replaces the file's key source. Numbers and booleans are parsed; durations are
//! human ("500ms", "60s", "5m"). Any other `SCIMGATE_*` name is an error, except those in
//! `env::OTHER_VARS` and names an org's `key_env` points at.
//!
//! # Keys
//! Keys are never in the serde tree: each org names a variable (`key_env`) or a file
//! (`key_file`, content trimmed); [`Config::load`] reads it into the org, [`OrgConfig::key`].

mod env;
mod error;
mod governance;
mod schema;
#[cfg(test)]
mod tests;
mod validate;

use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use secrecy::SecretString;
use serde::{Deserialize, Serialize};

use crate::auth::Role;
use crate::budget::BudgetConfig;
use crate::scim::{Profile, RetryPolicy};

pub(crate) use error::ConfigError;
pub use governance::{EventsConfig, GrantsConfig, ReviewsConfig, WebhookConfig};
use validate::{
    RawOrg, reject_unknown_vars, resolve_key, resolve_metrics_key, validate_api_keys,
    validate_limits, validate_org,
};

#[derive(Clone, Debug)]
pub struct Config {
    pub server: ServerConfig,
    pub limits: LimitsConfig,
    pub store: StoreConfig,
    pub grants: GrantsConfig,
    pub events: EventsConfig,
    /// Endpoints the organizations' events are delivered to, signed.
    pub webhooks: Vec<WebhookConfig>,
    /// Client API keys, by hash. Without any, `serve` refuses to start.
    pub api_keys: Vec<ApiKeyConfig>,
    pub orgs: Vec<OrgConfig>,
}

/// Limits on what one GraphQL request may ask; each refusal has its own error code.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LimitsConfig {
    /// Deepest field nesting.
    pub max_depth: u32,
    /// Most aliased fields in one document.
    pub max_aliases: u32,
    /// Most lexical tokens in the query text (checked before parsing).
    pub max_tokens: u32,
    /// Most cost: a field costs 1 plus its selection's cost times its page size
    /// (`first`/`last`, default 50 on connections), so `first: 100` in `first: 100` is 10,000.
    /// It also bounds the fields a query visits once its fragments are inlined (introspection
    /// included), so a fragment spread twice in each of 40 levels is refused before it is walked.
    pub max_complexity: u32,
    /// Largest request body.
    pub max_body_bytes: u32,
    /// Accept a JSON array of operations in one request.
    pub batching: bool,
    /// Most operations in one batch, when batching is on.
    pub max_batch: u32,
    pub introspection: bool,
    /// Most operations streaming at once in this process (subscriptions over WebSocket or
    /// SSE, and anything else sent over them); more are refused with `SUBSCRIPTION_LIMIT`.
    pub max_subscriptions: u32,
    /// "Did you mean ...?" hints in validation errors.
    pub field_suggestions: bool,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        LimitsConfig {
            max_depth: 12,
            max_aliases: 50,
            max_tokens: 2_000,
            max_complexity: 20_000,
            max_body_bytes: 256 * 1024,
            batching: false,
            max_batch: 10,
            introspection: true,
            max_subscriptions: 10_000,
            field_suggestions: true,
        }
    }
}

/// Where the gateway keeps what it must remember: the audit log, idempotency records and
/// open invitations.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StoreConfig {
    /// `sqlite://<file>` (created on first start; the default, next to where the gateway
    /// runs) or `postgres://<user>[:<password>]@<host>[:<port>]/<database>` for several
    /// replicas. Shown with any password redacted.
    pub url: String,
    /// How long audit rows are kept; older ones are pruned daily, keeping the chain
    /// verifiable from the oldest kept row. The default covers a year-long SOC 2 period.
    #[serde(with = "humantime_serde")]
    pub audit_retention: Duration,
    /// How long an idempotency key answers with its first result.
    #[serde(with = "humantime_serde")]
    pub idempotency_ttl: Duration,
    /// This replica's name, distinct per replica sharing a PostgreSQL store: a start settles
    /// only the writes its own replica left in flight. Defaults to the host name.
    pub replica: String,
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            url: "sqlite://scimgate.sqlite3".to_owned(),
            audit_retention: Duration::from_secs(400 * 86_400),
            idempotency_ttl: Duration::from_secs(86_400),
            replica: default_replica(),
        }
    }
}

/// The host name (`HOSTNAME`, else `/etc/hostname`), else `scimgate`.
fn default_replica() -> String {
    std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "scimgate".to_owned())
}

/// One client API key, stored as its hash (`scimgate hash-key` makes a key and its hash).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiKeyConfig {
    /// Who holds it; shown in logs and in `Query.viewer`.
    pub name: String,
    /// `sha256:<64 hex digits>` of the key.
    pub hash: String,
    pub role: Role,
    /// Organization ids the key may reach; `["*"]` (the default) for all.
    #[serde(default = "all_orgs")]
    pub orgs: Vec<String>,
}

fn all_orgs() -> Vec<String> {
    vec!["*".to_string()]
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    pub(crate) listen: SocketAddr,
    /// Serve GraphiQL on `GET /graphql` from a browser.
    pub(crate) graphiql: bool,
    /// How long in-flight requests may finish after a shutdown signal.
    #[serde(with = "humantime_serde")]
    pub(crate) shutdown_grace: Duration,
    /// Browser origins allowed to call the API (CORS); none by default.
    pub(crate) cors_origins: Vec<String>,
    /// The name of an environment variable holding a token that `GET /metrics` then asks for
    /// (`Authorization: Bearer <token>`); unset, `/metrics` is open.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) metrics_key_env: Option<String>,
    /// Memory for the response cache (answers of queries the mirror alone decides, each
    /// exactly as fresh as the mirror); 0 turns it off.
    pub(crate) response_cache_bytes: u64,
    /// The token `metrics_key_env` names, read at load; never serialized.
    #[serde(skip)]
    pub(crate) metrics_key: Option<MetricsKey>,
}

/// The token `/metrics` asks for. Shown as `[REDACTED]`; equal when the tokens are.
#[derive(Clone, Debug)]
pub(crate) struct MetricsKey(pub(crate) SecretString);

impl PartialEq for MetricsKey {
    fn eq(&self, other: &MetricsKey) -> bool {
        use secrecy::ExposeSecret;
        self.0.expose_secret() == other.0.expose_secret()
    }
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen: SocketAddr::from((Ipv4Addr::LOCALHOST, 8080)),
            graphiql: true,
            shutdown_grace: Duration::from_secs(10),
            cors_origins: Vec::new(),
            metrics_key_env: None,
            response_cache_bytes: 64 << 20,
            metrics_key: None,
        }
    }
}

/// One organization. Build it with [`Config::load`] (or [`OrgConfig::new`] in code).
#[derive(Clone, Debug)]
pub struct OrgConfig {
    pub(crate) id: String,
    pub(crate) name: String,
    /// Absolute http(s) URL without a trailing slash.
    pub(crate) base_url: String,
    pub profile: Profile,
    pub(crate) key_env: Option<String>,
    pub(crate) key_file: Option<PathBuf>,
    pub budget: BudgetConfig,
    pub mirror: MirrorConfig,
    pub upstream: UpstreamConfig,
    /// Access snapshots' schedule and retention (`[orgs.reviews]`).
    pub reviews: ReviewsConfig,
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
            reviews: ReviewsConfig::default(),
            key,
        }
    }

    /// The SCIM key, resolved at load.
    pub(crate) fn key(&self) -> &SecretString {
        &self.key
    }

    /// Where the key comes from, for messages: `env ACME_SCIM_KEY`, `file /run/secrets/k`.
    pub(crate) fn key_origin(&self) -> String {
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
    pub(crate) max_age: Duration,
    /// How long "no such user/group" is remembered.
    #[serde(with = "humantime_serde")]
    pub(crate) not_found_ttl: Duration,
    /// On a service that lists changes (RFC 7644 with filtering and `meta.lastModified`),
    /// refreshes between full ones read only what changed; a full one, which alone finds
    /// deletions, runs at least this often. `"0s"`: every refresh is full.
    #[serde(with = "humantime_serde")]
    pub full_refresh_every: Duration,
}

impl Default for MirrorConfig {
    fn default() -> Self {
        MirrorConfig {
            max_age: Duration::from_secs(300),
            not_found_ttl: Duration::from_secs(30),
            full_refresh_every: Duration::from_secs(3600),
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
    pub(crate) max_tries: u32,
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
    pub(crate) fn retry_policy(&self) -> RetryPolicy {
        RetryPolicy {
            max_tries: self.max_tries,
            ..RetryPolicy::default()
        }
    }
}

/// Values from command-line flags, the last layer.
#[derive(Clone, Debug, Default)]
pub struct Overrides {
    pub(crate) listen: Option<SocketAddr>,
}

/// The file's tree as serde reads it; keys are resolved into [`OrgConfig`] afterwards.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default)]
    server: ServerConfig,
    #[serde(default)]
    limits: LimitsConfig,
    #[serde(default)]
    store: StoreConfig,
    #[serde(default)]
    grants: GrantsConfig,
    #[serde(default)]
    events: EventsConfig,
    #[serde(default)]
    webhooks: Vec<WebhookConfig>,
    #[serde(default)]
    api_keys: Vec<ApiKeyConfig>,
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
    reviews: &'a ReviewsConfig,
}

#[derive(Serialize)]
struct Redacted<'a> {
    server: &'a ServerConfig,
    limits: &'a LimitsConfig,
    store: StoreConfig,
    grants: &'a GrantsConfig,
    events: &'a EventsConfig,
    webhooks: &'a [WebhookConfig],
    api_keys: Vec<ApiKeyConfig>,
    orgs: Vec<RedactedOrg<'a>>,
}

impl Config {
    /// Loads defaults < file < env < overrides, resolves keys, validates everything.
    /// Without a file, the orgs must come from the environment.
    pub(crate) fn load(
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

    /// Only the config tests look an org up by id; the gateway walks them all.
    #[cfg(test)]
    pub(crate) fn org(&self, id: &str) -> Option<&OrgConfig> {
        self.orgs.iter().find(|org| org.id == id)
    }

    /// The effective configuration as TOML, each key shown only as where it comes from, e.g.
    /// `key = "<redacted: from env ACME_SCIM_KEY>"` (so the output is not loadable as is).
    pub(crate) fn to_redacted_toml(&self) -> String {
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
                reviews: &org.reviews,
            })
            .collect();
        // Hashes are not secrets, but a prefix is enough to tell keys apart.
        let api_keys = self
            .api_keys
            .iter()
            .map(|k| ApiKeyConfig {
                hash: format!("{}…", &k.hash[..k.hash.len().min(19)]),
                ..k.clone()
            })
            .collect();
        let body = toml::to_string_pretty(&Redacted {
            server: &self.server,
            limits: &self.limits,
            store: StoreConfig {
                url: crate::store::redact_url(&self.store.url),
                ..self.store.clone()
            },
            grants: &self.grants,
            events: &self.events,
            webhooks: &self.webhooks,
            api_keys,
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
                message: without_values(e.message()),
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
                    message: without_values(e.message()),
                })?;
        let mut server = raw.server;
        if let Some(listen) = overrides.listen {
            server.listen = listen;
        }
        server.metrics_key = resolve_metrics_key(&server, env)?;
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
        validate_limits(&raw.limits)?;
        validate_api_keys(&raw.api_keys, &orgs)?;
        let mut webhooks = raw.webhooks;
        validate::validate_webhooks(&mut webhooks, &orgs, env)?;
        Ok(Config {
            server,
            limits: raw.limits,
            store: raw.store,
            grants: raw.grants,
            events: raw.events,
            webhooks,
            api_keys: raw.api_keys,
            orgs,
        })
    }
}

/// A parser's message with every quoted value blanked (`"…"`): serde and TOML quote the
/// offending value, which may be a secret typed into the wrong field. Field names stay (they
/// are in backticks).
fn without_values(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut quoted = false;
    for c in message.trim_end().chars() {
        if c == '"' {
            if !quoted {
                out.push_str("\"…\"");
            }
            quoted = !quoted;
        } else if !quoted {
            out.push(c);
        }
    }
    out
}

/// 1-based line and column of a byte offset.
fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}
