//! The SCIM client against scripted responses (wiremock): each status and each quirk.

use std::time::Duration;

use scimgate::budget::Lane;
use scimgate::scim::wire::ErrorBody;
use scimgate::scim::wire::User;
use scimgate::scim::{Profile, ScimError};
use serde_json::{Value, json};
use wiremock::matchers::{body_json, header, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::support::{KEY, client};

fn user_json(email: &str) -> Value {
    json!({"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"], "id": email, "userName": email,
           "name": {"givenName": "Ada", "familyName": "Lovelace"}, "active": true,
           "emails": [{"primary": true, "value": email}], "meta": {"resourceType": "User"}})
}

fn list(resources: Vec<Value>, total: Option<u64>, items_per_page: u64) -> Value {
    let mut body = json!({"schemas":["urn:ietf:params:scim:api:messages:2.0:ListResponse"],
                          "startIndex": 1, "itemsPerPage": items_per_page, "Resources": resources});
    if let Some(total) = total {
        body["totalResults"] = json!(total);
    }
    body
}

fn users(from: usize, n: usize) -> Vec<Value> {
    (from..from + n)
        .map(|i| user_json(&format!("user{i}@example.com")))
        .collect()
}

async fn received(server: &MockServer) -> usize {
    server.received_requests().await.map_or(0, |r| r.len())
}

#[tokio::test]
async fn amplitude_pages_with_items_per_page_bearer_key_and_json() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/scim/1/Users"))
        .and(query_param("startIndex", "1"))
        .and(query_param("itemsPerPage", "100"))
        .and(header("authorization", format!("Bearer {KEY}").as_str()))
        .and(header("accept", "application/json"))
        .respond_with(ResponseTemplate::new(200).set_body_json(list(users(0, 2), Some(2), 100)))
        .expect(1)
        .mount(&server)
        .await;
    let c = client(&format!("{}/scim/1/", server.uri()), Profile::Amplitude);
    let all = c.all_users(Lane::Background).await.unwrap();
    assert_eq!(all.len(), 2);
    assert_eq!(all[1].user_name, "user1@example.com");
}

#[tokio::test]
async fn rfc7644_pages_with_count_and_scim_media_type() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/Users"))
        .and(query_param("count", "100"))
        .and(header("accept", "application/scim+json"))
        .respond_with(ResponseTemplate::new(200).set_body_json(list(users(0, 1), Some(1), 1)))
        .expect(1)
        .mount(&server)
        .await;
    let all = client(&server.uri(), Profile::Rfc7644)
        .all_users(Lane::Interactive)
        .await
        .unwrap();
    assert_eq!(all.len(), 1);
}

#[tokio::test]
async fn pager_reads_at_the_page_maximum_and_stops_at_total_results() {
    let server = MockServer::start().await;
    for (start, n) in [(1, 100), (101, 100), (201, 50)] {
        // itemsPerPage echoes 100 even on the short last page, as Amplitude's does.
        Mock::given(method("GET"))
            .and(path("/Users"))
            .and(query_param("startIndex", start.to_string().as_str()))
            .respond_with(ResponseTemplate::new(200).set_body_json(list(
                users(start - 1, n),
                Some(250),
                100,
            )))
            .expect(1)
            .mount(&server)
            .await;
    }
    let all = client(&server.uri(), Profile::Amplitude)
        .all_users(Lane::Background)
        .await
        .unwrap();
    assert_eq!(all.len(), 250);
    assert_eq!(received(&server).await, 3, "ceil(250/100) calls, no more");
}

#[tokio::test]
async fn pager_without_total_stops_on_an_empty_page_and_advances_by_what_arrived() {
    let server = MockServer::start().await;
    // The server returns fewer than asked (40) and echoes 100: the next page starts at 41.
    for (start, n) in [(1, 40), (41, 40), (81, 0)] {
        Mock::given(method("GET"))
            .and(path("/Users"))
            .and(query_param("startIndex", start.to_string().as_str()))
            .respond_with(ResponseTemplate::new(200).set_body_json(list(
                users(start - 1, n),
                None,
                100,
            )))
            .expect(1)
            .mount(&server)
            .await;
    }
    let all = client(&server.uri(), Profile::Amplitude)
        .all_users(Lane::Background)
        .await
        .unwrap();
    assert_eq!(all.len(), 80);
    assert_eq!(all[40].user_name, "user40@example.com");
}

