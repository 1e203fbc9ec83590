//! The SCIM proxy (`/{org}/scim/v2/...`) against the emulator: every method forwarded 1:1,
//! the mirror following each write (GraphQL reads it with no upstream call), the budget lanes
//! measured on the emulator's request log, refusals and upstream errors in the SCIM error
//! shape, unknown outcomes never re-sent, and every write audited.

mod lanes;
mod readme;
mod refusals;

use reqwest::header::HeaderMap;
use scimgate::store::{AuditEntry, AuditFilter, Window};
use serde_json::{Value, json};

use crate::mutations::{decoded, log_since, members_at_emulator};
use crate::support::TestApp;

pub const ERROR_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:Error";

/// One proxied answer.
pub struct Answer {
    pub status: u16,
    pub headers: HeaderMap,
    /// `Null` for an empty body.
    pub body: Value,
}

impl Answer {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// `method /{org}/scim/v2{path}` with `key` (none: no `Authorization`), `body` as JSON.
pub async fn send(
    app: &TestApp,
    key: Option<&str>,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
    headers: &[(&str, &str)],
) -> Answer {
    let mut request = app
        .http
        .request(method, format!("{}{path}", app.url))
        .header("content-type", "application/scim+json");
    if let Some(key) = key {
        request = request.bearer_auth(key);
    }
    if let Some(body) = body {
        request = request.body(body.to_string());
    }
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.expect("the gateway answers");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let text = response.text().await.expect("a body");
    let body = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text}"))
    };
    Answer {
        status,
        headers,
        body,
    }
}

/// `method /acme/scim/v2{path}` with the admin key.
pub async fn scim(
    app: &TestApp,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> Answer {
    send(
        app,
        Some(&app.key),
        method,
        &format!("/acme/scim/v2{path}"),
        body,
        &[],
    )
    .await
}

/// The audit rows of `action`, oldest first.
pub async fn audit_rows(app: &TestApp, action: &str) -> Vec<AuditEntry> {
    let filter = AuditFilter {
        action: Some(action.to_owned()),
        ..AuditFilter::default()
    };
    let mut rows = app
        .gateway
        .store
        .audit_page(&filter, Window::default(), 1000)
        .await
        .expect("the audit log reads");
    rows.sort_by_key(|r| r.seq);
    rows
}

/// A user's `email givenName status` and group names through GraphQL, and the upstream calls
/// the read cost.
async fn graphql_user(app: &TestApp, email: &str) -> (Value, u64) {
    let before = app.upstream_calls();
    let data = app
        .data(
            r#"query($e: String!) { org { user(email: $e) { email givenName status
                groups(first: 100) { edges { node { name } } } } } }"#,
            json!({ "e": email }),
        )
        .await;
    (data["org"]["user"].clone(), app.upstream_calls() - before)
}

async fn graphql_members(app: &TestApp, group: &str) -> (Vec<String>, u64) {
    let before = app.upstream_calls();
    let data = app
        .data(
            r#"{ org { groups(first: 20) { edges { node { upstreamId
                members(first: 50) { edges { node { email } } } } } } } }"#,
            json!({}),
        )
        .await;
    let calls = app.upstream_calls() - before;
    let edges = data["org"]["groups"]["edges"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let node = edges
        .iter()
        .find(|e| e["node"]["upstreamId"] == group)
        .unwrap_or_else(|| panic!("group {group} in GraphQL: {data}"));
    let mut emails: Vec<String> = node["node"]["members"]["edges"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| {
            e["node"]["email"]
                .as_str()
                .unwrap_or_default()
                .to_lowercase()
        })
        .collect();
    emails.sort();
    (emails, calls)
}

