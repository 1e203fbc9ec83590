//! Each query limit just under and just over, with its own code and a message that says which
//! limit and where the count stopped (the walk stops at the first limit passed).

use scimgate::config::LimitsConfig;
use serde_json::{Value, json};

use crate::support::{OrgSpec, TestApp, error_code, nested_query, spawn_app_with};

async fn app(limits: LimitsConfig) -> TestApp {
    spawn_app_with(vec![OrgSpec::new("acme", 10, 2)], &[], limits).await
}

fn refused(body: &Value, code: &str, needle: &str) {
    assert_eq!(error_code(body), code, "{body}");
    let message = body["errors"][0]["message"].as_str().unwrap();
    assert!(
        message.contains(needle),
        "{message:?} should say {needle:?}"
    );
    assert!(body["data"].is_null());
}

#[tokio::test]
async fn depth_aliases_tokens_and_cost_each_have_a_limit_with_its_own_code() {
    let limits = LimitsConfig {
        max_depth: 6,
        max_aliases: 3,
        max_tokens: 60,
        max_complexity: 1_000,
        ..LimitsConfig::default()
    };
    let app = app(limits).await;

    assert!(
        app.query(&nested_query(6), json!({}))
            .await
            .get("errors")
            .is_none(),
        "depth 6 is allowed"
    );
    refused(
        &app.query(&nested_query(7), json!({})).await,
        "DEPTH_LIMIT",
        "depth is at least 7, over the limit of 6",
    );

    let aliases = |n: usize| {
        format!(
            "{{ {} }}",
            (0..n)
                .map(|i| format!("a{i}: orgs {{ slug }}"))
                .collect::<Vec<_>>()
                .join(" ")
        )
    };
    assert!(
        app.query(&aliases(3), json!({}))
            .await
            .get("errors")
            .is_none()
    );
    refused(
        &app.query(&aliases(4), json!({})).await,
        "ALIAS_LIMIT",
        "alias count is at least 4, over the limit of 3",
    );

    // `{ orgs { slug } }` is 6 tokens; each more `slug` is one more.
    let tokens = |n: usize| format!("{{ orgs {{ {} }} }}", vec!["slug"; n - 5].join(" "));
    assert!(
        app.query(&tokens(60), json!({}))
            .await
            .get("errors")
            .is_none()
    );
    refused(
        &app.query(&tokens(61), json!({})).await,
        "TOKEN_LIMIT",
        "more than 60 tokens",
    );

    // org { users(first: 100) { edges { node { k fields } } } } costs 2 + 100 × (2 + k).
    let cost = |k: usize| {
        let fields = [
            "email",
            "givenName",
            "familyName",
            "displayName",
            "status",
            "fetchedAt",
            "source",
            "id",
        ];
        format!(
            "{{ org {{ users(first: 100) {{ edges {{ node {{ {} }} }} }} }} }}",
            fields[..k].join(" ")
        )
    };
    assert!(
        app.query(&cost(7), json!({})).await.get("errors").is_none(),
        "cost 902"
    );
    refused(
        &app.query(&cost(8), json!({})).await,
        "COMPLEXITY_LIMIT",
        "cost is at least 1001, over the limit of 1000",
    );
}

#[tokio::test]
async fn page_sizes_multiply_so_a_page_in_a_page_costs_their_product() {
    let app = app(LimitsConfig::default()).await;
    let q = "{ org { users(first: 100) { edges { node { groups(first: 100) { edges { node { name } } } } } } } }";
    // users: 1 + 100 × (1 + 1 + (1 + 100 × 3)) = 30,301 > 20,000, where the walk stops.
    refused(
        &app.query(q, json!({})).await,
        "COMPLEXITY_LIMIT",
        "cost is at least 30301, over the limit of 20000",
    );
    let q = "{ org { users(first: 60) { edges { node { groups(first: 100) { edges { node { name } } } } } } } }";
    assert!(
        app.query(q, json!({})).await.get("errors").is_none(),
        "18,182 is within 20,000"
    );
}

