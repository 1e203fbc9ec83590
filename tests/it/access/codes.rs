//! One real error per `extensions.code`, pinned as the JSON a client receives (the request id
//! aside): clients branch on these, so a change of name, shape or wording shows up here.
//! `INTERNAL` cannot be caused from outside; `src/http/mask.rs` pins it.

use std::time::Duration;

use scimgate::auth::Role;
use scimgate::config::LimitsConfig;
use scimgate::emulator::Faults;
use scimgate::graphql::errors::Code;
use serde_json::{Value, json};

use crate::support::{OrgSpec, TestApp, spawn_app_with};

/// The body without its request ids (random), and the HTTP status.
async fn answer(request: reqwest::RequestBuilder) -> (u16, Value) {
    let r = request.send().await.unwrap();
    let status = r.status().as_u16();
    let mut body: Value = r.json().await.unwrap();
    for error in body["errors"].as_array_mut().into_iter().flatten() {
        if let Some(ext) = error["extensions"].as_object_mut() {
            assert!(
                ext.remove("requestId").is_some(),
                "every error has its request id"
            );
        }
    }
    (status, body)
}

fn gql(app: &TestApp, key: &str, body: Value) -> reqwest::RequestBuilder {
    app.http
        .post(format!("{}/graphql", app.url))
        .bearer_auth(key)
        .json(&body)
}

