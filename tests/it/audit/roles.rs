//! Who reads the log: auditor and admin keys within their organizations; the auditor nothing
//! else; read and write keys not the log.

use scimgate::auth::Role;
use scimgate::config::LimitsConfig;
use serde_json::{Value, json};

use super::{column, log_as, record};
use crate::support::{OrgSpec, TestApp, error_code, spawn_app_with};

async fn app() -> TestApp {
    let app = spawn_app_with(
        vec![OrgSpec::new("acme", 5, 1), OrgSpec::new("globex", 5, 1)],
        &[
            ("acme-auditor", Role::Auditor, &["acme"]),
            ("globex-auditor", Role::Auditor, &["globex"]),
            ("reader", Role::Read, &["*"]),
            ("writer", Role::Write, &["*"]),
        ],
        LimitsConfig::default(),
    )
    .await;
    for i in 1..=3 {
        app.gateway
            .store
            .append_audit(&record("acme", &format!("a{i}"), "ci", 0))
            .await
            .unwrap();
    }
    app
}

fn forbidden(body: &Value) {
    assert_eq!(error_code(body), "FORBIDDEN", "{body:#}");
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .is_some_and(|m| m.contains(" role")),
        "{body:#}"
    );
}

#[tokio::test]
async fn an_auditor_reads_its_organizations_log_and_nothing_else() {
    let app = app().await;
    let key = &app.keys["acme-auditor"];
    let body = log_as(&app, key, "acme", json!({})).await;
    assert!(body.get("errors").is_none(), "{body:#}");
    let page = &body["data"]["org"]["auditLog"];
    assert_eq!(
        column(page, "action"),
        vec![json!("a3"), json!("a2"), json!("a1")]
    );

    // Its audit rows are nodes for it; users and groups are not.
    let entry = page["edges"][0]["node"]["id"].clone();
    let q = "query($id: ID!) { node(id: $id) { id ... on AuditEntry { seq action } } }";
    let node = app.query_as(key, q, json!({ "id": entry })).await;
    assert_eq!(node["data"]["node"]["action"], "a3", "{node:#}");
    let users = app
        .data(
            "{ org(id: \"acme\") { users(first: 1) { edges { node { id } } } } }",
            json!({}),
        )
        .await;
    let user = users["org"]["users"]["edges"][0]["node"]["id"].clone();
    forbidden(&app.query_as(key, q, json!({ "id": user })).await);

    let viewer = app
        .query_as(
            key,
            "{ viewer { role canWrite canAdmin canReadAuditLog } }",
            json!({}),
        )
        .await;
    assert_eq!(
        viewer["data"]["viewer"],
        json!({ "role": "AUDITOR", "canWrite": false, "canAdmin": false, "canReadAuditLog": true })
    );
    // The organization's name, for finding the log; none of its data.
    let named = app.query_as(key, "{ orgs { slug name } }", json!({})).await;
    assert_eq!(
        named["data"]["orgs"],
        json!([{ "slug": "acme", "name": "acme" }]),
        "{named:#}"
    );
    for field in [
        "users { totalCount }",
        "groups { totalCount }",
        "user(email: \"a@example.com\") { id }",
        "budget { limit }",
        "sync { complete }",
        "profile",
    ] {
        let body = app
            .query_as(
                key,
                &format!("{{ org(id: \"acme\") {{ {field} }} }}"),
                json!({}),
            )
            .await;
        forbidden(&body);
    }
    let mutation = app
        .query_as(
            key,
            r#"mutation { refreshDirectory(input: { org: "acme" }) { outcome } }"#,
            json!({}),
        )
        .await;
    forbidden(&mutation);
    let invite = app
        .query_as(
            key,
            r#"mutation { inviteUser(input: { email: "x@example.com", givenName: "X", familyName: "Y" }) { outcome } }"#,
            json!({}),
        )
        .await;
    forbidden(&invite);
    // Refused before anything was recorded: no row names the auditor.
    let again = log_as(&app, &app.key, "acme", json!({})).await;
    let actors = column(&again["data"]["org"]["auditLog"], "actor");
    assert!(!actors.contains(&json!("acme-auditor")), "{again:#}");
}

#[tokio::test]
async fn read_and_write_keys_get_forbidden_on_the_log() {
    let app = app().await;
    let entry = log_as(&app, &app.key, "acme", json!({ "first": 1 })).await;
    let entry = entry["data"]["org"]["auditLog"]["edges"][0]["node"]["id"].clone();
    assert!(entry.is_string(), "the admin reads the log");
    for name in ["reader", "writer"] {
        let key = &app.keys[name];
        forbidden(&log_as(&app, key, "acme", json!({})).await);
        let node = app
            .query_as(
                key,
                "query($id: ID!) { node(id: $id) { id } }",
                json!({ "id": entry }),
            )
            .await;
        forbidden(&node);
        let viewer = app
            .query_as(key, "{ viewer { canReadAuditLog } }", json!({}))
            .await;
        assert_eq!(viewer["data"]["viewer"]["canReadAuditLog"], false);
    }
}

#[tokio::test]
async fn an_auditor_of_another_organization_sees_none_of_its_rows() {
    let app = app().await;
    let key = &app.keys["globex-auditor"];
    let body = log_as(&app, key, "acme", json!({})).await;
    assert!(body.get("errors").is_none(), "{body:#}");
    assert_eq!(body["data"]["org"], Value::Null, "acme is not there for it");
    let own = log_as(&app, key, "globex", json!({})).await;
    assert_eq!(
        own["data"]["org"]["auditLog"]["edges"],
        json!([]),
        "{own:#}"
    );

    let entry = log_as(&app, &app.key, "acme", json!({ "first": 1 })).await;
    let entry = entry["data"]["org"]["auditLog"]["edges"][0]["node"]["id"].clone();
    let node = app
        .query_as(
            key,
            "query($id: ID!) { node(id: $id) { id } }",
            json!({ "id": entry }),
        )
        .await;
    assert!(node.get("errors").is_none(), "{node:#}");
    assert_eq!(node["data"]["node"], Value::Null);
}
