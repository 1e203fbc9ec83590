//! The rough edges of GraphQL over HTTP: answers without `data` when nothing ran, a body without
//! `query`, readable syntax errors, `Accept` with qualities, coded bodies for every HTTP error,
//! and a GraphiQL page that is never cached.

use reqwest::StatusCode;
use serde_json::{Value, json};

use scimgate::config::LimitsConfig;

use crate::support::{OrgSpec, TestApp, spawn_app_with};

async fn post(app: &TestApp, accept: Option<&str>, body: Value) -> (StatusCode, String, Value) {
    let mut request = app
        .http
        .post(format!("{}/graphql", app.url))
        .bearer_auth(&app.key)
        .json(&body);
    if let Some(accept) = accept {
        request = request.header("accept", accept);
    }
    let r = request.send().await.unwrap();
    let status = r.status();
    let media = r.headers()["content-type"].to_str().unwrap().to_owned();
    (status, media, r.json().await.unwrap())
}

const GQL: &str = "application/graphql-response+json";

#[tokio::test]
async fn a_request_that_never_ran_has_no_data_key() {
    let app = TestApp::one(5, 1).await;
    for accept in [Some(GQL), None] {
        for (query, code) in [
            ("{", "GRAPHQL_PARSE_FAILED"),
            ("{ orgs { nope } }", "GRAPHQL_VALIDATION_FAILED"),
            (
                "{ org { users(first: 4294967296) { totalCount } } }",
                "GRAPHQL_VALIDATION_FAILED",
            ),
        ] {
            let (status, _, body) = post(&app, accept, json!({ "query": query })).await;
            let expected = if accept.is_some() { 400 } else { 200 };
            assert_eq!(status.as_u16(), expected, "{query} as {accept:?}");
            assert!(body.get("data").is_none(), "{query}: {body}");
            assert_eq!(
                body["errors"][0]["extensions"]["code"], code,
                "{query}: {body}"
            );
        }
    }
    // A request that ran keeps `data`, even when a field failed.
    let (_, _, body) = post(&app, Some(GQL), json!({ "query": "{ orgs { slug } }" })).await;
    assert_eq!(body, json!({ "data": { "orgs": [{ "slug": "acme" }] } }));
}

#[tokio::test]
async fn syntax_errors_read_like_graphql_errors() {
    let app = TestApp::one(5, 1).await;
    let (_, _, body) = post(&app, None, json!({ "query": "{" })).await;
    let error = &body["errors"][0];
    assert_eq!(
        error["message"],
        "Syntax Error: expected a selection set (a field or a fragment spread) at 1:2"
    );
    assert_eq!(error["locations"], json!([{ "line": 1, "column": 2 }]));
    let (_, _, body) = post(
        &app,
        None,
        json!({ "query": "query { org(id: ) { name } }" }),
    )
    .await;
    assert_eq!(
        body["errors"][0]["message"],
        "Syntax Error: expected a value at 1:17"
    );
}

