//! For two organizations and a key of each role, every query and mutation answers as the role
//! and scope allow; a key of organization A gets nothing of B.

use scimgate::auth::Role;
use scimgate::config::LimitsConfig;
use serde_json::{Value, json};

use crate::support::{OrgSpec, TestApp, error_code, spawn_app_with};

async fn app() -> TestApp {
    spawn_app_with(
        vec![OrgSpec::new("acme", 30, 3), OrgSpec::new("globex", 30, 3)],
        &[
            ("acme-read", Role::Read, &["acme"]),
            ("acme-write", Role::Write, &["acme"]),
            ("acme-admin", Role::Admin, &["acme"]),
            ("globex-read", Role::Read, &["globex"]),
            ("everyone-write", Role::Write, &["*"]),
        ],
        LimitsConfig::default(),
    )
    .await
}

/// An acme user's and group's ids, and a globex user's id, as the admin sees them.
async fn ids(app: &TestApp) -> (Value, Value, Value) {
    let q = r#"{ a: org(id: "acme") { users(first: 2) { edges { node { id email } } } groups(first: 1) { edges { node { id } } } }
                 g: org(id: "globex") { users(first: 1) { edges { node { id } } } } }"#;
    let d = app.data(q, json!({})).await;
    (
        d["a"]["users"]["edges"][1]["node"].clone(),
        d["a"]["groups"]["edges"][0]["node"]["id"].clone(),
        d["g"]["users"]["edges"][0]["node"]["id"].clone(),
    )
}

const READS: &str = r#"query($u: ID!) { viewer { name role canWrite canAdmin orgs { slug } }
    orgs { slug } acme: org(id: "acme") { slug users(first: 1) { totalCount } }
    globex: org(id: "globex") { slug users(first: 1) { totalCount } }
    node(id: $u) { id } }"#;

#[tokio::test]
async fn every_role_and_scope_gets_exactly_what_it_may() {
    let app = app().await;
    let (acme_user, acme_group, globex_user) = ids(&app).await;
    let key = |name: &str| app.keys[name].clone();

    // Reads: each key sees its organizations and nothing else, not even by id.
    for (name, role, orgs) in [
        ("acme-read", "READ", vec!["acme"]),
        ("acme-write", "WRITE", vec!["acme"]),
        ("acme-admin", "ADMIN", vec!["acme"]),
        ("globex-read", "READ", vec!["globex"]),
        ("everyone-write", "WRITE", vec!["acme", "globex"]),
    ] {
        let body = app
            .query_as(&key(name), READS, json!({ "u": acme_user["id"] }))
            .await;
        assert!(body.get("errors").is_none(), "{name}: {body}");
        let d = &body["data"];
        assert_eq!(d["viewer"]["name"], name);
        assert_eq!(d["viewer"]["role"], role);
        let slugs: Vec<&str> = d["orgs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o["slug"].as_str().unwrap())
            .collect();
        assert_eq!(slugs, orgs, "{name}");
        assert_eq!(
            d["acme"].is_null(),
            !orgs.contains(&"acme"),
            "{name}: org(acme)"
        );
        assert_eq!(
            d["globex"].is_null(),
            !orgs.contains(&"globex"),
            "{name}: org(globex)"
        );
        assert_eq!(
            d["node"].is_null(),
            !orgs.contains(&"acme"),
            "{name}: node(acme user)"
        );
    }
    // A foreign id through every door: node, nodes, group, filter.
    let foreign = app
        .query_as(
            &key("globex-read"),
            r#"query($u: ID!, $g: ID!) { node(id: $g) { id } nodes(ids: [$u, $g]) { id } org { group(id: $g) { name } } }"#,
            json!({ "u": acme_user["id"], "g": acme_group }),
        )
        .await;
    assert!(foreign.get("errors").is_none(), "{foreign}");
    assert_eq!(foreign["data"]["node"], Value::Null);
    assert_eq!(foreign["data"]["nodes"], json!([null, null]));
    assert_eq!(foreign["data"]["org"]["group"], Value::Null);

    // Writes: read keys are refused; write keys may write only where they reach.
    let deactivate = r#"mutation($id: ID!) { deactivateUser(input: { id: $id }) { outcome userErrors { code } } }"#;
    let body = app
        .query_as(
            &key("acme-read"),
            deactivate,
            json!({ "id": acme_user["id"] }),
        )
        .await;
    assert_eq!(error_code(&body), "FORBIDDEN", "{body}");
    assert!(
        app.emulators[0]
            .state()
            .user(acme_user["email"].as_str().unwrap())
            .is_some(),
        "a read key changed nothing"
    );
    let globex_calls = app.emulators[1].stats().total;
    let body = app
        .query_as(&key("acme-write"), deactivate, json!({ "id": globex_user }))
        .await;
    assert!(body.get("errors").is_none(), "{body}");
    assert_eq!(body["data"]["deactivateUser"]["outcome"], "FAILED");
    assert_eq!(
        body["data"]["deactivateUser"]["userErrors"][0]["code"], "NOT_FOUND",
        "a foreign user looks absent"
    );
    assert_eq!(
        app.emulators[1].stats().total,
        globex_calls,
        "nothing reached globex"
    );
    let body = app
        .query_as(
            &key("acme-write"),
            deactivate,
            json!({ "id": acme_user["id"] }),
        )
        .await;
    assert_eq!(
        body["data"]["deactivateUser"]["outcome"], "SUCCESS",
        "{body}"
    );

    // Refresh and budget controls need admin.
    let refresh =
        r#"mutation { refreshDirectory(input: { org: "acme" }) { outcome userErrors { code } } }"#;
    assert_eq!(
        error_code(&app.query_as(&key("acme-write"), refresh, json!({})).await),
        "FORBIDDEN"
    );
    let body = app.query_as(&key("acme-admin"), refresh, json!({})).await;
    assert_eq!(
        body["data"]["refreshDirectory"]["outcome"], "SUCCESS",
        "{body}"
    );
    let refresh_globex = r#"mutation { refreshDirectory(input: { org: "globex" }) { outcome userErrors { code } } }"#;
    let body = app
        .query_as(&key("acme-admin"), refresh_globex, json!({}))
        .await;
    assert_eq!(
        body["data"]["refreshDirectory"]["userErrors"][0]["code"], "NOT_FOUND",
        "{body}"
    );
}

#[tokio::test]
async fn missing_or_wrong_keys_are_401_unauthenticated() {
    let app = app().await;
    let url = format!("{}/graphql", app.url);
    for auth in [
        None,
        Some("Bearer sgk_not-a-key"),
        Some("Basic dXNlcjpwYXNz"),
        Some("Bearer "),
    ] {
        let mut request = app
            .http
            .post(&url)
            .json(&json!({ "query": "{ orgs { slug } }" }));
        if let Some(auth) = auth {
            request = request.header("authorization", auth);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 401, "{auth:?}");
        assert_eq!(response.headers()["www-authenticate"], "Bearer");
        let body: Value = response.json().await.unwrap();
        assert_eq!(
            body["errors"][0]["extensions"]["code"], "UNAUTHENTICATED",
            "{body}"
        );
        assert!(body.get("data").is_none());
    }
    assert_eq!(
        app.emulators[0].stats().total + app.emulators[1].stats().total,
        0
    );
}
