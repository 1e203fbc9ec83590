//! Assembly: turns a configuration into running parts (per organization a budget, a SCIM
//! client and a directory; one schema) and keeps their background refresh going.

use std::sync::Arc;

use tokio::task::JoinHandle;

use crate::auth::{KeyStore, OrgScope, Principal};
use crate::budget::Budget;
use crate::config::{ApiKeyConfig, Config, LimitsConfig, OrgConfig};
use crate::directory::{Directories, Directory, DirectorySettings, PointCache};
use crate::governance::{Grants, Schedule, Snapshots, Webhooks};
use crate::graphql::{self, GatewaySchema};
use crate::http::{AppState, GraphiqlPage, MetricsGate};
use crate::keys::OrgId;
use crate::scim::{ClientConfig, ScimClient, ScimError};
use crate::store::Store;
use crate::supervise::{Backoff, supervise};

/// The query GraphiQL opens with.
pub const SAMPLE_QUERY: &str = r#"# Welcome to scimgate. Press ▶ to run.
query Dashboard {
  org {
    name
    sync { complete userCount groupCount lastRefreshAt }
    budget { limit windowSeconds usedInWindow remaining }
    users(first: 10, orderBy: { field: EMAIL }) {
      totalCount
      edges {
        node {
          email displayName status
          groups(first: 5) { edges { node { name } } }
        }
      }
      pageInfo { hasNextPage endCursor }
    }
    groups(first: 20, orderBy: { field: NAME }) {
      edges { node { name memberCount } }
    }
    # Time-bound group access (grantGroupAccess), newest first. The demo's second grant
    # ends 90 s after it starts: run again to see it EXPIRED, with its lag.
    grants(first: 5) {
      edges { node { userEmail group { name } reason state expiresAt overdue revocationLagMs } }
    }
    # What happened, newest last: grants made, warned (24 h and 1 h ahead), ended.
    events(last: 10) {
      edges { node { seq at kind actor data } }
    }
    # Every write and refresh, newest first (admin and auditor keys).
    auditLog(first: 5) {
      edges { node { at actor action outcome targets { email } calls { method path status } } }
    }
    # Access snapshots, newest first (admin and auditor keys; takeSnapshot takes one).
    snapshots(first: 3) {
      edges { node { takenAt trigger userCount groupCount hash } }
    }
    # Access reviews (startAccessReview): the demo's reviewer key decides at pagePath.
    accessReviews(first: 3) {
      edges { node { name state reviewers pagePath counts { total notReviewed revoke } } }
    }
  }
}
"#;

pub struct Gateway {
    pub dirs: Directories,
    pub store: Store,
    /// Time-bound group access; its scheduler runs in `start_grants`.
    pub grants: Grants,
    /// Signed deliveries of the organizations' events; its loop runs in `start_webhooks`.
    pub webhooks: Webhooks,
    /// Access snapshots' schedule (`start_snapshots`) and retention (the store's upkeep).
    pub snapshots: Snapshots,
    pub(crate) schema: GatewaySchema,
    keys: Arc<KeyStore>,
    limits: Arc<LimitsConfig>,
    cors_origins: Vec<String>,
    graphiql: bool,
    metrics_gate: Option<Arc<MetricsGate>>,
    response_cache: Option<Arc<crate::graphql::cache::ResponseCache>>,
    tasks: Vec<JoinHandle<()>>,
}

/// The configured API keys as the HTTP edge looks them up.
pub(crate) fn key_store(keys: &[ApiKeyConfig]) -> KeyStore {
    KeyStore::new(keys.iter().map(|k| {
        let orgs = if k.orgs.iter().any(|o| o == "*") {
            OrgScope::All
        } else {
            OrgScope::Only(k.orgs.iter().map(|o| OrgId::new(o)).collect())
        };
        (
            k.hash.clone(),
            Principal {
                name: k.name.clone(),
                role: k.role,
                orgs,
            },
        )
    }))
}