#[tokio::test]
async fn every_method_is_forwarded_and_graphql_reads_each_write_with_no_upstream_call() {
    let app = TestApp::one(30, 3).await;
    app.warm().await;
    let mark = app.emulator().requests().len();
    let base = app.emulator().state().profile().base_path().to_owned();

    // GET of a collection: forwarded as asked, the upstream's ListResponse as it is.
    let list = scim(
        &app,
        reqwest::Method::GET,
        "/Users?startIndex=1&itemsPerPage=5",
        None,
    )
    .await;
    assert_eq!(list.status, 200, "{}", list.body);
    assert_eq!(list.body["Resources"].as_array().map(Vec::len), Some(5));
    assert_eq!(list.body["totalResults"], 30);
    assert_eq!(list.header("x-scimgate-answered-from"), Some("upstream"));
    assert_eq!(list.header("x-scimgate-lane"), Some("interactive"));
    let log = log_since(&app, mark);
    assert_eq!(log.len(), 1);
    assert_eq!(
        (log[0].method.as_str(), log[0].path.as_str()),
        (
            "GET",
            format!("{base}/Users?startIndex=1&itemsPerPage=5").as_str()
        )
    );

    // POST: a new user; GraphQL shows the invitation at once.
    let email = "new.person@example.com";
    let created = scim(
        &app,
        reqwest::Method::POST,
        "/Users",
        Some(json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": email,
            "name": { "givenName": "New", "familyName": "Person" },
        })),
    )
    .await;
    assert_eq!(created.status, 201, "{}", created.body);
    assert_eq!(created.body["userName"], email);
    assert_eq!(created.header("x-scimgate-lane"), Some("write"));
    assert!(app.emulator().state().user(email).is_some());
    let (user, calls) = graphql_user(&app, email).await;
    assert_eq!(user["email"], email);
    assert_eq!(user["status"], "INVITED");
    assert_eq!(calls, 0, "the GraphQL read went upstream");

    // PUT: new names, shown by GraphQL and kept by the emulator.
    let joined = crate::mutations::joined_users(&app)[0].clone();
    let put = scim(
        &app,
        reqwest::Method::PUT,
        &format!("/Users/{joined}"),
        Some(json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": joined,
            "name": { "givenName": "Renamed", "familyName": "Byproxy" },
            "active": true,
        })),
    )
    .await;
    assert_eq!(put.status, 200, "{}", put.body);
    let (user, calls) = graphql_user(&app, &joined).await;
    assert_eq!(user["givenName"], "Renamed");
    assert_eq!(calls, 0);
    let at_emulator = app.emulator().state().user(&joined).expect("still there");
    assert_eq!(at_emulator.given_name(), Some("Renamed"));

    // PATCH adds a member, another removes it: both applied upstream and in the mirror.
    let group = app.emulator().state().groups()[0]
        .id
        .clone()
        .expect("an id")
        .0;
    assert!(!members_at_emulator(&app, &group).contains(&email.to_owned()));
    let add = json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{ "op": "add", "path": "members", "value": [{ "value": email }] }],
    });
    let added = scim(
        &app,
        reqwest::Method::PATCH,
        &format!("/Groups/{group}"),
        Some(add),
    )
    .await;
    assert_eq!(added.status, 200, "{}", added.body);
    assert!(members_at_emulator(&app, &group).contains(&email.to_owned()));
    let (members, calls) = graphql_members(&app, &group).await;
    assert!(members.contains(&email.to_owned()), "{members:?}");
    assert_eq!(calls, 0);
    let remove = json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{ "op": "remove", "path": "members", "value": [{ "value": email }] }],
    });
    let removed = scim(
        &app,
        reqwest::Method::PATCH,
        &format!("/Groups/{group}"),
        Some(remove),
    )
    .await;
    assert_eq!(removed.status, 200, "{}", removed.body);
    assert_eq!(removed.header("x-scimgate-lane"), Some("critical"));
    let change = app
        .emulator()
        .member_changes()
        .pop()
        .expect("a member change");
    assert_eq!((change.member.as_str(), change.added), (email, false));
    let (members, calls) = graphql_members(&app, &group).await;
    assert!(!members.contains(&email.to_owned()), "{members:?}");
    assert_eq!(calls, 0);
    let (user, _) = graphql_user(&app, email).await;
    assert_eq!(user["groups"]["edges"], json!([]));

    // DELETE: gone upstream and from GraphQL, which asks nobody.
    let deleted = scim(
        &app,
        reqwest::Method::DELETE,
        &format!("/Users/{joined}"),
        None,
    )
    .await;
    assert_eq!(deleted.status, 204);
    assert_eq!(deleted.body, Value::Null);
    assert_eq!(deleted.header("x-scimgate-lane"), Some("critical"));
    assert!(app.emulator().state().user(&joined).is_none());
    let (user, calls) = graphql_user(&app, &joined).await;
    assert!(user.is_null(), "{user}");
    assert_eq!(calls, 0);

    // Each write reached the emulator once, and nothing else was sent for them.
    let sent: Vec<(String, String)> = log_since(&app, mark)
        .iter()
        .map(|r| (r.method.clone(), decoded(&r.path)))
        .collect();
    let lower = base.to_lowercase();
    assert_eq!(
        sent,
        vec![
            (
                "GET".into(),
                format!("{lower}/users?startindex=1&itemsperpage=5")
            ),
            ("POST".into(), format!("{lower}/users")),
            (
                "PUT".into(),
                format!("{lower}/users/{}", joined.to_lowercase())
            ),
            ("PATCH".into(), format!("{lower}/groups/{group}")),
            ("PATCH".into(), format!("{lower}/groups/{group}")),
            (
                "DELETE".into(),
                format!("{lower}/users/{}", joined.to_lowercase())
            ),
        ]
    );

    // One audit row per write, with the request as its input and its upstream call.
    let rows = audit_rows(&app, "scimProxy").await;
    let seen: Vec<(String, String)> = rows
        .iter()
        .map(|r| {
            let input: Value = serde_json::from_str(&r.record.input).expect("JSON input");
            (
                input["method"].as_str().unwrap_or("").to_owned(),
                r.record.outcome.clone(),
            )
        })
        .collect();
    let success = |m: &str| (m.to_owned(), "SUCCESS".to_owned());
    assert_eq!(
        seen,
        vec![
            success("POST"),
            success("PUT"),
            success("PATCH"),
            success("PATCH"),
            success("DELETE")
        ]
    );
    let delete = rows.last().expect("the DELETE's row");
    assert_eq!(delete.record.actor, "test-admin");
    assert_eq!(delete.record.org, "acme");
    assert_eq!(delete.record.calls.len(), 1, "{:?}", delete.record.calls);
    assert!(
        delete
            .record
            .targets
            .iter()
            .any(|t| t.email.as_deref() == Some(&joined.to_lowercase())),
        "{:?}",
        delete.record.targets
    );
    let removal = &rows[3];
    assert!(
        removal
            .record
            .targets
            .iter()
            .any(|t| t.email.as_deref() == Some(email)),
        "the removed member is a target: {:?}",
        removal.record.targets
    );
}

