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

use std::collections::HashMap;

use scimgate::auth::{Role, hash_key, new_key};
use scimgate::config::{ApiKeyConfig, Config, LimitsConfig, OrgConfig, ServerConfig, StoreConfig};
use scimgate::emulator::{self, EmulatorConfig, RunningEmulator};
use scimgate::gateway::Gateway;
use serde_json::{Value, json};
use tokio::sync::oneshot;

/// One organization behind the gateway: its emulator and how the gateway treats it.
pub struct OrgSpec {
    pub id: &'static str,
    pub users: usize,
    pub groups: usize,
    pub profile: Profile,
    /// The gateway's budget for the org (generous by default, so tests are not slowed).
    pub budget: BudgetConfig,
    /// The gateway's time limit for one upstream try.
    pub attempt_timeout: Duration,
    /// The SCIM key the gateway sends, when it should differ from the emulator's token.
    pub scim_key: Option<String>,
    /// `mirror.full_refresh_every`, when not the default.
    pub full_refresh_every: Option<Duration>,
}

impl OrgSpec {
    pub fn new(id: &'static str, users: usize, groups: usize) -> OrgSpec {
        OrgSpec {
            id,
            users,
            groups,
            profile: Profile::Amplitude,
            budget: BudgetConfig {
                background_share: 1.0,
                ..BudgetConfig::new(1_000, Duration::from_secs(1))
            },
            attempt_timeout: Duration::from_secs(5),
            scim_key: None,
            full_refresh_every: None,
        }
    }
}

/// Emulators and a gateway on 127.0.0.1, port 0. Mirrors start cold unless `warm` is called.
pub struct TestApp {
    pub url: String,
    /// The admin key every helper sends, unless told otherwise.
    pub key: String,
    /// Further keys by name (see `spawn_app_with`).
    pub keys: HashMap<String, String>,
    pub emulators: Vec<RunningEmulator>,
    pub gateway: Gateway,
    pub http: reqwest::Client,
    stop: Option<oneshot::Sender<()>>,
    /// What the gateway was built from (`restart` builds another from it).
    pub config: Config,
    keep_store: bool,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        // The store file is the test's own (in the temp folder), unless a restart goes on.
        if !self.keep_store {
            scimgate::store::remove_sqlite_files(&self.config.store.url);
        }
    }
}

pub async fn spawn_app(orgs: Vec<OrgSpec>) -> TestApp {
    spawn_app_with(orgs, &[], LimitsConfig::default()).await
}

/// A key to create: its name, role and organizations (`"*"` for all).
pub type KeySpec<'a> = (&'a str, Role, &'a [&'a str]);