impl Drop for Gateway {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

fn client_for(org: &OrgConfig) -> Result<ScimClient, ScimError> {
    let mut config = ClientConfig::new(&org.base_url, org.key().clone(), org.profile);
    config.attempt_timeout = org.upstream.attempt_timeout;
    config.retry = org.upstream.retry_policy();
    config.org = org.id.clone();
    ScimClient::new(config, Budget::new(org.budget.clone()))
}

impl Gateway {
    /// Builds every organization's parts over an open `store`. Nothing is sent upstream until
    /// asked or `start`.
    pub fn new(config: &Config, store: Store) -> Result<Gateway, ScimError> {
        // Before anything records: the recorder is the process's, installed once.
        crate::metrics::install();
        let points = PointCache::new(100_000);
        let mut list = Vec::new();
        for org in &config.orgs {
            let settings = DirectorySettings {
                max_age: org.mirror.max_age,
                not_found_ttl: org.mirror.not_found_ttl,
                full_refresh_every: org.mirror.full_refresh_every,
            };
            list.push(
                Directory::new(
                    OrgId::new(&org.id),
                    &org.name,
                    client_for(org)?,
                    settings,
                    points.clone(),
                )
                .with_store(store.clone(), graphql::errors::code_of),
            );
        }
        let dirs = Directories::new(list);
        let journal = graphql::Journal::new(store.clone(), config.store.idempotency_ttl);
        let grants = Grants::new(dirs.clone(), store.clone(), config.grants.max_duration)
            .with_group_limits(config.grants.groups.clone())
            .with_warnings(&config.grants.warn_before);
        let schema = graphql::build_schema(
            dirs.clone(),
            &config.limits,
            Some(journal),
            Some(grants.clone()),
        );
        let webhooks = Webhooks::new(store.clone(), &config.webhooks);
        let response_cache = (config.server.response_cache_bytes > 0).then(|| {
            Arc::new(crate::graphql::cache::ResponseCache::new(
                config.server.response_cache_bytes,
                &schema.sdl(),
            ))
        });
        let schedules = config
            .orgs
            .iter()
            .map(|o| {
                let schedule = Schedule {
                    every: o.reviews.snapshot_every,
                    retention: o.reviews.snapshot_retention,
                };
                (o.id.clone(), schedule)
            })
            .collect();
        let snapshots = Snapshots::new(dirs.clone(), store.clone(), schedules);
        Ok(Gateway {
            dirs,
            store,
            grants,
            webhooks,
            snapshots,
            schema,
            keys: Arc::new(key_store(&config.api_keys)),
            limits: Arc::new(config.limits.clone()),
            cors_origins: config.server.cors_origins.clone(),
            response_cache,
            graphiql: config.server.graphiql,
            metrics_gate: config
                .server
                .metrics_key
                .as_ref()
                .map(|k| Arc::new(MetricsGate::new(&k.0))),
            tasks: Vec::new(),
        })
    }

    /// Loads every mirror now and keeps it fresh (each org's refresh loop, supervised: a loop
    /// that panics is started again with backoff, and the restart shows in `/readyz` and
    /// `org.sync`).
    pub fn start(&mut self) {
        for dir in self.dirs.all() {
            let (looped, watched) = (dir.clone(), dir.clone());
            let name = format!("refresh loop of {}", dir.org_id());
            self.tasks.push(tokio::spawn(async move {
                supervise(
                    &name,
                    Backoff::default(),
                    move || looped.clone().run_refresh_loop(),
                    move |_| watched.record_restart(),
                )
                .await;
            }));
        }
    }

    /// The benchmark's reference only: the same gateway with its mutations not journaled (no
    /// intent, no audit row), to measure what the store adds to a write. `serve` never calls
    /// it; a gateway that users run always journals.
    #[doc(hidden)]
    pub fn without_journal(&mut self, limits: &LimitsConfig) {
        self.schema =
            graphql::build_schema(self.dirs.clone(), limits, None, Some(self.grants.clone()));
    }

    /// Reads back what the store remembers for the directories (open invitations).
    pub async fn restore(&self) -> Result<(), crate::store::StoreError> {
        for dir in self.dirs.all() {
            let n = dir.load_invites().await?;
            if n > 0 {
                tracing::info!(org = %dir.org_id(), invitations = n, "open invitations restored");
            }
        }
        Ok(())
    }