#[tokio::test]
async fn every_code_is_pinned_by_one_real_error() {
    let limits = LimitsConfig {
        max_depth: 5,
        max_aliases: 2,
        max_tokens: 40,
        max_complexity: 500,
        max_body_bytes: 1_000,
        batching: true,
        max_batch: 1,
        introspection: false,
        max_subscriptions: 1,
        ..LimitsConfig::default()
    };
    let slow = OrgSpec {
        budget: scimgate::budget::BudgetConfig {
            background_share: 1.0,
            ..scimgate::budget::BudgetConfig::new(20, Duration::from_secs(2))
        },
        ..OrgSpec::new("slow", 5, 1)
    };
    let revoked = OrgSpec {
        scim_key: Some("scim-wrong-key".into()),
        ..OrgSpec::new("revoked", 5, 1)
    };
    let app = spawn_app_with(
        vec![
            OrgSpec::new("acme", 5, 1),
            slow,
            revoked,
            OrgSpec::new("down", 5, 1),
        ],
        &[("reader", Role::Read, &["*"])],
        limits,
    )
    .await;
    app.emulators[3].set_faults(Faults {
        error_rate: 1.0,
        ..Faults::default()
    });
    app.emulators[1].set_faults(Faults {
        force_429_secs: 300.0,
        ..Faults::default()
    });
    let admin = app.key.clone();
    let url = format!("{}/graphql", app.url);
    let q = |query: &str| json!({ "query": query });
    let cases: Vec<(Code, reqwest::RequestBuilder)> = vec![
        (
            Code::Unauthenticated,
            app.http.post(&url).json(&q("{ orgs { slug } }")),
        ),
        (
            Code::Forbidden,
            gql(
                &app,
                &app.keys["reader"],
                q(r#"mutation { refreshDirectory(input: { org: "acme" }) { outcome } }"#),
            ),
        ),
        (
            Code::BadRequest,
            app.http
                .post(&url)
                .bearer_auth(&admin)
                .header("content-type", "application/json")
                .body("{ not json"),
        ),
        (
            Code::RequestTooLarge,
            app.http
                .post(&url)
                .bearer_auth(&admin)
                .header("content-type", "application/json")
                .body(vec![b' '; 2_000]),
        ),
        (Code::NotFound, app.http.get(format!("{}/nope", app.url))),
        (
            Code::MethodNotAllowed,
            app.http.put(&url).bearer_auth(&admin),
        ),
        (
            Code::BatchLimit,
            gql(
                &app,
                &admin,
                json!([q("{ orgs { slug } }"), q("{ orgs { slug } }")]),
            ),
        ),
        (
            Code::TokenLimit,
            gql(
                &app,
                &admin,
                q(&format!("{{ orgs {{ {} }} }}", vec!["slug"; 40].join(" "))),
            ),
        ),
        (
            Code::DepthLimit,
            gql(
                &app,
                &admin,
                q("{ org { users { edges { node { org { name } } } } } }"),
            ),
        ),
        (
            Code::AliasLimit,
            gql(
                &app,
                &admin,
                q("{ a: orgs { slug } b: orgs { slug } c: orgs { slug } }"),
            ),
        ),
        (
            Code::ComplexityLimit,
            gql(
                &app,
                &admin,
                q(
                    r#"{ org(id: "acme") { users(first: 100) { edges { node { email givenName familyName } } } } }"#,
                ),
            ),
        ),
        (
            Code::IntrospectionDisabled,
            gql(&app, &admin, q("{ __schema { queryType { name } } }")),
        ),
        (
            Code::GraphqlParseFailed,
            gql(&app, &admin, q("{ orgs { slug }")),
        ),
        (
            Code::GraphqlValidationFailed,
            gql(&app, &admin, q("{ orgs { slugg } }")),
        ),
        (
            Code::BadUserInput,
            gql(
                &app,
                &admin,
                q(r#"{ org(id: "acme") { users(first: 101) { totalCount } } }"#),
            ),
        ),
        (
            Code::RateLimited,
            gql(
                &app,
                &admin,
                q(r#"{ org(id: "slow") { users { totalCount } } }"#),
            ),
        ),
        (
            Code::UpstreamUnavailable,
            gql(
                &app,
                &admin,
                q(r#"{ org(id: "down") { users { totalCount } } }"#),
            ),
        ),
        (
            Code::CredentialRevoked,
            gql(
                &app,
                &admin,
                q(r#"{ org(id: "revoked") { users { totalCount } } }"#),
            ),
        ),
    ];
    let mut got = serde_json::Map::new();
    for (code, request) in cases {
        let (status, body) = answer(request).await;
        assert_eq!(
            body["errors"][0]["extensions"]["code"],
            code.as_str(),
            "{body}"
        );
        got.insert(
            code.as_str().into(),
            json!({ "status": status, "body": body }),
        );
    }
    // One stream is the limit here: a second is refused before it starts.
    let stream = |app: &TestApp| {
        gql(
            app,
            &app.key,
            q(r#"subscription { directoryEvents(org: "acme") { cursor } }"#),
        )
        .header("accept", "text/event-stream")
    };
    let open = stream(&app).send().await.unwrap();
    assert_eq!(open.status(), 200);
    let (status, body) = answer(stream(&app)).await;
    assert_eq!(
        body["errors"][0]["extensions"]["code"],
        Code::SubscriptionLimit.as_str(),
        "{body}"
    );
    got.insert(
        Code::SubscriptionLimit.as_str().into(),
        json!({ "status": status, "body": body }),
    );
    // Over a WebSocket the refusal is the operation's one result.
    let mut ws = crate::subscriptions::client::Ws::connect(&app.url, &app.key)
        .await
        .unwrap();
    ws.subscribe(
        "1",
        r#"subscription { directoryEvents(org: "acme") { cursor } }"#,
        json!({}),
    )
    .await;
    let refused = ws.results(1).await;
    assert_eq!(
        refused[0]["errors"][0]["extensions"]["code"],
        Code::SubscriptionLimit.as_str()
    );
    drop(open);
    // Batching is off by default: an array is refused whole.
    let plain = TestApp::one(5, 1).await;
    let (status, body) = answer(gql(&plain, &plain.key, json!([q("{ orgs { slug } }")]))).await;
    got.insert(
        Code::BatchingDisabled.as_str().into(),
        json!({ "status": status, "body": body }),
    );
    // A resume cursor from before events that retention removed.
    let org = plain.gateway.dirs.all()[0].org_id().to_owned();
    for n in 0..2 {
        let event = scimgate::store::NewEvent {
            org: org.to_string(),
            kind: "grant.granted".into(),
            object_kind: "grant".into(),
            object_id: format!("g{n}"),
            actor: "system".into(),
            data: json!({}),
            at_ms: 1_000 + n,
        };
        plain.gateway.store.append_event(&event).await.unwrap();
    }
    let events = "query($after: String) { org { events(first: 1, after: $after) { pageInfo { endCursor } } } }";
    let (_, first) = answer(gql(&plain, &plain.key, json!({ "query": events }))).await;
    let cursor = first["data"]["org"]["events"]["pageInfo"]["endCursor"].clone();
    plain.gateway.store.prune_events(5_000).await.unwrap();
    let (status, body) = answer(gql(
        &plain,
        &plain.key,
        json!({ "query": events, "variables": { "after": cursor } }),
    ))
    .await;
    assert_eq!(
        body["errors"][0]["extensions"]["code"],
        Code::EventsExpired.as_str(),
        "{body}"
    );
    got.insert(
        Code::EventsExpired.as_str().into(),
        json!({ "status": status, "body": body }),
    );
    // The store taken away: the audit log cannot be read.
    plain.gateway.store.close().await;
    let (status, body) = answer(gql(
        &plain,
        &plain.key,
        q("{ org { auditLog(first: 1) { edges { node { seq } } } } }"),
    ))
    .await;
    assert_eq!(
        body["errors"][0]["extensions"]["code"],
        Code::StoreUnavailable.as_str(),
        "{body}"
    );
    got.insert(
        Code::StoreUnavailable.as_str().into(),
        json!({ "status": status, "body": body }),
    );

    let mut pinned: Vec<&str> = got.keys().map(String::as_str).collect();
    pinned.push(Code::Internal.as_str());
    pinned.sort_unstable();
    let mut all: Vec<&str> = Code::ALL.iter().map(|c| c.as_str()).collect();
    all.sort_unstable();
    assert_eq!(pinned, all, "one pinned error per code");

    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/it/access/codes.json");
    let got = Value::Object(got);
    if std::env::var_os("UPDATE_CODES").is_some() {
        std::fs::write(path, serde_json::to_string_pretty(&got).unwrap() + "\n").unwrap();
    }
    let committed: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    for (code, expected) in committed.as_object().unwrap() {
        assert_eq!(
            &got[code], expected,
            "{code} changed; if that is meant, run `UPDATE_CODES=1 cargo test every_code_is_pinned` and review the diff"
        );
    }
    assert_eq!(
        got.as_object().unwrap().len(),
        committed.as_object().unwrap().len()
    );
}
