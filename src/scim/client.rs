//! The SCIM HTTP client: every call names its lane and passes through the organization's
//! budget before it is sent; failures go through the retry policy; the key never leaves here.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use reqwest::header::{ACCEPT, CONTENT_TYPE, RETRY_AFTER};
use reqwest::{Method, StatusCode};
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::error::ScimError;
use super::profile::Profile;
use super::retry::{self, Decision, Failure, RetryPolicy};
use super::wire::{ErrorBody, Group, ListResponse, Member, PatchOp, User};
use crate::budget::{Budget, Lane};

/// How to reach one organization's SCIM service.
#[derive(Clone)]
pub struct ClientConfig {
    /// The SCIM root, e.g. `https://core.amplitude.com/scim/1` (a trailing `/` is ignored).
    pub base_url: String,
    pub key: SecretString,
    pub profile: Profile,
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
}

/// A successful answer: its status and body text.
pub(super) struct Answer {
    pub status: StatusCode,
    pub body: String,
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
            }),
        })
    }

    pub fn profile(&self) -> Profile {
        self.inner.profile
    }

    pub fn budget(&self) -> &Budget {
        &self.inner.budget
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
        let inner = &*self.inner;
        let url = format!("{}{}", inner.base, path);
        let media = inner.profile.media_type();
        let mut attempt = 0;
        loop {
            attempt += 1;
            inner.budget.acquire(lane).await?;
            let mut request = inner
                .http
                .request(method.clone(), &url)
                .bearer_auth(inner.key.expose_secret())
                .header(ACCEPT, media)
                .timeout(inner.attempt_timeout);
            if !query.is_empty() {
                request = request.query(query);
            }
            if let Some(body) = body {
                let json = serde_json::to_vec(body).expect("wire types always serialize");
                request = request.header(CONTENT_TYPE, media).body(json);
            }
            let mut transport = None;
            let (failure, retry_after, error_body) = match request.send().await {
                Ok(response) => {
                    let status = response.status();
                    let retry_after = response
                        .headers()
                        .get(RETRY_AFTER)
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| retry::parse_retry_after(v, SystemTime::now()));
                    match response.text().await {
                        Ok(body) if status.is_success() => return Ok(Answer { status, body }),
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
                }
                Decision::Stop => {
                    let body = ErrorBody::parse(error_body.as_deref().unwrap_or(""));
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

    fn user_path(&self, id: &str) -> String {
        format!("/Users/{}", Profile::encode_id(id))
    }

    fn group_path(&self, id: &str) -> String {
        format!("/Groups/{}", Profile::encode_id(id))
    }

    /// One page of users; `start_index` is 1-based.
    pub async fn list_users(
        &self,
        lane: Lane,
        start_index: u64,
        page_size: u32,
        filter: Option<&str>,
    ) -> Result<ListResponse<User>, ScimError> {
        let query = self.list_query(start_index, page_size, filter);
        self.call_json(
            lane,
            Method::GET,
            "/Users",
            &query,
            None::<&()>,
            "user list",
        )
        .await
    }

    /// One page of groups with their members; `start_index` is 1-based.
    pub async fn list_groups(
        &self,
        lane: Lane,
        start_index: u64,
        page_size: u32,
        filter: Option<&str>,
    ) -> Result<ListResponse<Group>, ScimError> {
        let query = self.list_query(start_index, page_size, filter);
        self.call_json(
            lane,
            Method::GET,
            "/Groups",
            &query,
            None::<&()>,
            "group list",
        )
        .await
    }

    fn list_query(
        &self,
        start_index: u64,
        page_size: u32,
        filter: Option<&str>,
    ) -> Vec<(&'static str, String)> {
        let page_size = page_size.clamp(1, self.inner.profile.max_page_size());
        let mut query = vec![
            ("startIndex", start_index.max(1).to_string()),
            (self.inner.profile.page_size_param(), page_size.to_string()),
        ];
        if let Some(filter) = filter {
            query.push(("filter", filter.to_owned()));
        }
        query
    }

    /// A user by id (the e-mail on Amplitude); `None` when the upstream does not know it.
    pub async fn get_user(&self, lane: Lane, id: &str) -> Result<Option<User>, ScimError> {
        not_found_as_none(
            self.call_json(
                lane,
                Method::GET,
                &self.user_path(id),
                &[],
                None::<&()>,
                "user",
            )
            .await,
        )
    }

    /// A user by `userName` through a filter (works where ids are opaque).
    pub async fn find_user_by_name(
        &self,
        lane: Lane,
        user_name: &str,
    ) -> Result<Option<User>, ScimError> {
        let filter = format!("userName eq {}", super::profile::quote(user_name));
        let page = self.list_users(lane, 1, 1, Some(&filter)).await?;
        Ok(page.resources.into_iter().next())
    }

    /// `POST /Users`. On Amplitude this sends the person an invitation e-mail.
    pub async fn create_user(&self, lane: Lane, user: &User) -> Result<User, ScimError> {
        let mut created: User = self
            .call_json(
                lane,
                Method::POST,
                "/Users",
                &[],
                Some(user),
                "created user",
            )
            .await?;
        if created.id.is_none() && self.inner.profile.user_id_is_email() {
            created.id = Some(created.user_name.clone());
        }
        Ok(created)
    }

    /// Replaces a user with the full resource (`PUT`). `groups` is ignored upstream.
    pub async fn replace_user(&self, lane: Lane, id: &str, user: &User) -> Result<User, ScimError> {
        self.call_json(
            lane,
            Method::PUT,
            &self.user_path(id),
            &[],
            Some(user),
            "updated user",
        )
        .await
    }

    /// Sets `active`: the full resource by `PUT` on Amplitude, a `replace` PatchOp elsewhere.
    /// On Amplitude `active: false` removes the user from the organization.
    pub async fn set_active(
        &self,
        lane: Lane,
        id: &str,
        current: &User,
        active: bool,
    ) -> Result<(), ScimError> {
        match self.inner.profile {
            Profile::Amplitude => {
                let mut user = current.clone();
                user.active = active;
                user.groups = None;
                user.meta = None;
                self.call(lane, Method::PUT, &self.user_path(id), &[], Some(&user))
                    .await?;
            }
            Profile::Rfc7644 => {
                let op = PatchOp::new(vec![super::wire::PatchOperation {
                    op: "replace".into(),
                    path: Some("active".into()),
                    value: Some(serde_json::Value::Bool(active)),
                }]);
                self.call(lane, Method::PATCH, &self.user_path(id), &[], Some(&op))
                    .await?;
            }
        }
        Ok(())
    }

    pub async fn delete_user(&self, lane: Lane, id: &str) -> Result<(), ScimError> {
        self.call(lane, Method::DELETE, &self.user_path(id), &[], None::<&()>)
            .await
            .map(|_| ())
    }

    pub async fn get_group(&self, lane: Lane, id: &str) -> Result<Option<Group>, ScimError> {
        not_found_as_none(
            self.call_json(
                lane,
                Method::GET,
                &self.group_path(id),
                &[],
                None::<&()>,
                "group",
            )
            .await,
        )
    }

    /// `POST /Groups`. On Amplitude unknown member e-mails are invited.
    pub async fn create_group(
        &self,
        lane: Lane,
        name: &str,
        members: &[&str],
    ) -> Result<Group, ScimError> {
        let group = Group::new(name, members.iter().map(|m| Member::new(m)).collect());
        self.call_json(
            lane,
            Method::POST,
            "/Groups",
            &[],
            Some(&group),
            "created group",
        )
        .await
    }

    /// Sends a PatchOp; returns the group when the upstream answers with it (200), else `None` (204).
    pub async fn patch_group(
        &self,
        lane: Lane,
        id: &str,
        op: &PatchOp,
    ) -> Result<Option<Group>, ScimError> {
        let answer = self
            .call(lane, Method::PATCH, &self.group_path(id), &[], Some(op))
            .await?;
        if answer.status == StatusCode::NO_CONTENT || answer.body.trim().is_empty() {
            return Ok(None);
        }
        serde_json::from_str(&answer.body)
            .map(Some)
            .map_err(|source| ScimError::Malformed {
                what: "patched group",
                source,
            })
    }

    pub async fn add_members(
        &self,
        lane: Lane,
        group_id: &str,
        values: &[&str],
    ) -> Result<Option<Group>, ScimError> {
        self.patch_group(lane, group_id, &self.inner.profile.add_members(values))
            .await
    }

    /// Removes members in the profile's form (value array on Amplitude, filter paths on RFC 7644).
    pub async fn remove_members(
        &self,
        lane: Lane,
        group_id: &str,
        values: &[&str],
    ) -> Result<Option<Group>, ScimError> {
        self.patch_group(lane, group_id, &self.inner.profile.remove_members(values))
            .await
    }

    pub async fn rename_group(
        &self,
        lane: Lane,
        group_id: &str,
        name: &str,
    ) -> Result<Option<Group>, ScimError> {
        self.patch_group(lane, group_id, &self.inner.profile.rename_group(name))
            .await
    }

    pub async fn delete_group(&self, lane: Lane, id: &str) -> Result<(), ScimError> {
        self.call(lane, Method::DELETE, &self.group_path(id), &[], None::<&()>)
            .await
            .map(|_| ())
    }
}

fn not_found_as_none<T>(result: Result<T, ScimError>) -> Result<Option<T>, ScimError> {
    match result {
        Ok(v) => Ok(Some(v)),
        Err(ScimError::NotFound) => Ok(None),
        Err(e) => Err(e),
    }
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
