//! Conditional writes against scripted answers: `If-Match` goes out only where the service said
//! it honours ETags, a first-try 412 is a conflict, and a 412 on a retry is an unknown outcome
//! (the lost first try may have moved the version itself).

use std::time::Duration;

use secrecy::SecretString;
use serde_json::json;
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use super::wire::User;
use super::{ClientConfig, Profile, RetryPolicy, ScimClient, ScimError};
use crate::budget::{Budget, BudgetConfig, Lane};

const V3: &str = "W/\"3\"";

async fn service(etag: bool) -> (MockServer, ScimClient) {
    let server = MockServer::start().await;
    let spc = json!({"filter": {"supported": true}, "etag": {"supported": etag}});
    Mock::given(method("GET"))
        .and(path("/scim/v2/ServiceProviderConfig"))
        .respond_with(ResponseTemplate::new(200).set_body_json(spc))
        .expect(1)
        .mount(&server)
        .await;
    let mut config = ClientConfig::new(
        &format!("{}/scim/v2", server.uri()),
        SecretString::from("k".to_owned()),
        Profile::Rfc7644,
    );
    config.retry = RetryPolicy {
        base_backoff: Duration::from_millis(5),
        max_backoff: Duration::from_millis(10),
        ..RetryPolicy::default()
    };
    let budget = Budget::new(BudgetConfig::new(1_000, Duration::from_secs(1)));
    let client = ScimClient::new(config, budget).expect("client");
    let caps = client
        .discover(Lane::Background)
        .await
        .expect("capabilities");
    assert_eq!(caps.etag, etag);
    // Read once: asking again costs nothing (the mock expects one call).
    client.discover(Lane::Background).await.expect("known");
    (server, client)
}

fn user() -> User {
    User::new("ada@example.com", "Ada", "Lovelace")
}

fn answered(user: &User) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(user)
}

async fn if_match_sent(server: &MockServer) -> Vec<Option<String>> {
    let requests = server.received_requests().await.unwrap_or_default();
    requests
        .iter()
        .filter(|r| r.method.as_str() == "PUT")
        .map(|r| {
            r.headers
                .get("if-match")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        })
        .collect()
}

#[tokio::test]
async fn if_match_carries_the_version_only_where_etags_are_honoured() {
    for etag in [true, false] {
        let (server, client) = service(etag).await;
        Mock::given(method("PUT"))
            .and(path("/scim/v2/Users/u1"))
            .respond_with(answered(&user()))
            .mount(&server)
            .await;
        client
            .replace_user(Lane::Write, "u1", &user(), Some(V3))
            .await
            .expect("replaced");
        let expected = etag.then(|| V3.to_owned());
        assert_eq!(if_match_sent(&server).await, vec![expected], "etag {etag}");
    }
}

#[tokio::test]
async fn a_first_try_412_is_a_conflict_and_nothing_is_retried() {
    let (server, client) = service(true).await;
    Mock::given(method("PUT"))
        .and(header("if-match", V3))
        .respond_with(ResponseTemplate::new(412))
        .mount(&server)
        .await;
    let err = client
        .replace_user(Lane::Write, "u1", &user(), Some(V3))
        .await
        .expect_err("stale");
    assert!(matches!(err, ScimError::PreconditionFailed), "{err:?}");
    assert!(!err.outcome_unknown());
    assert_eq!(if_match_sent(&server).await.len(), 1, "sent once");
}

#[tokio::test]
async fn a_412_on_a_retry_is_an_unknown_outcome_to_settle_by_reading() {
    let (server, client) = service(true).await;
    Mock::given(method("PUT"))
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("PUT"))
        .respond_with(ResponseTemplate::new(412))
        .mount(&server)
        .await;
    let err = client
        .replace_user(Lane::Write, "u1", &user(), Some(V3))
        .await
        .expect_err("unknown");
    assert!(err.outcome_unknown(), "{err:?}");
    assert_eq!(if_match_sent(&server).await.len(), 2);
}