pub async fn spawn_app_with(
    orgs: Vec<OrgSpec>,
    keys: &[KeySpec<'_>],
    limits: LimitsConfig,
) -> TestApp {
    spawn_app_on(orgs, keys, limits, scimgate::store::fresh_sqlite_url("it")).await
}

/// [`spawn_app_with`] on the store at `store_url`.
pub async fn spawn_app_on(
    orgs: Vec<OrgSpec>,
    keys: &[KeySpec<'_>],
    limits: LimitsConfig,
    store_url: String,
) -> TestApp {
    scimgate::scim::install_crypto_provider();
    let mut emulators = Vec::new();
    let mut org_configs = Vec::new();
    for spec in orgs {
        let emu = emulator::spawn(EmulatorConfig {
            users: spec.users,
            groups: spec.groups,
            limit: 100_000,
            // A distinctive secret, so tests can look for it where it must not be.
            token: format!("scim-secret-{:016x}", rand::random::<u64>()),
            ..EmulatorConfig::for_profile(spec.profile)
        })
        .await
        .expect("emulator");
        let key = spec
            .scim_key
            .clone()
            .unwrap_or_else(|| emu.token().to_owned());
        let mut org = OrgConfig::new(spec.id, &emu.base_url(), SecretString::from(key));
        org.profile = spec.profile;
        org.budget = spec.budget;
        org.upstream.attempt_timeout = spec.attempt_timeout;
        if let Some(every) = spec.full_refresh_every {
            org.mirror.full_refresh_every = every;
        }
        org_configs.push(org);
        emulators.push(emu);
    }
    let admin = new_key();
    let mut api_keys = vec![ApiKeyConfig {
        name: "test-admin".into(),
        hash: hash_key(&admin),
        role: Role::Admin,
        orgs: vec!["*".into()],
    }];
    let mut named = HashMap::new();
    for (name, role, orgs) in keys {
        let key = new_key();
        api_keys.push(ApiKeyConfig {
            name: (*name).into(),
            hash: hash_key(&key),
            role: *role,
            orgs: orgs.iter().map(|o| (*o).to_owned()).collect(),
        });
        named.insert((*name).to_owned(), key);
    }
    let config = Config {
        server: ServerConfig::default(),
        limits,
        store: StoreConfig {
            url: store_url,
            ..StoreConfig::default()
        },
        grants: Default::default(),
        events: Default::default(),
        webhooks: Vec::new(),
        api_keys,
        orgs: org_configs,
    };
    serve_gateway(config, admin, named, emulators).await
}

/// A gateway over `config` (its store opened and restored) serving on a fresh port.
async fn serve_gateway(
    config: Config,
    admin: String,
    named: HashMap<String, String>,
    emulators: Vec<RunningEmulator>,
) -> TestApp {
    let store = scimgate::store::Store::open(&config.store.url)
        .await
        .expect("store");
    store.recover_intents().await.expect("recover");
    let gateway = Gateway::new(&config, store).expect("gateway");
    gateway.restore().await.expect("restore");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = oneshot::channel::<()>();
    let state = gateway.app_state(None);
    tokio::spawn(scimgate::http::serve(listener, state, async {
        let _ = stopped.await;
    }));
    TestApp {
        url,
        key: admin,
        keys: named,
        emulators,
        gateway,
        http: reqwest::Client::new(),
        stop: Some(stop),
        config,
        keep_store: false,
    }
}

impl TestApp {
    /// Stops this gateway and starts a new one over the same configuration, store file and
    /// emulators, as a restart of the process would (nothing kept in memory survives).
    pub async fn restart(mut self) -> TestApp {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        self.gateway.store.close().await;
        let emulators = std::mem::take(&mut self.emulators);
        let (config, key, keys) = (
            self.config.clone(),
            self.key.clone(),
            std::mem::take(&mut self.keys),
        );
        self.keep_store = true;
        drop(self);
        serve_gateway(config, key, keys, emulators).await
    }

    /// One organization's app (the common case).
    pub async fn one(users: usize, groups: usize) -> TestApp {
        spawn_app(vec![OrgSpec::new("acme", users, groups)]).await
    }

    pub fn emulator(&self) -> &RunningEmulator {
        &self.emulators[0]
    }

    /// Requests the first emulator received so far.
    pub fn upstream_calls(&self) -> u64 {
        self.emulator().stats().total
    }

    /// Loads every mirror now.
    pub async fn warm(&self) {
        for dir in self.gateway.dirs.all() {
            dir.refresh().await.expect("refresh");
        }
    }

    /// POSTs a GraphQL request with the admin key and returns the response body.
    pub async fn query(&self, query: &str, variables: Value) -> Value {
        self.query_as(&self.key, query, variables).await
    }

    /// POSTs a GraphQL request with `key` and returns the response body.
    pub async fn query_as(&self, key: &str, query: &str, variables: Value) -> Value {
        let response = self
            .http
            .post(format!("{}/graphql", self.url))
            .bearer_auth(key)
            .json(&json!({ "query": query, "variables": variables }))
            .send()
            .await
            .expect("gateway answers");
        response.json().await.expect("a JSON body")
    }

    /// Like `query`, and fails the test on any GraphQL error.
    pub async fn data(&self, query: &str, variables: Value) -> Value {
        let body = self.query(query, variables).await;
        assert!(body.get("errors").is_none(), "unexpected errors: {body:#}");
        body["data"].clone()
    }
}

/// The `extensions.code` of the first error.
pub fn error_code(body: &Value) -> &str {
    body["errors"][0]["extensions"]["code"]
        .as_str()
        .unwrap_or("<no code>")
}

/// A query `depth` fields deep: org → users → edges → node → org → ... → `__typename`.
pub fn nested_query(depth: usize) -> String {
    let path = ["org", "users(first: 1)", "edges", "node"];
    let opened: String = (0..depth - 1)
        .map(|i| format!("{} {{ ", path[i % 4]))
        .collect();
    format!("{{ {opened}__typename {}}}", "} ".repeat(depth - 1))
}

/// A fresh PostgreSQL schema for one test (its store URL is `url()`), when
/// `SCIMGATE_TEST_POSTGRES_URL` names a server; `None`, with a printed line, when not.
pub async fn postgres_store(name: &str) -> Option<scimgate::store::ScratchSchema> {
    let base = match std::env::var("SCIMGATE_TEST_POSTGRES_URL") {
        Ok(base) if !base.is_empty() => base,
        _ => {
            println!("{name}: PostgreSQL skipped (SCIMGATE_TEST_POSTGRES_URL is not set)");
            return None;
        }
    };
    let schema = scimgate::store::ScratchSchema::create(&base, &format!("scimgate_it_{name}"))
        .await
        .expect("SCIMGATE_TEST_POSTGRES_URL is set but PostgreSQL does not answer");
    Some(schema)
}