#[tokio::test]
async fn group_ids_parse_as_numbers_or_strings() {
    let server = MockServer::start().await;
    let groups = json!({"totalResults": 2, "Resources": [
        {"id": 632, "displayName": "Analytics Admins", "members": [{"value": "a@example.com", "display": "A B"}]},
        {"id": "633", "displayName": "Viewers", "members": [], "unknownField": {"x": 1}}]});
    Mock::given(method("GET"))
        .and(path("/Groups"))
        .respond_with(ResponseTemplate::new(200).set_body_json(groups))
        .mount(&server)
        .await;
    let all = client(&server.uri(), Profile::Amplitude)
        .all_groups(Lane::Background)
        .await
        .unwrap();
    assert_eq!(all[0].id.as_ref().unwrap().as_str(), "632");
    assert_eq!(all[1].id.as_ref().unwrap().as_str(), "633");
    assert_eq!(all[0].members[0].value, "a@example.com");
}

#[tokio::test]
async fn email_ids_with_plus_and_upper_case_are_percent_encoded_in_paths() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/Users/Ada.Lovelace%2Bops%40Example.com"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(user_json("ada.lovelace+ops@example.com")),
        )
        .expect(1)
        .mount(&server)
        .await;
    let c = client(&server.uri(), Profile::Amplitude);
    let user = c
        .get_user(Lane::Interactive, "Ada.Lovelace+ops@Example.com")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(user.email(), "ada.lovelace+ops@example.com");
}

#[tokio::test]
async fn unknown_user_or_group_is_none_and_delete_of_unknown_is_not_found() {
    let server = MockServer::start().await;
    let not_found = json!({"schemas":["urn:ietf:params:scim:api:messages:2.0:Error"], "status": 404, "detail": "nope"});
    Mock::given(wiremock::matchers::any())
        .respond_with(ResponseTemplate::new(404).set_body_json(not_found))
        .mount(&server)
        .await;
    let c = client(&server.uri(), Profile::Amplitude);
    assert!(
        c.get_user(Lane::Interactive, "ghost@example.com")
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        c.get_group(Lane::Interactive, "999")
            .await
            .unwrap()
            .is_none()
    );
    assert!(matches!(
        c.delete_group(Lane::Critical, "999").await,
        Err(ScimError::NotFound)
    ));
    assert_eq!(received(&server).await, 3, "a 404 is never retried");
}

#[tokio::test]
async fn remove_members_uses_value_array_for_amplitude() {
    let server = MockServer::start().await;
    Mock::given(method("PATCH"))
        .and(path("/Groups/632"))
        .and(body_json(json!({"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations":[{"op":"remove","path":"members","value":[{"value":"a@example.com"},{"value":"b+x@example.com"}]}]})))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"id":"632","displayName":"G","members":[]})))
        .expect(1)
        .mount(&server)
        .await;
    let c = client(&server.uri(), Profile::Amplitude);
    let group = c
        .remove_members(Lane::Critical, "632", &["a@example.com", "b+x@example.com"])
        .await
        .unwrap();
    assert_eq!(group.unwrap().id.unwrap().as_str(), "632");
}