#[tokio::test]
async fn a_user_read_is_answered_from_a_complete_mirror_and_anything_else_is_forwarded() {
    let app = TestApp::one(10, 2).await;
    app.warm().await;
    let email = crate::mutations::joined_users(&app)[2].clone();
    let upstream = scim(
        &app,
        reqwest::Method::GET,
        &format!("/Users/{email}?attributes=userName"),
        None,
    )
    .await;
    assert_eq!(upstream.status, 200);
    assert_eq!(
        upstream.header("x-scimgate-answered-from"),
        Some("upstream")
    );

    let calls = app.upstream_calls();
    let mirror = scim(&app, reqwest::Method::GET, &format!("/Users/{email}"), None).await;
    assert_eq!(mirror.status, 200, "{}", mirror.body);
    assert_eq!(mirror.header("x-scimgate-answered-from"), Some("mirror"));
    assert_eq!(
        app.upstream_calls(),
        calls,
        "the mirror's answer went upstream"
    );
    // The same resource the upstream sends for it.
    let direct: Value = app
        .http
        .get(format!("{}/Users/{email}", app.emulator().base_url()))
        .bearer_auth(app.emulator().token())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let groups = |v: &Value| {
        let mut g: Vec<String> = v["groups"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|g| g["value"].to_string().trim_matches('"').to_owned())
            .collect();
        g.sort();
        g
    };
    assert_eq!(groups(&mirror.body), groups(&direct));
    for field in ["id", "userName", "name", "active", "emails"] {
        assert_eq!(mirror.body[field], direct[field], "{field}");
    }
    // Not in the mirror: forwarded, and the upstream's 404 in SCIM's shape.
    let missing = scim(
        &app,
        reqwest::Method::GET,
        "/Users/nobody@example.com",
        None,
    )
    .await;
    assert_eq!(missing.status, 404);
    assert_eq!(missing.body["schemas"][0], ERROR_SCHEMA);
    assert_eq!(missing.body["status"], "404");
    assert_eq!(app.upstream_calls(), calls + 2);
}

#[tokio::test]
async fn a_repeated_idempotency_key_sends_the_write_once_and_replays_its_answer() {
    let app = TestApp::one(5, 1).await;
    app.warm().await;
    let mark = app.emulator().requests().len();
    let body = json!({ "userName": "once@example.com", "name": { "givenName": "Once", "familyName": "Only" } });
    let post = |body: Value| async {
        send(
            &app,
            Some(&app.key),
            reqwest::Method::POST,
            "/acme/scim/v2/Users",
            Some(body),
            &[("idempotency-key", "hr-4711")],
        )
        .await
    };
    let first = post(body.clone()).await;
    let second = post(body.clone()).await;
    assert_eq!(first.status, 201, "{}", first.body);
    assert_eq!((second.status, &second.body), (201, &first.body));
    let posts = log_since(&app, mark)
        .iter()
        .filter(|r| r.method == "POST")
        .count();
    assert_eq!(posts, 1, "the repeated key was sent again");
    // The same key with another body is refused, and sends nothing.
    let other = post(json!({ "userName": "other@example.com" })).await;
    assert_eq!(other.status, 422, "{}", other.body);
    assert_eq!(other.body["schemas"][0], ERROR_SCHEMA);
    let posts = log_since(&app, mark)
        .iter()
        .filter(|r| r.method == "POST")
        .count();
    assert_eq!(posts, 1);
}
