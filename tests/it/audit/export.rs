//! `GET /export/audit`: CSV and JSON Lines, streamed past one page of rows, within the key's
//! role and organizations; parameters checked by name.

use scimgate::auth::Role;
use scimgate::config::LimitsConfig;
use scimgate::store::{EXPORT_CHUNK, EXPORT_COLUMNS, Target};
use serde_json::{Value, json};

use super::record;
use crate::support::{OrgSpec, TestApp, spawn_app_with};

async fn app() -> TestApp {
    spawn_app_with(
        vec![OrgSpec::new("acme", 5, 1), OrgSpec::new("globex", 5, 1)],
        &[
            ("acme-auditor", Role::Auditor, &["acme"]),
            ("reader", Role::Read, &["*"]),
        ],
        LimitsConfig::default(),
    )
    .await
}

async fn get(app: &TestApp, key: Option<&str>, query: &str) -> reqwest::Response {
    let mut request = app.http.get(format!("{}/export/audit?{query}", app.url));
    if let Some(key) = key {
        request = request.bearer_auth(key);
    }
    request.send().await.expect("gateway answers")
}

fn header<'a>(r: &'a reqwest::Response, name: &str) -> &'a str {
    r.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

#[tokio::test]
async fn csv_export_has_the_header_and_one_row_per_audit_row_past_a_page() {
    let app = app().await;
    let store = &app.gateway.store;
    let rows = EXPORT_CHUNK + 5;
    for i in 0..rows {
        let mut r = record("acme", &format!("a{i}"), "ci", 0);
        r.targets = vec![Target {
            kind: "User".into(),
            id: format!("u{i}@example.com"),
            email: Some(format!("u{i}@example.com")),
        }];
        store.append_audit(&r).await.unwrap();
        if i % 400 == 0 {
            store
                .append_audit(&record("globex", "g", "ci", 0))
                .await
                .unwrap();
        }
    }
    let response = get(&app, Some(&app.keys["acme-auditor"]), "org=acme").await;
    assert_eq!(response.status(), 200);
    assert_eq!(header(&response, "content-type"), "text/csv; charset=utf-8");
    assert_eq!(
        header(&response, "content-disposition"),
        "attachment; filename=\"audit-acme.csv\""
    );
    let body = response.bytes().await.unwrap();
    let mut reader = csv::Reader::from_reader(body.as_ref());
    let names: Vec<String> = reader.headers().unwrap().iter().map(String::from).collect();
    assert_eq!(names, EXPORT_COLUMNS);
    let records: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(records.len() as i64, rows, "every acme row, no globex row");
    let seqs: Vec<i64> = records.iter().map(|r| r[0].parse().unwrap()).collect();
    assert!(
        seqs.windows(2).all(|w| w[0] < w[1]),
        "oldest first, no repeats"
    );
    assert!(records.iter().all(|r| &r[6] == "acme"));
    assert_eq!(&records[0][7], "a0");
    assert_eq!(&records[records.len() - 1][7], format!("a{}", rows - 1));
    let targets: Value = serde_json::from_str(&records[3][8]).unwrap();
    assert_eq!(targets[0]["email"], "u3@example.com");
    let calls: Value = serde_json::from_str(&records[3][12]).unwrap();
    assert_eq!(calls, json!([]));
}

#[tokio::test]
async fn jsonl_export_is_one_object_a_line_within_the_time_bounds() {
    let app = app().await;
    let store = &app.gateway.store;
    // A row from long ago, outside `since=90d`.
    store
        .append_audit(&record("acme", "old", "ci", 1_000))
        .await
        .unwrap();
    for i in 0..4 {
        store
            .append_audit(&record("acme", &format!("a{i}"), "ci", 0))
            .await
            .unwrap();
    }
    let response = get(&app, Some(&app.key), "org=acme&format=jsonl&since=90d").await;
    assert_eq!(response.status(), 200);
    assert_eq!(header(&response, "content-type"), "application/x-ndjson");
    assert_eq!(
        header(&response, "content-disposition"),
        "attachment; filename=\"audit-acme.jsonl\""
    );
    let text = response.text().await.unwrap();
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    let actions: Vec<&str> = lines
        .iter()
        .map(|l| l["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["a0", "a1", "a2", "a3"]);
    for line in &lines {
        assert_eq!(line.as_object().unwrap().len(), EXPORT_COLUMNS.len());
        assert_eq!(line["org"], "acme");
        assert!(line["targets"].is_array() && line["calls"].is_array());
    }
    let all = get(
        &app,
        Some(&app.key),
        "org=acme&format=jsonl&until=2000-01-01T00:00:00Z",
    )
    .await;
    let text = all.text().await.unwrap();
    assert_eq!(text.lines().count(), 1, "{text}");
    assert!(text.contains("\"action\":\"old\""), "{text}");
}

#[tokio::test]
async fn export_refuses_bad_parameters_other_roles_and_unreachable_organizations() {
    let app = app().await;
    let auditor = app.keys["acme-auditor"].clone();
    let cases: Vec<(Option<&str>, &str, u16, &str, &str)> = vec![
        (
            Some(&auditor),
            "org=acme&since=last-week",
            400,
            "BAD_REQUEST",
            "`since`",
        ),
        (
            Some(&auditor),
            "org=acme&until=soon",
            400,
            "BAD_REQUEST",
            "`until`",
        ),
        (
            Some(&auditor),
            "org=acme&format=xml",
            400,
            "BAD_REQUEST",
            "`format`",
        ),
        (Some(&auditor), "since=1d", 400, "BAD_REQUEST", "`org`"),
        (
            Some(&auditor),
            "org=acme&sinse=1d",
            400,
            "BAD_REQUEST",
            "`sinse`",
        ),
        (Some(&auditor), "org=globex", 404, "NOT_FOUND", "globex"),
        (Some(&auditor), "org=initech", 404, "NOT_FOUND", "initech"),
        (
            Some(&app.keys["reader"]),
            "org=acme",
            403,
            "FORBIDDEN",
            "auditor or admin",
        ),
        (None, "org=acme", 401, "UNAUTHENTICATED", "API key"),
    ];
    for (key, query, status, code, named) in cases {
        let response = get(&app, key, query).await;
        assert_eq!(response.status(), status, "{query}");
        assert_eq!(header(&response, "content-type"), "application/json");
        let body: Value = response.json().await.unwrap();
        assert_eq!(
            body["errors"][0]["extensions"]["code"], code,
            "{query}: {body}"
        );
        let message = body["errors"][0]["message"].as_str().unwrap();
        assert!(message.contains(named), "{query}: {message}");
        assert!(body["errors"][0]["extensions"]["requestId"].is_string());
    }
}
