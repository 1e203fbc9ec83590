//! The SCIM HTTP client: every call names its lane and passes through the organization's
//! budget before it is sent; failures go through the retry policy; the key never leaves here.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use reqwest::header::{ACCEPT, CONTENT_TYPE, DATE, ETAG, IF_MATCH, LOCATION, RETRY_AFTER};
use reqwest::{Method, StatusCode};
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::error::ScimError;
use super::profile::Profile;
use super::retry::{self, Decision, Failure, RetryPolicy};
use super::trace;
use super::wire::ErrorBody;
use crate::budget::{Budget, BudgetError, Lane};

/// How to reach one organization's SCIM service.
#[derive(Clone)]
pub struct ClientConfig {
    /// The SCIM root, e.g. `https://core.amplitude.com/scim/1` (a trailing `/` is ignored).
    pub(crate) base_url: String,
    pub(crate) key: SecretString,
    pub(crate) profile: Profile,
    /// The most one try may take, connection and body included.
    pub attempt_timeout: Duration,
    pub retry: RetryPolicy,
    /// The organization's id, for logs.
    pub org: String,
}

impl ClientConfig {
    pub fn new(base_url: &str, key: SecretString, profile: Profile) -> ClientConfig {
        ClientConfig {
            base_url: base_url.to_owned(),
            key,
            profile,
            attempt_timeout: Duration::from_secs(10),
            retry: RetryPolicy::default(),
            org: String::new(),
        }
    }
}

/// One organization's SCIM client. Cheap to clone.
#[derive(Clone)]
pub struct ScimClient {
    inner: Arc<Inner>,
}

struct Inner {
    http: reqwest::Client,
    base: String,
    key: SecretString,
    profile: Profile,
    attempt_timeout: Duration,
    policy: RetryPolicy,
    org: String,
    budget: Budget,
    /// What the service says it supports, once read (`discovery.rs`).
    capabilities: std::sync::OnceLock<super::discovery::Capabilities>,
}

/// A successful answer: its status, body text, and the server's `Date`, `ETag` and
/// `Location` when it sent them.
pub(super) struct Answer {
    pub(crate) status: StatusCode,
    pub(crate) body: String,
    pub(crate) date: Option<SystemTime>,
    pub(crate) etag: Option<String>,
    pub(crate) location: Option<String>,
}

/// Installs rustls' ring provider once per process; reqwest needs one before its first client.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

