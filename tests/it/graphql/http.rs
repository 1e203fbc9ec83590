//! The HTTP surface: GraphQL over HTTP (POST and GET, both media types), GraphiQL with local
//! assets only, health and readiness.

use serde_json::{Value, json};

use crate::support::TestApp;

#[tokio::test]
async fn graphiql_is_served_from_the_binary_with_local_assets_only() {
    let app = TestApp::one(5, 1).await;
    let page = app
        .http
        .get(format!("{}/graphql", app.url))
        .header("accept", "text/html")
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    assert!(
        page.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let html = page.text().await.unwrap();
    assert!(html.contains("scimgate · GraphiQL"));
    assert!(
        !html.contains("http://") && !html.contains("https://"),
        "the page must not reference the network"
    );
    let assets: Vec<&str> = html
        .split(['"', '\''])
        .filter(|s| s.starts_with("/graphiql/"))
        .collect();
    assert_eq!(assets.len(), 4, "{assets:?}");
    for asset in assets {
        let r = app
            .http
            .get(format!("{}{asset}", app.url))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{asset}");
        assert!(
            r.bytes().await.unwrap().len() > 5_000,
            "{asset} is the real bundle"
        );
    }
}

#[tokio::test]
async fn get_and_post_follow_graphql_over_http() {
    let app = TestApp::one(5, 1).await;
    let url = format!("{}/graphql", app.url);
    // GET with a query string.
    let r = app
        .http
        .get(&url)
        .bearer_auth(&app.key)
        .query(&[("query", "{ orgs { slug } }")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.json::<Value>().await.unwrap(),
        json!({ "data": { "orgs": [{ "slug": "acme" }] } })
    );

    // The newer media type when asked for; a request that fails validation is then a 400.
    let r = app
        .http
        .post(&url)
        .bearer_auth(&app.key)
        .header("accept", "application/graphql-response+json")
        .json(&json!({ "query": "{ orgs { nope } }" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(
        r.headers()["content-type"],
        "application/graphql-response+json"
    );
    let body: Value = r.json().await.unwrap();
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("nope"),
        "{body}"
    );
    // With application/json the same is a 200 with errors in the body.
    let r = app
        .http
        .post(&url)
        .bearer_auth(&app.key)
        .json(&json!({ "query": "{ orgs { nope } }" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.json::<Value>().await.unwrap()["errors"].is_array());

    // Not JSON at all, or not sent as JSON.
    let r = app
        .http
        .post(&url)
        .bearer_auth(&app.key)
        .header("content-type", "application/json")
        .body("{ not json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(
        r.json::<Value>().await.unwrap()["errors"][0]["extensions"]["code"],
        "BAD_REQUEST"
    );
    let r = app
        .http
        .post(&url)
        .bearer_auth(&app.key)
        .header("content-type", "text/plain")
        .body("{ orgs { slug } }")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 415);
    assert_eq!(
        r.json::<Value>().await.unwrap()["errors"][0]["extensions"]["code"],
        "BAD_REQUEST"
    );
}

#[tokio::test]
async fn readiness_waits_for_the_first_refresh_and_health_does_not() {
    let app = TestApp::one(5, 1).await;
    let health = app
        .http
        .get(format!("{}/healthz", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    let ready = app
        .http
        .get(format!("{}/readyz", app.url))
        .bearer_auth(&app.key)
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), 503);
    assert_eq!(
        ready.json::<Value>().await.unwrap()["orgs"][0]["mirrorLoaded"],
        false
    );
    app.warm().await;
    let ready = app
        .http
        .get(format!("{}/readyz", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), 200);
    assert_eq!(ready.json::<Value>().await.unwrap()["status"], "ready");
}

#[tokio::test]
async fn upstream_trouble_reaches_clients_as_coded_errors() {
    use scimgate::emulator::Faults;
    let app = crate::support::spawn_app(vec![
        crate::support::OrgSpec::new("acme", 20, 2),
        crate::support::OrgSpec {
            scim_key: Some("scim-wrong-key".into()),
            ..crate::support::OrgSpec::new("globex", 5, 1)
        },
    ])
    .await;
    // A Retry-After longer than the client waits: RATE_LIMITED with retryAfter, and the
    // organization stays paused for everyone.
    app.emulator().set_faults(Faults {
        force_429_secs: 300.0,
        ..Faults::default()
    });
    let body = app
        .query(
            r#"{ org(id: "acme") { users(orderBy: { field: EMAIL }) { totalCount } } }"#,
            json!({}),
        )
        .await;
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "RATE_LIMITED",
        "{body}"
    );
    assert_eq!(body["errors"][0]["extensions"]["retryAfter"], 300);
    // The request id is random and may contain the digits; look at everything else.
    let mut shown = body.clone();
    if let Some(ext) = shown["errors"][0]["extensions"].as_object_mut() {
        ext.remove("requestId");
    }
    assert!(
        !shown.to_string().contains("429"),
        "no upstream detail: {body}"
    );
    let data = app
        .data(
            r#"{ org(id: "acme") { budget { pausedUntil } } }"#,
            json!({}),
        )
        .await;
    assert!(data["org"]["budget"]["pausedUntil"].is_string(), "{data}");
    let calls = app.upstream_calls();
    assert_eq!(
        app.emulator().stats().by_status.get("429").copied(),
        Some(calls),
        "one try, then it waits"
    );

    // A rejected SCIM key: CREDENTIAL_REVOKED, and no further calls.
    let body = app
        .query(
            r#"{ org(id: "globex") { users(first: 5) { totalCount } } }"#,
            json!({}),
        )
        .await;
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "CREDENTIAL_REVOKED",
        "{body}"
    );
    let rejected = app.emulators[1].stats().total;
    assert_eq!(rejected, 1, "one call found the key rejected");
    let again = app
        .query(
            r#"{ org(id: "globex") { users(first: 5) { totalCount } } }"#,
            json!({}),
        )
        .await;
    assert_eq!(
        again["errors"][0]["extensions"]["code"], "CREDENTIAL_REVOKED",
        "{again}"
    );
    assert_eq!(
        app.emulators[1].stats().total,
        rejected,
        "no call follows a rejected key"
    );
    let ready = app
        .http
        .get(format!("{}/readyz", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), 503);
}