#[tokio::test]
async fn body_size_batching_introspection_and_suggestions_are_switches() {
    let strict = LimitsConfig {
        max_body_bytes: 200,
        introspection: false,
        field_suggestions: false,
        ..LimitsConfig::default()
    };
    let app = app(strict).await;
    let url = format!("{}/graphql", app.url);
    let post = |body: String| {
        app.http
            .post(&url)
            .bearer_auth(&app.key)
            .header("content-type", "application/json")
            .body(body)
    };

    let small = json!({ "query": "{ orgs { slug } }" }).to_string();
    assert!(small.len() <= 200);
    let r: Value = post(small.clone())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(r.get("errors").is_none(), "{r}");
    let big =
        json!({ "query": format!("{{ orgs {{ slug }} }} # {}", "x".repeat(200)) }).to_string();
    let r = post(big).send().await.unwrap();
    assert_eq!(r.status(), 413);
    refused(
        &r.json().await.unwrap(),
        "REQUEST_TOO_LARGE",
        "over the limit of 200 bytes",
    );

    let r = post(format!("[{small}]")).send().await.unwrap();
    assert_eq!(r.status(), 400);
    refused(&r.json().await.unwrap(), "BATCHING_DISABLED", "turned off");

    refused(
        &app.query("{ __schema { queryType { name } } }", json!({}))
            .await,
        "INTROSPECTION_DISABLED",
        "introspection",
    );
    let body = app.query("{ orgs { slugg } }", json!({})).await;
    let message = body["errors"][0]["message"].as_str().unwrap();
    assert!(!message.contains("Did you mean"), "{message}");

    let open = self::app(LimitsConfig {
        batching: true,
        max_batch: 2,
        ..LimitsConfig::default()
    })
    .await;
    let url = format!("{}/graphql", open.url);
    let batch = |n: usize| {
        format!(
            "[{}]",
            vec![json!({ "query": "{ orgs { slug } }" }).to_string(); n].join(",")
        )
    };
    let r: Value = open
        .http
        .post(&url)
        .bearer_auth(&open.key)
        .header("content-type", "application/json")
        .body(batch(2))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        r,
        json!([{ "data": { "orgs": [{ "slug": "acme" }] } }, { "data": { "orgs": [{ "slug": "acme" }] } }])
    );
    let r: Value = open
        .http
        .post(&url)
        .bearer_auth(&open.key)
        .header("content-type", "application/json")
        .body(batch(3))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    refused(&r, "BATCH_LIMIT", "3 operations, over the limit of 2 by 1");
    let body = open.query("{ orgs { slugg } }", json!({})).await;
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("Did you mean"),
        "suggestions are on by default"
    );
    assert!(
        open.query("{ __schema { queryType { name } } }", json!({}))
            .await
            .get("errors")
            .is_none()
    );
}

/// GraphiQL's schema query (the shape graphql-js's `getIntrospectionQuery()` sends).
const INTROSPECTION: &str = r#"query IntrospectionQuery {
  __schema {
    queryType { name } mutationType { name } subscriptionType { name }
    types { ...FullType }
    directives { name description locations args { ...InputValue } }
  }
}
fragment FullType on __Type {
  kind name description
  fields(includeDeprecated: true) { name description args { ...InputValue } type { ...TypeRef } isDeprecated deprecationReason }
  inputFields { ...InputValue }
  interfaces { ...TypeRef }
  enumValues(includeDeprecated: true) { name description isDeprecated deprecationReason }
  possibleTypes { ...TypeRef }
}
fragment InputValue on __InputValue { name description type { ...TypeRef } defaultValue }
fragment TypeRef on __Type {
  kind name
  ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name } } } } } } }
}"#;

#[tokio::test]
async fn graphiqls_introspection_query_is_not_held_to_the_data_limits() {
    let app = app(LimitsConfig::default()).await;
    let body = app.query(INTROSPECTION, json!({})).await;
    assert!(
        body.get("errors").is_none(),
        "{}",
        &body.to_string()[..500.min(body.to_string().len())]
    );
    assert!(body["data"]["__schema"]["types"].as_array().unwrap().len() > 20);
}

/// `levels` fragments each spreading the next twice: 2^levels copies of `leaf` once inlined.
fn fragment_bomb(on: &str, root: &str, levels: usize, leaf: &str) -> String {
    let mut q = format!("query Bomb {{ {root} }}");
    for i in 0..levels {
        q.push_str(&format!(
            " fragment F{i} on {on} {{ ...F{} ...F{} }}",
            i + 1,
            i + 1
        ));
    }
    q + &format!(" fragment F{levels} on {on} {{ {leaf} }}")
}

#[tokio::test]
async fn fragment_bombs_are_refused_by_their_inlined_size() {
    let app = app(LimitsConfig::default()).await;
    // 2^40 copies of `name` in under 2 KB: refused by cost, counted once per fragment.
    let q = fragment_bomb("Org", "org { ...F0 }", 40, "name");
    assert!(q.len() < 2_000, "{} bytes", q.len());
    refused(
        &app.query(&q, json!({})).await,
        "COMPLEXITY_LIMIT",
        "cost is at least 32768, over the limit of 20000",
    );
    // Introspection is free of depth and cost, but async-graphql's validation and executor inline
    // fragments too: a bomb of `__type` is refused by the fields it would visit.
    let q = fragment_bomb("Query", "...F0", 40, "__type(name: \"Org\") { name }");
    refused(
        &app.query(&q, json!({})).await,
        "COMPLEXITY_LIMIT",
        "fields once its fragments are inlined, over the limit of 20000",
    );
    // A small one is an ordinary query.
    let q = fragment_bomb("Org", "org { ...F0 }", 5, "name");
    assert_eq!(app.data(&q, json!({})).await["org"]["name"], "acme");
}

#[tokio::test]
async fn an_int_beyond_32_bits_is_an_invalid_int_not_a_cost() {
    let app = app(LimitsConfig::default()).await;
    for q in [
        "{ org { users(first: 4294967296) { totalCount } } }",
        "{ org { users(first: 4294967296) @skip(if: true) { totalCount } } }",
    ] {
        let body = app.query(q, json!({})).await;
        assert_eq!(
            error_code(&body),
            "GRAPHQL_VALIDATION_FAILED",
            "{q}: {body}"
        );
        let message = body["errors"][0]["message"].as_str().unwrap();
        assert!(message.contains("\"first\""), "{message}");
    }
    let body = app
        .query(
            "query($n: Int) { org { users(first: $n) { totalCount } } }",
            json!({ "n": 4294967296u64 }),
        )
        .await;
    assert_eq!(error_code(&body), "GRAPHQL_VALIDATION_FAILED", "{body}");
}