impl ScimClient {
    pub fn new(config: ClientConfig, budget: Budget) -> Result<ScimClient, ScimError> {
        install_crypto_provider();
        let http = reqwest::Client::builder()
            .connect_timeout(config.attempt_timeout)
            .user_agent(concat!("scimgate/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ScimError::Unavailable { source: Some(e) })?;
        Ok(ScimClient {
            inner: Arc::new(Inner {
                http,
                base: config.base_url.trim_end_matches('/').to_owned(),
                key: config.key,
                profile: config.profile,
                attempt_timeout: config.attempt_timeout,
                policy: config.retry,
                org: config.org,
                budget,
                capabilities: std::sync::OnceLock::new(),
            }),
        })
    }

    pub(crate) fn profile(&self) -> Profile {
        self.inner.profile
    }

    pub fn budget(&self) -> &Budget {
        &self.inner.budget
    }

    /// The organization's id, for logs.
    pub(super) fn org(&self) -> &str {
        &self.inner.org
    }

    /// Where the service's capabilities are kept once read.
    pub(super) fn capability_cell(&self) -> &std::sync::OnceLock<super::discovery::Capabilities> {
        &self.inner.capabilities
    }

    /// Sends one logical call: waits for the budget, sends, and retries as the policy says.
    /// Every try, retries included, takes its own slot from the budget.
    pub(super) async fn call<B: Serialize + ?Sized>(
        &self,
        lane: Lane,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&B>,
    ) -> Result<Answer, ScimError> {
        self.call_if_match(lane, method, path, query, body, None)
            .await
    }

    /// [`ScimClient::call`] with an `If-Match` precondition when `if_match` is given. A 412 on
    /// the first try is [`ScimError::PreconditionFailed`]; on a retry it may be this call's own
    /// earlier try that changed the version, so its outcome is unknown.
    pub(super) async fn call_if_match<B: Serialize + ?Sized>(
        &self,
        lane: Lane,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&B>,
        if_match: Option<&str>,
    ) -> Result<Answer, ScimError> {
        let inner = &*self.inner;
        let url = format!("{}{}", inner.base, path);
        let media = inner.profile.media_type();
        let mut attempt = 0;
        // The failure the previous try ended with, if a retry is under way.
        let mut previous: Option<Stopped> = None;
        loop {
            attempt += 1;
            match inner.budget.acquire(lane).await {
                Ok(grant) => crate::metrics::queue_wait(&inner.org, lane.as_str(), grant.waited),
                // A retry the budget refuses ends the call with the failure that caused it:
                // that one says what the upstream did (a write's outcome may be unknown).
                Err(BudgetError::Overloaded { .. }) if previous.is_some() => {
                    let p = previous.take().expect("checked");
                    let body = ErrorBody::parse(p.body.as_deref().unwrap_or(""));
                    return Err(stop_error(
                        &method,
                        p.failure,
                        p.retry_after,
                        body,
                        p.transport,
                    ));
                }
                Err(e) => {
                    if let BudgetError::Overloaded { retry_after } = e {
                        tracing::debug!(org = %inner.org, %method, path, ?lane, ?retry_after, "refused by the budget's admission; nothing sent");
                    }
                    return Err(e.into());
                }
            }
            let mut request = inner
                .http
                .request(method.clone(), &url)
                .bearer_auth(inner.key.expose_secret())
                .header(ACCEPT, media)
                .timeout(inner.attempt_timeout);
            if !query.is_empty() {
                request = request.query(query);
            }
            if let Some(version) = if_match {
                request = request.header(IF_MATCH, version);
            }
            if let Some(body) = body {
                let json = serde_json::to_vec(body).expect("wire types always serialize");
                request = request.header(CONTENT_TYPE, media).body(json);
            }
            // A write inside a trace passes its gate (recorded as reaching the upstream) once
            // its slot is taken, just before the first request leaves: a write still waiting
            // for the budget when the process stops was never sent.
            trace::before_send(&method).await?;
            let mut transport = None;
            let started = std::time::Instant::now();
            let sent = request.send().await;
            let status = sent.as_ref().ok().map(|r| r.status().as_u16());
            trace::sent(&method, path, status, started);
            // Every try, as the upstream received it (`status` none: no answer came).
            crate::metrics::upstream_request(
                &inner.org,
                lane.as_str(),
                method.as_str(),
                status,
                started.elapsed(),
            );
            let (failure, retry_after, error_body) = match sent {
                Ok(response) => {
                    let status = response.status();
                    let header = |name| {
                        response
                            .headers()
                            .get(name)
                            .and_then(|v: &reqwest::header::HeaderValue| v.to_str().ok())
                    };
                    let retry_after = header(RETRY_AFTER)
                        .and_then(|v| retry::parse_retry_after(v, SystemTime::now()));
                    let date = header(DATE).and_then(|v| httpdate::parse_http_date(v).ok());
                    let etag = header(ETAG).map(str::to_owned);
                    let location = header(LOCATION).map(str::to_owned);
                    match response.text().await {
                        Ok(body) if status.is_success() => {
                            return Ok(Answer {
                                status,
                                body,
                                date,
                                etag,
                                location,
                            });
                        }
                        Ok(body) => (Failure::Status(status.as_u16()), retry_after, Some(body)),
                        // The status arrived but the body did not: for a success, whether the
                        // write is complete cannot be told from here.
                        Err(_) if status.is_success() => (Failure::Timeout, None, None),
                        Err(_) => (Failure::Status(status.as_u16()), retry_after, None),
                    }
                }
                Err(e) => {
                    let failure = if e.is_connect() {
                        Failure::Connect
                    } else {
                        Failure::Timeout
                    };
                    tracing::warn!(org = %inner.org, %method, path, attempt, error = %e, "SCIM call failed in transport");
                    transport = Some(e);
                    (failure, None, None)
                }
            };
            tracing::debug!(org = %inner.org, %method, path, attempt, ?failure, "SCIM call failed");
            if failure == Failure::Status(401) {
                tracing::error!(org = %inner.org, "the upstream rejected the SCIM key; calls stop until the configuration changes");
                inner.budget.mark_revoked();
                return Err(ScimError::CredentialRevoked);
            }
            match retry::decide(
                &inner.policy,
                &method,
                failure,
                retry_after,
                attempt,
                rand::random(),
            ) {
                Decision::Retry { after, pause_org } => {
                    if pause_org {
                        tracing::warn!(org = %inner.org, ?after, "upstream answered 429; pausing the organization");
                        inner
                            .budget
                            .pause_until(tokio::time::Instant::now() + after);
                    } else {
                        tokio::time::sleep(after).await;
                    }
                    previous = Some(Stopped {
                        failure,
                        retry_after,
                        body: error_body,
                        transport,
                    });
                }
                Decision::Stop => {
                    // Given up, but the upstream's word still holds for everyone else.
                    if let (Failure::Status(429), Some(after)) = (failure, retry_after) {
                        inner
                            .budget
                            .pause_until(tokio::time::Instant::now() + after);
                    }
                    let body = ErrorBody::parse(error_body.as_deref().unwrap_or(""));
                    if failure == Failure::Status(412) && attempt > 1 {
                        // This call's own earlier try may be what moved the version on.
                        return Err(ScimError::Upstream {
                            status: 412,
                            body,
                            outcome_unknown: true,
                        });
                    }
                    return Err(stop_error(&method, failure, retry_after, body, transport));
                }
            }
        }
    }

    pub(super) async fn call_json<T: DeserializeOwned, B: Serialize + ?Sized>(
        &self,
        lane: Lane,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&B>,
        what: &'static str,
    ) -> Result<T, ScimError> {
        let answer = self.call(lane, method, path, query, body).await?;
        serde_json::from_str(&answer.body).map_err(|source| ScimError::Malformed { what, source })
    }
}

/// How a try failed, kept while its retry waits for the budget.
struct Stopped {
    failure: Failure,
    retry_after: Option<Duration>,
    body: Option<String>,
    transport: Option<reqwest::Error>,
}

/// The error a call ends with when the policy says stop.
fn stop_error(
    method: &Method,
    failure: Failure,
    retry_after: Option<Duration>,
    body: ErrorBody,
    transport: Option<reqwest::Error>,
) -> ScimError {
    let write = *method != Method::GET;
    match failure {
        Failure::Status(404) => ScimError::NotFound,
        Failure::Status(409) => ScimError::Conflict { body },
        Failure::Status(412) => ScimError::PreconditionFailed,
        Failure::Status(429) => ScimError::RateLimited { retry_after },
        Failure::Status(status) if status >= 500 => ScimError::Upstream {
            status,
            body,
            outcome_unknown: write,
        },
        Failure::Status(status) => ScimError::Rejected { status, body },
        Failure::Timeout => ScimError::Timeout {
            outcome_unknown: write,
        },
        Failure::Connect => ScimError::Unavailable { source: transport },
    }
}
