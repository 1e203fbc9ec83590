//! `GET /export/snapshots/{id}`: a snapshot as CSV (one row per user × group, parsed with the
//! csv crate) and JSON (parsed with serde), matching what GraphQL shows; admin and auditor
//! keys only.

use std::collections::BTreeSet;

use scimgate::auth::Role;
use scimgate::config::LimitsConfig;
use serde_json::{Value, json};

use crate::support::{OrgSpec, TestApp, spawn_app_with};

async fn get(app: &TestApp, key: Option<&str>, path: &str) -> reqwest::Response {
    let mut request = app.http.get(format!("{}{path}", app.url));
    if let Some(key) = key {
        request = request.bearer_auth(key);
    }
    request.send().await.unwrap()
}

/// (e-mail, status, group name or "") for every user × group, as GraphQL shows the mirror.
async fn memberships_in_graphql(app: &TestApp) -> BTreeSet<(String, String, String)> {
    let q = "{ org { users(first: 100) { totalCount edges { node { email status groups(first: 10) { edges { node { name } } } } } } } }";
    let d = app.data(q, json!({})).await;
    assert!(d["org"]["users"]["totalCount"].as_i64().unwrap() <= 100);
    let mut out = BTreeSet::new();
    for e in d["org"]["users"]["edges"].as_array().unwrap() {
        let n = &e["node"];
        let (email, status) = (
            n["email"].as_str().unwrap().to_owned(),
            n["status"].as_str().unwrap().to_owned(),
        );
        let groups = n["groups"]["edges"].as_array().unwrap();
        if groups.is_empty() {
            out.insert((email.clone(), status.clone(), String::new()));
        }
        for g in groups {
            out.insert((
                email.clone(),
                status.clone(),
                g["node"]["name"].as_str().unwrap().to_owned(),
            ));
        }
    }
    out
}

#[tokio::test]
async fn a_snapshot_exports_as_csv_and_json_that_match_graphql() {
    let app = spawn_app_with(
        vec![OrgSpec::new("acme", 30, 3)],
        &[
            ("acme-read", Role::Read, &["acme"]),
            ("acme-auditor", Role::Auditor, &["acme"]),
        ],
        LimitsConfig::default(),
    )
    .await;
    app.warm().await;
    let auditor = app.keys["acme-auditor"].clone();
    let taken = app
        .query_as(
            &auditor,
            "mutation { takeSnapshot(input: {}) { outcome snapshot { id hash userCount groupCount } } }",
            json!({}),
        )
        .await;
    let snapshot = taken["data"]["takeSnapshot"]["snapshot"].clone();
    assert!(snapshot["id"].is_string(), "{taken:#}");
    let id = snapshot["id"].as_str().unwrap();
    let expected = memberships_in_graphql(&app).await;

    let answer = get(&app, Some(&auditor), &format!("/export/snapshots/{id}")).await;
    assert_eq!(answer.status(), 200);
    assert_eq!(answer.headers()["content-type"], "text/csv; charset=utf-8");
    assert_eq!(
        answer.headers()["x-snapshot-hash"],
        snapshot["hash"].as_str().unwrap()
    );
    let text = answer.text().await.unwrap();
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    assert_eq!(
        reader.headers().unwrap().iter().collect::<Vec<_>>(),
        [
            "user_id",
            "email",
            "given_name",
            "family_name",
            "status",
            "group_id",
            "group_name"
        ]
    );
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    let got: BTreeSet<(String, String, String)> = rows
        .iter()
        .map(|r| (r[1].to_owned(), r[4].to_owned(), r[6].to_owned()))
        .collect();
    assert_eq!(got.len(), rows.len(), "one row per user × group");
    assert_eq!(got, expected);
    let users: BTreeSet<&str> = rows.iter().map(|r| &r[0]).collect();
    assert_eq!(users.len() as i64, snapshot["userCount"].as_i64().unwrap());

    let answer = get(
        &app,
        Some(&app.key),
        &format!("/export/snapshots/{id}?format=json"),
    )
    .await;
    assert_eq!(answer.status(), 200);
    let doc: Value = answer.json().await.unwrap();
    assert_eq!(doc["hash"], snapshot["hash"]);
    assert_eq!(doc["userCount"], snapshot["userCount"]);
    assert_eq!(doc["trigger"], "MANUAL");
    assert_eq!(doc["takenBy"], "acme-auditor");
    assert_eq!(
        doc["groups"].as_array().unwrap().len() as i64,
        snapshot["groupCount"].as_i64().unwrap()
    );
    let mut from_json = BTreeSet::new();
    for u in doc["users"].as_array().unwrap() {
        let (email, status) = (
            u["email"].as_str().unwrap().to_owned(),
            u["status"].as_str().unwrap().to_owned(),
        );
        let groups = u["groups"].as_array().unwrap();
        if groups.is_empty() {
            from_json.insert((email.clone(), status.clone(), String::new()));
        }
        for g in groups {
            from_json.insert((
                email.clone(),
                status.clone(),
                g["name"].as_str().unwrap().to_owned(),
            ));
        }
    }
    assert_eq!(from_json, expected);

    // Refusals, each with a code.
    let code = |body: Value| {
        body["errors"][0]["extensions"]["code"]
            .as_str()
            .unwrap_or("")
            .to_owned()
    };
    let read = app.keys["acme-read"].clone();
    let answer = get(&app, Some(&read), &format!("/export/snapshots/{id}")).await;
    assert_eq!(answer.status(), 403);
    assert_eq!(code(answer.json().await.unwrap()), "FORBIDDEN");
    let answer = get(&app, None, &format!("/export/snapshots/{id}")).await;
    assert_eq!(answer.status(), 401);
    let answer = get(&app, Some(&auditor), "/export/snapshots/not-an-id").await;
    assert_eq!(answer.status(), 404);
    assert_eq!(code(answer.json().await.unwrap()), "NOT_FOUND");
    let answer = get(
        &app,
        Some(&auditor),
        &format!("/export/snapshots/{id}?format=xml"),
    )
    .await;
    assert_eq!(answer.status(), 400);
    assert_eq!(code(answer.json().await.unwrap()), "BAD_REQUEST");
}
