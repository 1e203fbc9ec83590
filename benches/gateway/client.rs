//! The benchmark's GraphQL client: one request, the dashboard load (every user with groups,
//! every group with its member count), and waiting for a mirror to finish loading.

use std::time::{Duration, Instant};

use reqwest::header::CONTENT_TYPE;
use serde_json::{Value, json};

/// Row 3's operation, sent to the gateway and to the floor alike.
pub const USERS_PAGE: &str = "query Page { org { users(first: 50) { totalCount \
    edges { node { email displayName status groups { edges { node { name } } } } } \
    pageInfo { hasNextPage endCursor } } } }";

/// One page of the dashboard: users with their groups, and on the first page the groups.
const DASHBOARD_PAGE: &str = "query Dashboard($after: String, $withGroups: Boolean!) { org {
  users(first: 100, after: $after) {
    edges { node { email groups { edges { node { name } } } } }
    pageInfo { hasNextPage endCursor }
  }
  groups(first: 100) @include(if: $withGroups) { edges { node { name memberCount } } }
} }";

/// A GraphQL endpoint with the benchmark's credentials.
#[derive(Clone)]
pub struct Gql {
    pub http: reqwest::Client,
    /// `http://127.0.0.1:PORT/graphql`
    pub endpoint: String,
    /// The API key, sent as `Authorization: Bearer` (auth on).
    pub key: Option<String>,
}

impl Gql {
    pub fn new(http: reqwest::Client, base: &str, key: Option<String>) -> Gql {
        Gql {
            http,
            endpoint: format!("{base}/graphql"),
            key,
        }
    }

    /// A POST of `body` (a JSON GraphQL request) with the headers every request carries.
    pub fn request(&self, http: &reqwest::Client, body: reqwest::Body) -> reqwest::RequestBuilder {
        let r = http
            .post(&self.endpoint)
            .header(CONTENT_TYPE, "application/json")
            .body(body);
        match &self.key {
            Some(key) => r.bearer_auth(key),
            None => r,
        }
    }

    /// The response body; panics on a transport error or a non-JSON answer.
    pub async fn query(&self, query: &str, variables: Value) -> Value {
        let body = json!({ "query": query, "variables": variables }).to_string();
        self.request(&self.http, body.into())
            .send()
            .await
            .unwrap_or_else(|e| panic!("POST {}: {e}", self.endpoint))
            .json()
            .await
            .expect("a JSON body")
    }

    /// The answer to `query` and its length in bytes; panics on any GraphQL error.
    pub async fn checked(&self, query: &str) -> (usize, Value) {
        let body = json!({ "query": query, "variables": {} }).to_string();
        let bytes = self
            .request(&self.http, body.into())
            .send()
            .await
            .expect("an answer")
            .bytes()
            .await
            .expect("a body");
        let v: Value = serde_json::from_slice(&bytes).expect("JSON");
        assert!(v.get("errors").is_none(), "errors: {v}");
        (bytes.len(), v)
    }

    /// `data`; panics on any GraphQL error.
    pub async fn data(&self, query: &str, variables: Value) -> Value {
        let body = self.query(query, variables).await;
        assert!(body.get("errors").is_none(), "GraphQL errors: {body}");
        body["data"].clone()
    }

    /// Every user with its groups (pages of 100) and every group with its member count.
    /// Returns (users, groups) seen.
    pub async fn dashboard(&self) -> (usize, usize) {
        let (mut users, mut groups) = (0, 0);
        let mut after = Value::Null;
        loop {
            let first = after.is_null();
            let data = self
                .data(
                    DASHBOARD_PAGE,
                    json!({ "after": after, "withGroups": first }),
                )
                .await;
            let conn = &data["org"]["users"];
            users += conn["edges"].as_array().map_or(0, Vec::len);
            if first {
                groups = data["org"]["groups"]["edges"]
                    .as_array()
                    .map_or(0, Vec::len);
            }
            if conn["pageInfo"]["hasNextPage"] != true {
                return (users, groups);
            }
            after = conn["pageInfo"]["endCursor"].clone();
        }
    }

    /// Waits until the mirror has loaded completely; returns its user count.
    pub async fn wait_complete(&self, within: Duration) -> u64 {
        match self.wait_loaded(within).await {
            Ok(users) => users,
            Err(users) => {
                panic!("the mirror did not load within {within:?} ({users} users so far)")
            }
        }
    }

    /// Waits until the mirror has loaded completely: `Ok(users)`, or `Err(users so far)` when
    /// `within` runs out first.
    pub async fn wait_loaded(&self, within: Duration) -> Result<u64, u64> {
        let deadline = Instant::now() + within;
        loop {
            let data = self
                .data("{ org { sync { complete userCount } } }", json!({}))
                .await;
            let users = data["org"]["sync"]["userCount"].as_u64().unwrap_or(0);
            if data["org"]["sync"]["complete"] == true {
                return Ok(users);
            }
            if Instant::now() >= deadline {
                return Err(users);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The budget's emission interval as the gateway reports it.
    pub async fn emission_interval(&self) -> Duration {
        let data = self
            .data("{ org { budget { emissionIntervalMs } } }", json!({}))
            .await;
        let ms = data["org"]["budget"]["emissionIntervalMs"]
            .as_f64()
            .expect("emissionIntervalMs");
        Duration::from_secs_f64(ms / 1e3)
    }
}
