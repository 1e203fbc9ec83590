//! `Org.auditLog` as an admin reads it: real writes, paging, filters.

use scimgate::store::{Target, UpstreamCall};
use serde_json::{Value, json};

use super::{column, log, record};
use crate::mutations::{mutate, mutate_body};
use crate::support::{TestApp, error_code};

#[tokio::test]
async fn audit_log_shows_real_writes_newest_first_with_their_upstream_calls() {
    let app = TestApp::one(20, 2).await;
    app.warm().await;
    let first = app
        .data(
            "{ org { users(first: 1) { edges { node { id email } } } } }",
            json!({}),
        )
        .await;
    let member = first["org"]["users"]["edges"][0]["node"].clone();

    let invited = mutate(
        &app,
        "inviteUser",
        json!({ "email": "New.Hire@example.com", "givenName": "New", "familyName": "Hire" }),
    )
    .await;
    assert_eq!(invited["outcome"], "SUCCESS", "{invited:#}");
    let deactivated = mutate(&app, "deactivateUser", json!({ "id": member["id"] })).await;
    assert_eq!(deactivated["outcome"], "SUCCESS", "{deactivated:#}");
    // The same invitation again: refused, and audited as such.
    let refused = mutate_body(
        &app,
        "inviteUser",
        json!({ "email": "new.hire@example.com", "givenName": "New", "familyName": "Hire" }),
    )
    .await;
    let refused = &refused["data"]["inviteUser"];
    assert_ne!(refused["outcome"], "SUCCESS", "{refused:#}");

    let page = log(&app, json!({ "first": 3 })).await;
    assert_eq!(
        column(&page, "action"),
        vec![
            json!("inviteUser"),
            json!("deactivateUser"),
            json!("inviteUser")
        ],
        "newest first: {page:#}"
    );
    let rows: Vec<&Value> = page["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["node"])
        .collect();
    let seqs: Vec<i64> = rows.iter().map(|r| r["seq"].as_i64().unwrap()).collect();
    assert!(seqs[0] > seqs[1] && seqs[1] > seqs[2], "{seqs:?}");
    for row in &rows {
        assert_eq!(row["actor"], "test-admin");
        assert_eq!(row["role"], "admin");
        assert!(row["requestId"].as_str().is_some_and(|r| !r.is_empty()));
        assert!(row["at"].as_str().unwrap().ends_with('Z'), "{row}");
        assert_eq!(row["hash"].as_str().unwrap().len(), 64);
    }
    // Each row's hash is the next row's link.
    assert_eq!(rows[0]["prevHash"], rows[1]["hash"]);

    let (refusal, deactivation, invitation) = (rows[0], rows[1], rows[2]);
    assert_eq!(invitation["outcome"], "SUCCESS");
    assert_eq!(invitation["errorCode"], Value::Null);
    assert_eq!(
        invitation["targets"],
        json!([{ "kind": "User", "id": "new.hire@example.com", "email": "new.hire@example.com" }])
    );
    let input: Value = serde_json::from_str(invitation["input"].as_str().unwrap()).unwrap();
    assert!(
        input.to_string().contains("New.Hire@example.com"),
        "{input}"
    );
    let calls = invitation["calls"].as_array().unwrap();
    assert_eq!(calls.len(), 1, "{calls:?}");
    assert_eq!(calls[0]["method"], "POST");
    assert!(
        calls[0]["path"].as_str().unwrap().ends_with("/Users"),
        "{calls:?}"
    );
    assert_eq!(calls[0]["status"], 201);
    assert!(calls[0]["durationMs"].as_i64().is_some());

    assert_eq!(deactivation["outcome"], "SUCCESS");
    assert_eq!(deactivation["targets"][0]["id"], member["id"]);
    let writes: Vec<&Value> = deactivation["calls"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["method"] != "GET")
        .collect();
    assert_eq!(writes.len(), 1, "{deactivation:#}");
    assert_eq!(writes[0]["method"], "PUT", "Amplitude deactivates with PUT");
    assert_eq!(writes[0]["status"], 200);

    assert_eq!(refusal["outcome"], refused["outcome"]);
    assert_eq!(refusal["errorCode"], refused["userErrors"][0]["code"]);
    assert!(refusal["errorCode"].is_string(), "{refusal:#}");
}

#[tokio::test]
async fn audit_log_pages_both_ways_with_opaque_cursors() {
    let app = TestApp::one(5, 1).await;
    let store = &app.gateway.store;
    for i in 1..=7 {
        store
            .append_audit(&record("acme", &format!("a{i}"), "ci", 0))
            .await
            .unwrap();
        // Another organization's rows never show in acme's log.
        store
            .append_audit(&record("globex", &format!("g{i}"), "ci", 0))
            .await
            .unwrap();
    }
    let actions = |page: &Value| -> Vec<String> {
        column(page, "action")
            .iter()
            .map(|a| a.as_str().unwrap().to_owned())
            .collect()
    };
    let info = |page: &Value| {
        (
            page["pageInfo"]["hasNextPage"].as_bool().unwrap(),
            page["pageInfo"]["hasPreviousPage"].as_bool().unwrap(),
        )
    };

    let p1 = log(&app, json!({ "first": 3 })).await;
    assert_eq!(actions(&p1), ["a7", "a6", "a5"]);
    assert_eq!(info(&p1), (true, false));
    let cursor = p1["pageInfo"]["endCursor"].as_str().unwrap();
    assert_eq!(cursor, p1["edges"][2]["cursor"]);
    let seq = p1["edges"][2]["node"]["seq"].to_string();
    assert!(!cursor.contains(&seq), "cursors are opaque: {cursor}");

    let p2 = log(&app, json!({ "first": 3, "after": cursor })).await;
    assert_eq!(actions(&p2), ["a4", "a3", "a2"]);
    assert_eq!(info(&p2), (true, true));
    let p3 = log(
        &app,
        json!({ "first": 3, "after": p2["pageInfo"]["endCursor"] }),
    )
    .await;
    assert_eq!(actions(&p3), ["a1"]);
    assert_eq!(info(&p3), (false, true));

    // Backward from the last page's start: the three newer rows, still newest first.
    let back = log(
        &app,
        json!({ "last": 3, "before": p3["pageInfo"]["startCursor"] }),
    )
    .await;
    assert_eq!(actions(&back), ["a4", "a3", "a2"]);
    assert_eq!(info(&back), (true, true));
    let newest = log(
        &app,
        json!({ "last": 2, "before": back["pageInfo"]["startCursor"] }),
    )
    .await;
    assert_eq!(actions(&newest), ["a6", "a5"]);
    assert_eq!(info(&newest), (true, true));
    let oldest = log(&app, json!({ "last": 2 })).await;
    assert_eq!(actions(&oldest), ["a2", "a1"]);
    assert_eq!(info(&oldest), (false, true));

    // Pages are capped like every connection's, and cursors must be this gateway's.
    let over = super::log_as(&app, &app.key, "acme", json!({ "first": 101 })).await;
    assert_eq!(error_code(&over), "BAD_USER_INPUT", "{over:#}");
    for forged in [
        "7",
        "not-a-cursor",
        "eyJ2IjoxLCJvIjoiYXVkaXQiLCJrIjpbIngiXX0",
    ] {
        let body = super::log_as(&app, &app.key, "acme", json!({ "after": forged })).await;
        assert_eq!(error_code(&body), "BAD_USER_INPUT", "{forged}: {body:#}");
        assert!(
            body["errors"][0]["message"]
                .as_str()
                .unwrap()
                .contains("`after` is not a cursor this gateway issued"),
            "{body:#}"
        );
    }
    let users = app
        .data(
            "{ org { users(first: 1) { pageInfo { endCursor } } } }",
            json!({}),
        )
        .await;
    let other = users["org"]["users"]["pageInfo"]["endCursor"].clone();
    let body = super::log_as(&app, &app.key, "acme", json!({ "after": other })).await;
    assert_eq!(error_code(&body), "BAD_USER_INPUT", "{body:#}");
}

#[tokio::test]
async fn audit_log_filters_by_actor_action_target_outcome_and_time() {
    let app = TestApp::one(5, 1).await;
    let store = &app.gateway.store;
    let base = 1_800_000_000_000_i64;
    let mut ada = record("acme", "deactivateUser", "hr-bot", base);
    ada.targets = vec![Target {
        kind: "User".into(),
        id: "ada@example.com".into(),
        email: Some("ada@example.com".into()),
    }];
    ada.calls = vec![UpstreamCall {
        method: "PUT".into(),
        path: "/scim/1/Users/ada@example.com".into(),
        status: Some(200),
        ms: 4,
    }];
    let mut failed = record("acme", "inviteUser", "ci", base + 60_000);
    failed.outcome = "FAILED".into();
    failed.error_code = "CONFLICT".into();
    let later = record("acme", "inviteUser", "hr-bot", base + 120_000);
    for r in [&ada, &failed, &later] {
        store.append_audit(r).await.unwrap();
    }
    let actions = |filter: Value| {
        let app = &app;
        async move {
            let page = log(app, json!({ "filter": filter })).await;
            column(&page, "requestId")
                .iter()
                .zip(column(&page, "actor"))
                .map(|(r, a)| format!("{}/{}", r.as_str().unwrap(), a.as_str().unwrap()))
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(
        actions(json!({ "actor": "hr-bot" })).await,
        ["req-inviteUser/hr-bot", "req-deactivateUser/hr-bot"]
    );
    assert_eq!(
        actions(json!({ "action": "inviteUser" })).await,
        ["req-inviteUser/hr-bot", "req-inviteUser/ci"]
    );
    assert_eq!(
        actions(json!({ "target": "Ada@Example.com" })).await,
        ["req-deactivateUser/hr-bot"]
    );
    assert_eq!(
        actions(json!({ "target": "ada@example" })).await,
        Vec::<String>::new()
    );
    assert_eq!(
        actions(json!({ "outcome": "FAILED" })).await,
        ["req-inviteUser/ci"]
    );
    let at = |ms: i64| {
        humantime::format_rfc3339_millis(
            std::time::UNIX_EPOCH + std::time::Duration::from_millis(ms as u64),
        )
        .to_string()
    };
    assert_eq!(
        actions(json!({ "since": at(base + 60_000), "until": at(base + 120_000) })).await,
        ["req-inviteUser/ci"]
    );
    assert_eq!(
        actions(json!({ "since": at(base + 1), "actor": "hr-bot" })).await,
        ["req-inviteUser/hr-bot"]
    );
    let page = log(&app, json!({ "filter": { "outcome": "FAILED" } })).await;
    let row = &page["edges"][0]["node"];
    assert_eq!(row["errorCode"], "CONFLICT");
    assert_eq!(row["at"], at(base + 60_000));
    let page = log(
        &app,
        json!({ "filter": { "actor": "hr-bot", "action": "deactivateUser" } }),
    )
    .await;
    assert_eq!(
        page["edges"][0]["node"]["calls"],
        json!([{ "method": "PUT", "path": "/scim/1/Users/ada@example.com", "status": 200, "durationMs": 4 }])
    );
    let bad = super::log_as(
        &app,
        &app.key,
        "acme",
        json!({ "filter": { "since": "yesterday" } }),
    )
    .await;
    // Refused with a code at validation, the argument named (not an internal error).
    assert_eq!(error_code(&bad), "GRAPHQL_VALIDATION_FAILED", "{bad:#}");
    assert!(
        bad["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("filter.since"),
        "{bad:#}"
    );
}