#[tokio::test]
async fn a_body_or_query_string_without_query_is_a_bad_request() {
    let app = TestApp::one(5, 1).await;
    for body in [
        json!({ "qeury": "{ orgs { slug } }" }),
        json!({ "variables": {} }),
    ] {
        let (status, _, answer) = post(&app, None, body.clone()).await;
        assert_eq!(status, 400, "{body}");
        assert_eq!(
            answer["errors"][0]["extensions"]["code"], "BAD_REQUEST",
            "{body}"
        );
        assert!(answer.get("data").is_none());
    }
    let (_, _, answer) = post(&app, None, json!({ "qeury": "{ orgs { slug } }" })).await;
    assert!(
        answer["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("no `query`")
    );
    let r = app
        .http
        .get(format!("{}/graphql?qeury=%7Borgs%7Bslug%7D%7D", app.url))
        .bearer_auth(&app.key)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(
        r.json::<Value>().await.unwrap()["errors"][0]["extensions"]["code"],
        "BAD_REQUEST"
    );
}

#[tokio::test]
async fn accept_qualities_choose_the_media_type() {
    let app = TestApp::one(5, 1).await;
    let q = json!({ "query": "{ orgs { slug } }" });
    for (accept, media) in [
        (
            "application/graphql-response+json;q=0, application/json",
            "application/json",
        ),
        (
            "application/graphql-response+json; q=0.0",
            "application/json",
        ),
        (
            "application/json;q=0.5, application/graphql-response+json",
            GQL,
        ),
        (
            "application/json, application/graphql-response+json;q=0.9",
            "application/json",
        ),
        ("application/graphql-response+json, application/json", GQL),
        ("application/graphql-response+json;charset=utf-8", GQL),
        ("*/*", "application/json"),
        ("", "application/json"),
    ] {
        let (status, got, body) = post(&app, Some(accept), q.clone()).await;
        assert_eq!(status, 200, "{accept}");
        assert_eq!(
            body,
            json!({ "data": { "orgs": [{ "slug": "acme" }] } }),
            "{accept}"
        );
        assert_eq!(got, media, "Accept: {accept}");
    }
}

#[tokio::test]
async fn every_http_error_has_a_coded_json_body() {
    let limits = LimitsConfig {
        max_body_bytes: 2_000,
        ..LimitsConfig::default()
    };
    let app = spawn_app_with(vec![OrgSpec::new("acme", 5, 1)], &[], limits).await;
    let url = format!("{}/graphql", app.url);
    let long = format!("{url}?query={}", "x".repeat(5_000));
    let cases = vec![
        (
            "an unknown path",
            app.http.get(format!("{}/nope", app.url)),
            404,
            "NOT_FOUND",
        ),
        (
            "PUT on /graphql",
            app.http.put(&url).bearer_auth(&app.key).body("{}"),
            405,
            "METHOD_NOT_ALLOWED",
        ),
        (
            "DELETE on /healthz",
            app.http.delete(format!("{}/healthz", app.url)),
            405,
            "METHOD_NOT_ALLOWED",
        ),
        (
            "a body over the limit",
            app.http
                .post(&url)
                .bearer_auth(&app.key)
                .header("content-type", "application/json")
                .body(vec![b' '; 5_000]),
            413,
            "REQUEST_TOO_LARGE",
        ),
        (
            "a query string over the limit",
            app.http.get(&long).bearer_auth(&app.key),
            414,
            "REQUEST_TOO_LARGE",
        ),
        (
            "a form body",
            app.http
                .post(&url)
                .bearer_auth(&app.key)
                .header("content-type", "application/x-www-form-urlencoded")
                .body("query=x"),
            415,
            "BAD_REQUEST",
        ),
    ];
    for (what, request, status, code) in cases {
        let r = request.send().await.unwrap();
        assert_eq!(r.status().as_u16(), status, "{what}");
        assert!(
            r.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("application/"),
            "{what}: JSON"
        );
        if status == 405 {
            let allow = r.headers()["allow"].to_str().unwrap().replace(' ', "");
            let expected = if what.contains("healthz") {
                "GET,HEAD"
            } else {
                "GET,HEAD,POST"
            };
            assert_eq!(allow, expected, "{what}: Allow");
        }
        let body: Value = r.json().await.unwrap_or_else(|e| panic!("{what}: {e}"));
        assert_eq!(
            body["errors"][0]["extensions"]["code"], code,
            "{what}: {body}"
        );
        assert!(!body["errors"][0]["message"].as_str().unwrap().is_empty());
    }
}

#[tokio::test]
async fn the_graphiql_page_is_never_cached() {
    let app = TestApp::one(5, 1).await;
    let page = app
        .http
        .get(format!("{}/graphql", app.url))
        .header("accept", "text/html")
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    assert_eq!(page.headers()["cache-control"], "no-store");
}