#[tokio::test]
async fn remove_members_uses_filter_paths_for_rfc7644() {
    let server = MockServer::start().await;
    Mock::given(method("PATCH"))
        .and(path("/Groups/abc"))
        .and(header("content-type", "application/scim+json"))
        .and(body_json(json!({"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations":[{"op":"remove","path":"members[value eq \"u1\"]"},{"op":"remove","path":"members[value eq \"u\\\"2\"]"}]})))
        .respond_with(ResponseTemplate::new(204))
        .expect(1)
        .mount(&server)
        .await;
    let c = client(&server.uri(), Profile::Rfc7644);
    assert!(
        c.remove_members(Lane::Critical, "abc", &["u1", "u\"2"])
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn create_group_accepts_amplitudes_200() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/Groups"))
        .and(body_json(json!({"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"New","members":[{"value":"a@example.com"}]})))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"id":700,"displayName":"New","members":[{"value":"a@example.com","display":"undefined undefined"}]})))
        .expect(1)
        .mount(&server)
        .await;
    let group = client(&server.uri(), Profile::Amplitude)
        .create_group(Lane::Write, "New", &["a@example.com"])
        .await
        .unwrap();
    assert_eq!(group.id.unwrap().as_str(), "700");
}

#[tokio::test]
async fn a_500_in_the_middle_of_a_pager_is_retried_for_gets() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/Users"))
        .and(query_param("startIndex", "1"))
        .respond_with(ResponseTemplate::new(200).set_body_json(list(users(0, 100), Some(150), 100)))
        .mount(&server)
        .await;
    // Page 2 fails twice, then succeeds: three tries, within the policy.
    Mock::given(method("GET"))
        .and(path("/Users"))
        .and(query_param("startIndex", "101"))
        .respond_with(ResponseTemplate::new(500).set_body_string("<html>oops</html>"))
        .up_to_n_times(2)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/Users"))
        .and(query_param("startIndex", "101"))
        .respond_with(ResponseTemplate::new(200).set_body_json(list(
            users(100, 50),
            Some(150),
            100,
        )))
        .with_priority(2)
        .mount(&server)
        .await;
    let all = client(&server.uri(), Profile::Amplitude)
        .all_users(Lane::Background)
        .await
        .unwrap();
    assert_eq!(all.len(), 150);
    assert_eq!(received(&server).await, 4);
}

#[tokio::test]
async fn a_persistent_500_stops_after_three_tries_and_keeps_the_text_body() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/Users"))
        .respond_with(ResponseTemplate::new(503).set_body_string("upstream maintenance"))
        .mount(&server)
        .await;
    let err = client(&server.uri(), Profile::Amplitude)
        .all_users(Lane::Background)
        .await
        .unwrap_err();
    match err {
        ScimError::Upstream {
            status,
            body,
            outcome_unknown,
        } => {
            assert_eq!(status, 503);
            assert_eq!(body, ErrorBody::Text("upstream maintenance".into()));
            assert!(!outcome_unknown, "a failed read changed nothing");
        }
        other => panic!("expected Upstream, got {other:?}"),
    }
    assert_eq!(received(&server).await, 3);
}

#[tokio::test]
async fn a_post_is_never_retried_after_a_500_and_its_outcome_is_unknown() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/Users"))
        .respond_with(
            ResponseTemplate::new(500).set_body_json(json!({"status":"500","detail":"boom"})),
        )
        .mount(&server)
        .await;
    let user = User::new("new@example.com", "New", "Person");
    let err = client(&server.uri(), Profile::Amplitude)
        .create_user(Lane::Write, &user)
        .await
        .unwrap_err();
    assert!(err.outcome_unknown(), "{err:?}");
    assert_eq!(received(&server).await, 1);
}

#[tokio::test]
async fn a_timed_out_post_is_reported_unknown_and_sent_once() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/Users"))
        .respond_with(
            ResponseTemplate::new(201)
                .set_body_json(user_json("slow@example.com"))
                .set_delay(Duration::from_secs(3)),
        )
        .mount(&server)
        .await;
    let user = User::new("slow@example.com", "Slow", "Person");
    let err = client(&server.uri(), Profile::Amplitude)
        .create_user(Lane::Write, &user)
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            ScimError::Timeout {
                outcome_unknown: true
            }
        ),
        "{err:?}"
    );
    assert_eq!(received(&server).await, 1);
}

#[tokio::test]
async fn a_timed_out_get_is_retried() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/Users/slow%40example.com"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(user_json("slow@example.com"))
                .set_delay(Duration::from_secs(3)),
        )
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/Users/slow%40example.com"))
        .respond_with(ResponseTemplate::new(200).set_body_json(user_json("slow@example.com")))
        .with_priority(2)
        .mount(&server)
        .await;
    let c = client(&server.uri(), Profile::Amplitude);
    let user = c
        .get_user(Lane::Interactive, "slow@example.com")
        .await
        .unwrap();
    assert_eq!(user.unwrap().user_name, "slow@example.com");
    assert_eq!(received(&server).await, 2);
}

#[tokio::test]
async fn a_429_without_retry_after_backs_off_and_pauses_the_organization() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/Users"))
        .respond_with(ResponseTemplate::new(429).set_body_string("slow down"))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/Users"))
        .respond_with(ResponseTemplate::new(200).set_body_json(list(users(0, 1), Some(1), 100)))
        .with_priority(2)
        .mount(&server)
        .await;
    let all = client(&server.uri(), Profile::Amplitude)
        .all_users(Lane::Background)
        .await
        .unwrap();
    assert_eq!(all.len(), 1);
    assert_eq!(received(&server).await, 2);
}