    /// Keeps the store tidy: every hour, idempotency records past their time go, audit rows
    /// older than `retention` are pruned (the chain stays verifiable from the oldest kept row;
    /// each pruning is a row of its own), and so are events older than `event_retention` and
    /// snapshots older than their organization's `reviews.snapshot_retention`.
    pub fn start_store_upkeep(
        &mut self,
        retention: std::time::Duration,
        event_retention: std::time::Duration,
    ) {
        let store = self.store.clone();
        let snapshots = self.snapshots.clone();
        self.tasks.push(tokio::spawn(async move {
            let mut tick = tokio::time::interval(std::time::Duration::from_secs(3600));
            loop {
                tick.tick().await;
                if let Err(e) = store.expire_intents().await {
                    tracing::warn!(error = %e, "expiring idempotency records failed; trying again in an hour");
                }
                let retention_ms = i64::try_from(retention.as_millis()).unwrap_or(i64::MAX);
                let before = crate::store::now_ms().saturating_sub(retention_ms);
                match store.prune_audit(before).await {
                    Ok(0) => {}
                    Ok(rows) => tracing::info!(rows, "audit rows past retention pruned"),
                    Err(e) => tracing::warn!(error = %e, "pruning the audit log failed; trying again in an hour"),
                }
                let events_ms = i64::try_from(event_retention.as_millis()).unwrap_or(i64::MAX);
                let before = crate::store::now_ms().saturating_sub(events_ms);
                match store.prune_events(before).await {
                    Ok(0) => {}
                    Ok(rows) => tracing::info!(rows, "events past retention pruned"),
                    Err(e) => tracing::warn!(error = %e, "pruning the event log failed; trying again in an hour"),
                }
                match snapshots.prune(crate::store::now_ms()).await {
                    Ok(0) => {}
                    Ok(rows) => tracing::info!(rows, "snapshots past retention pruned"),
                    Err(e) => tracing::warn!(error = %e, "pruning snapshots failed; trying again in an hour"),
                }
            }
        }));
    }

    /// Ends grants on time: a scheduler step at once (grants that fell due while the gateway
    /// was stopped go now), then at each grant's due time and at least every second (see
    /// `governance::Grants::run_loop`); restarted with backoff should it panic.
    pub fn start_grants(&mut self) {
        let grants = self.grants.clone();
        self.tasks.push(tokio::spawn(async move {
            supervise(
                "grant scheduler",
                Backoff::default(),
                move || grants.clone().run_loop(),
                |_| {},
            )
            .await;
        }));
    }

    /// Takes the organizations' scheduled snapshots (`[orgs.reviews] snapshot_every`; none
    /// when no organization has a schedule); restarted with backoff should it panic.
    pub fn start_snapshots(&mut self) {
        if !self.snapshots.any_scheduled() {
            return;
        }
        let snapshots = self.snapshots.clone();
        self.tasks.push(tokio::spawn(async move {
            supervise(
                "snapshot schedule",
                Backoff::default(),
                move || snapshots.clone().run_loop(),
                |_| {},
            )
            .await;
        }));
    }

    /// Delivers the organizations' events to the configured webhooks: a step every second
    /// (none when no webhook is configured); restarted with backoff should it panic.
    pub fn start_webhooks(&mut self) {
        if self.webhooks.is_empty() {
            return;
        }
        let hooks = self.webhooks.clone();
        self.tasks.push(tokio::spawn(async move {
            supervise(
                "webhook deliveries",
                Backoff::default(),
                move || hooks.clone().run_loop(),
                |_| {},
            )
            .await;
        }));
    }

    /// The HTTP layer's state; `default_headers` are what GraphiQL sends by default.
    /// Bytes the response cache holds, its evictions done; `None` when it is off.
    pub async fn response_cache_bytes(&self) -> Option<u64> {
        match &self.response_cache {
            Some(cache) => Some(cache.settled_bytes().await),
            None => None,
        }
    }

    pub fn app_state(&self, default_headers: Option<&str>) -> AppState {
        AppState {
            schema: self.schema.clone(),
            dirs: self.dirs.clone(),
            store: Some(self.store.clone()),
            graphiql: self
                .graphiql
                .then(|| Arc::new(GraphiqlPage::new(default_headers, SAMPLE_QUERY))),
            keys: self.keys.clone(),
            limits: self.limits.clone(),
            cors_origins: self.cors_origins.clone(),
            metrics_gate: self.metrics_gate.clone(),
            response_cache: self.response_cache.clone(),
        }
    }
}
