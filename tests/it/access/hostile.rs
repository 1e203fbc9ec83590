//! Hostile input gets a clean, coded error and the process stays up.

use serde_json::{Value, json};

use crate::support::{TestApp, nested_query};

#[tokio::test]
async fn hostile_requests_get_coded_errors_and_the_gateway_stays_up() {
    let app = TestApp::one(20, 2).await;
    let url = format!("{}/graphql", app.url);
    let post_raw = |content_type: &'static str, body: String| {
        app.http
            .post(&url)
            .bearer_auth(&app.key)
            .header("content-type", content_type)
            .body(body)
    };
    let aliases: String = (0..10_000)
        .map(|i| format!("a{i}: orgs {{ slug }} "))
        .collect();
    let cases: Vec<(&str, reqwest::RequestBuilder, u16, &str)> = vec![
        ("1 MB of query text", post_raw("application/json", json!({ "query": format!("{{ orgs {{ slug }} }} #{}", "x".repeat(1 << 20)) }).to_string()), 413, "REQUEST_TOO_LARGE"),
        ("10,000 aliases", post_raw("application/json", json!({ "query": format!("{{ {aliases} }}") }).to_string()), 200, "TOKEN_LIMIT"),
        ("depth 50", post_raw("application/json", json!({ "query": nested_query(50) }).to_string()), 200, "DEPTH_LIMIT"),
        ("an unknown field", post_raw("application/json", json!({ "query": "{ org { passwords } }" }).to_string()), 200, "GRAPHQL_VALIDATION_FAILED"),
        ("invalid JSON", post_raw("application/json", "{\"query\": \"{ orgs { slug } }\"".into()), 400, "BAD_REQUEST"),
        ("the wrong content type", post_raw("application/x-www-form-urlencoded", "query=%7B%20orgs%20%7D".into()), 415, "BAD_REQUEST"),
        ("variables of the wrong types", post_raw("application/json", json!({ "query": "query($n: Int) { org { users(first: $n) { totalCount } } }", "variables": { "n": "ten" } }).to_string()), 200, "GRAPHQL_VALIDATION_FAILED"),
        ("a forged cursor", post_raw("application/json", json!({ "query": "{ org { users(after: \"eyJ2IjoxLCJvIjoiaGFjayJ9\") { totalCount } } }" }).to_string()), 200, "BAD_USER_INPUT"),
        ("a forged global id", post_raw("application/json", json!({ "query": "{ node(id: \"WzEsIlVzZXIiXQ\") { id } }" }).to_string()), 200, "BAD_USER_INPUT"),
        ("a variables object that is a string", post_raw("application/json", "{\"query\": \"{ orgs { slug } }\", \"variables\": \"x\"}".into()), 400, "BAD_REQUEST"),
    ];
    for (what, request, status, code) in cases {
        let response = request
            .send()
            .await
            .unwrap_or_else(|e| panic!("{what}: {e}"));
        assert_eq!(response.status().as_u16(), status, "{what}");
        let id = response
            .headers()
            .get("x-request-id")
            .map(|v| v.to_str().unwrap().to_owned());
        let body: Value = response
            .json()
            .await
            .unwrap_or_else(|e| panic!("{what}: not JSON: {e}"));
        let error = &body["errors"][0];
        assert_eq!(error["extensions"]["code"], code, "{what}: {body}");
        assert!(
            !error["message"].as_str().unwrap_or("").is_empty(),
            "{what}: a message"
        );
        assert_eq!(
            error["extensions"]["requestId"].as_str(),
            id.as_deref(),
            "{what}: the request id in the body and the header"
        );
        let text = body.to_string();
        assert!(
            !text.contains("panicked") && !text.contains("src/") && !text.contains("reqwest"),
            "{what}: internals leaked: {text}"
        );
    }
    let health = app
        .http
        .get(format!("{}/healthz", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200, "the process is still up");
    assert!(app.data("{ orgs { slug } }", json!({})).await["orgs"].is_array());
}

#[tokio::test]
async fn a_client_request_id_is_kept_and_cors_is_off_unless_configured() {
    let app = TestApp::one(5, 1).await;
    let response = app
        .http
        .post(format!("{}/graphql", app.url))
        .bearer_auth(&app.key)
        .header("x-request-id", "trace-4711")
        .header("origin", "https://dash.example.com")
        .json(&json!({ "query": "{ org { users(first: 500) { totalCount } } }" }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["x-request-id"], "trace-4711");
    assert!(
        response
            .headers()
            .get("access-control-allow-origin")
            .is_none(),
        "no CORS by default"
    );
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["errors"][0]["extensions"]["requestId"], "trace-4711");
}

#[tokio::test]
async fn cors_admits_only_the_configured_origins() {
    let app = TestApp::one(5, 1).await;
    let mut state = app.gateway.app_state(None);
    state.cors_origins = vec!["https://dash.example.com".into()];
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/graphql", listener.local_addr().unwrap());
    tokio::spawn(scimgate::http::serve(
        listener,
        state,
        std::future::pending(),
    ));
    for (origin, allowed) in [
        ("https://dash.example.com", true),
        ("https://evil.example.net", false),
    ] {
        let preflight = app
            .http
            .request(reqwest::Method::OPTIONS, &url)
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header(
                "access-control-request-headers",
                "authorization, content-type",
            )
            .send()
            .await
            .unwrap();
        let allow = preflight
            .headers()
            .get("access-control-allow-origin")
            .map(|v| v.to_str().unwrap().to_owned());
        assert_eq!(allow.as_deref(), allowed.then_some(origin), "{origin}");
        let response = app
            .http
            .post(&url)
            .bearer_auth(&app.key)
            .header("origin", origin)
            .json(&json!({ "query": "{ orgs { slug } }" }))
            .send()
            .await
            .unwrap();
        assert_eq!(
            response
                .headers()
                .get("access-control-allow-origin")
                .is_some(),
            allowed,
            "{origin}"
        );
    }
}