#[tokio::test]
async fn a_429_with_retry_after_pauses_every_lane() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/Users"))
        .respond_with(ResponseTemplate::new(429).insert_header("retry-after", "1"))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(wiremock::matchers::any())
        .respond_with(ResponseTemplate::new(200).set_body_json(list(vec![], Some(0), 100)))
        .with_priority(2)
        .mount(&server)
        .await;
    let c = client(&server.uri(), Profile::Amplitude);
    let start = std::time::Instant::now();
    let reader = {
        let c = c.clone();
        tokio::spawn(async move { c.all_users(Lane::Background).await })
    };
    // Wait until the 429 has been seen, then a critical call on another path must wait too.
    let deadline = start + Duration::from_secs(5);
    while c.budget().snapshot().paused_until.is_none() {
        assert!(
            std::time::Instant::now() < deadline,
            "the 429 never paused the budget"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    c.list_groups(Lane::Critical, 1, 100, None).await.unwrap();
    assert!(
        start.elapsed() >= Duration::from_millis(950),
        "critical went out during the pause"
    );
    reader.await.unwrap().unwrap();
}

#[tokio::test]
async fn a_401_marks_the_credential_revoked_and_stops_all_calls() {
    let server = MockServer::start().await;
    Mock::given(wiremock::matchers::any())
        .respond_with(ResponseTemplate::new(401).set_body_json(json!({"detail":"invalid token"})))
        .mount(&server)
        .await;
    let c = client(&server.uri(), Profile::Amplitude);
    assert!(matches!(
        c.all_users(Lane::Background).await,
        Err(ScimError::CredentialRevoked)
    ));
    assert!(c.budget().snapshot().credential_revoked);
    assert!(matches!(
        c.delete_user(Lane::Critical, "a@example.com").await,
        Err(ScimError::CredentialRevoked)
    ));
    assert_eq!(received(&server).await, 1, "no call after the 401");
}

#[tokio::test]
async fn conflict_keeps_the_scim_error_with_status_as_string_or_number() {
    let server = MockServer::start().await;
    Mock::given(method("POST")).and(path("/Users"))
        .respond_with(ResponseTemplate::new(409).set_body_json(json!({"schemas":["urn:ietf:params:scim:api:messages:2.0:Error"],"status":409,"scimType":"uniqueness","detail":"exists"})))
        .mount(&server).await;
    let err = client(&server.uri(), Profile::Amplitude)
        .create_user(Lane::Write, &User::new("dup@example.com", "D", "U"))
        .await
        .unwrap_err();
    match err {
        ScimError::Conflict { body } => {
            assert_eq!(body.scim_type(), Some("uniqueness"));
            let ErrorBody::Scim(b) = body else {
                panic!("scim body")
            };
            assert_eq!(b.status.as_deref(), Some("409"));
        }
        other => panic!("expected Conflict, got {other:?}"),
    }
}

#[tokio::test]
async fn malformed_scim_json_is_a_typed_error() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/Users"))
        .respond_with(
            ResponseTemplate::new(200).set_body_string("{\"Resources\": [ {\"id\": true "),
        )
        .mount(&server)
        .await;
    let err = client(&server.uri(), Profile::Amplitude)
        .all_users(Lane::Background)
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            ScimError::Malformed {
                what: "user list",
                ..
            }
        ),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_refused_connection_is_unavailable_and_never_resends_a_post() {
    // Bind and drop a listener to get a port nobody listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let c = client(&format!("http://127.0.0.1:{port}"), Profile::Amplitude);
    let err = c
        .create_user(Lane::Write, &User::new("x@example.com", "X", "Y"))
        .await
        .unwrap_err();
    assert!(matches!(err, ScimError::Unavailable { .. }), "{err:?}");
    assert!(!err.outcome_unknown(), "a refused connection sent nothing");
}

#[tokio::test]
async fn the_key_appears_in_no_error_text() {
    let server = MockServer::start().await;
    Mock::given(wiremock::matchers::any())
        .respond_with(ResponseTemplate::new(400).set_body_string(format!("bad key {KEY}")))
        .mount(&server)
        .await;
    let err = client(&server.uri(), Profile::Amplitude)
        .all_users(Lane::Background)
        .await
        .unwrap_err();
    assert!(!err.to_string().contains(KEY));
    let mut source = std::error::Error::source(&err);
    while let Some(s) = source {
        assert!(!s.to_string().contains(KEY));
        source = s.source();
    }
}
