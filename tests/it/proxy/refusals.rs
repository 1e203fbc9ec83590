//! What the proxy refuses before sending anything, and how upstream failures read: always the
//! SCIM error shape, a clear detail, no secret; an unknown outcome reported, never re-sent.

use std::time::Duration;

use scimgate::auth::Role;
use scimgate::config::LimitsConfig;
use scimgate::emulator::Faults;
use serde_json::json;

use super::{ERROR_SCHEMA, audit_rows, scim, send};
use crate::mutations::log_since;
use crate::support::{OrgSpec, TestApp, spawn_app_with};

#[tokio::test]
async fn keys_roles_scopes_paths_and_bodies_are_checked_before_anything_is_sent() {
    let app = spawn_app_with(
        vec![OrgSpec::new("acme", 5, 1), OrgSpec::new("globex", 5, 1)],
        &[
            ("reader", Role::Read, &["acme"]),
            ("globex-writer", Role::Write, &["globex"]),
        ],
        LimitsConfig::default(),
    )
    .await;
    let calls = app.upstream_calls();
    let get = reqwest::Method::GET;
    let cases = [
        (
            None,
            get.clone(),
            "/acme/scim/v2/Users",
            None,
            401,
            "UNAUTHENTICATED",
        ),
        (
            Some("not-a-key"),
            get.clone(),
            "/acme/scim/v2/Users",
            None,
            401,
            "UNAUTHENTICATED",
        ),
        (
            Some("globex-writer"),
            get.clone(),
            "/acme/scim/v2/Users",
            None,
            404,
            "NOT_FOUND",
        ),
        (
            Some("admin"),
            get.clone(),
            "/initech/scim/v2/Users",
            None,
            404,
            "NOT_FOUND",
        ),
        (
            Some("reader"),
            reqwest::Method::DELETE,
            "/acme/scim/v2/Users/a@x.io",
            None,
            403,
            "FORBIDDEN",
        ),
        (
            Some("admin"),
            get.clone(),
            "/acme/scim/v2/_emulator/requests",
            None,
            404,
            "NOT_FOUND",
        ),
        (
            Some("admin"),
            get.clone(),
            "/acme/scim/v2/Users/a%2Fb",
            None,
            404,
            "NOT_FOUND",
        ),
        (
            Some("admin"),
            get.clone(),
            "/acme/scim/v2/Bulk",
            None,
            404,
            "NOT_FOUND",
        ),
        (
            Some("admin"),
            get.clone(),
            "/acme/scim/v2",
            None,
            404,
            "NOT_FOUND",
        ),
        (
            Some("admin"),
            reqwest::Method::HEAD,
            "/acme/scim/v2/Users",
            None,
            405,
            "METHOD_NOT_ALLOWED",
        ),
        (
            Some("admin"),
            reqwest::Method::POST,
            "/acme/scim/v2/Users",
            Some("{oops"),
            400,
            "BAD_REQUEST",
        ),
    ];
    for (who, method, path, body, status, code) in cases {
        let key = match who {
            Some("admin") => Some(app.key.clone()),
            Some(name) => Some(
                app.keys
                    .get(name)
                    .cloned()
                    .unwrap_or_else(|| name.to_owned()),
            ),
            None => None,
        };
        let mut request = app
            .http
            .request(method.clone(), format!("{}{path}", app.url));
        if let Some(key) = &key {
            request = request.bearer_auth(key);
        }
        if let Some(body) = body {
            request = request.body(body);
        }
        let response = request.send().await.unwrap();
        let shown = format!("{method} {path} as {who:?}");
        assert_eq!(response.status().as_u16(), status, "{shown}");
        assert_eq!(
            response
                .headers()
                .get("x-scimgate-code")
                .and_then(|v| v.to_str().ok()),
            Some(code),
            "{shown}"
        );
        if method == reqwest::Method::HEAD {
            continue;
        }
        let text = response.text().await.unwrap();
        let body: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(body["schemas"][0], ERROR_SCHEMA, "{shown}: {body}");
        assert_eq!(body["status"], status.to_string(), "{shown}");
        assert!(
            body["detail"].as_str().is_some_and(|d| d.len() > 10),
            "{shown}: {body}"
        );
        assert!(
            !text.contains(app.emulator().token()),
            "{shown}: the SCIM token leaked"
        );
    }
    assert_eq!(
        app.upstream_calls(),
        calls,
        "a refused request reached the upstream"
    );
    // The reader reads; the other org's key reaches its own org.
    let reader = app.keys["reader"].clone();
    let ok = send(
        &app,
        Some(&reader),
        reqwest::Method::GET,
        "/acme/scim/v2/Users",
        None,
        &[],
    )
    .await;
    assert_eq!(ok.status, 200, "{}", ok.body);
    let writer = app.keys["globex-writer"].clone();
    let ok = send(
        &app,
        Some(&writer),
        reqwest::Method::GET,
        "/globex/scim/v2/Groups",
        None,
        &[],
    )
    .await;
    assert_eq!(ok.status, 200, "{}", ok.body);
    assert!(ok.body["Resources"].is_array());
}

#[tokio::test]
async fn upstream_errors_keep_the_scim_shape_and_a_conflict_says_why() {
    let app = TestApp::one(5, 1).await;
    app.warm().await;
    let email = crate::mutations::joined_users(&app)[0].clone();
    let dup = scim(
        &app,
        reqwest::Method::POST,
        "/Users",
        Some(json!({ "userName": email })),
    )
    .await;
    assert_eq!(dup.status, 409, "{}", dup.body);
    assert_eq!(dup.body["schemas"][0], ERROR_SCHEMA);
    assert_eq!(dup.body["status"], "409");
    assert!(dup.body["detail"].as_str().is_some(), "{}", dup.body);
    let rows = audit_rows(&app, "scimProxy").await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].record.outcome, "FAILED");
    assert_eq!(rows[0].record.error_code, "CONFLICT");
}

#[tokio::test]
async fn a_write_without_an_answer_is_reported_unknown_and_never_sent_again() {
    let mut spec = OrgSpec::new("acme", 5, 2);
    spec.attempt_timeout = Duration::from_millis(300);
    let app = crate::support::spawn_app(vec![spec]).await;
    app.warm().await;
    let group = app.emulator().state().groups()[0].id.clone().unwrap().0;
    let email = crate::mutations::joined_users(&app)[3].clone();
    let mark = app.emulator().requests().len();
    app.emulator().set_faults(Faults {
        timeout_rate: 1.0,
        timeout_ms: 1_000,
        ..Faults::default()
    });
    let body = json!({ "Operations": [{ "op": "add", "path": "members", "value": [{ "value": email }] }] });
    let answer = scim(
        &app,
        reqwest::Method::PATCH,
        &format!("/Groups/{group}"),
        Some(body),
    )
    .await;
    app.emulator().set_faults(Faults::default());
    assert_eq!(answer.status, 504, "{}", answer.body);
    assert_eq!(answer.header("x-scimgate-outcome"), Some("unknown"));
    assert_eq!(answer.body["schemas"][0], ERROR_SCHEMA);
    assert!(
        answer.body["detail"].as_str().unwrap().contains("unknown"),
        "{}",
        answer.body
    );
    let patches = log_since(&app, mark)
        .iter()
        .filter(|r| r.method == "PATCH")
        .count();
    assert_eq!(patches, 1, "the PATCH was sent again");
    let rows = audit_rows(&app, "scimProxy").await;
    assert_eq!(
        rows.last().map(|r| r.record.outcome.as_str()),
        Some("UNKNOWN")
    );
}
