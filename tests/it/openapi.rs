//! The OpenAPI document of the REST view and the SCIM proxy: the committed `openapi.json` is
//! the code's, `/openapi.json` serves it, and every operation it lists is one the router
//! serves (each answers 401 without a key, never the router's 404 or 405).

use serde_json::Value;

use crate::support::TestApp;

#[test]
fn openapi_json_matches_the_code() {
    let doc = scimgate::http::openapi_document();
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/openapi.json");
    if std::env::var_os("UPDATE_OPENAPI").is_some() {
        std::fs::write(path, &doc).unwrap();
    }
    let committed = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        committed == doc,
        "openapi.json differs from the code's document; run `UPDATE_OPENAPI=1 cargo test openapi_json` and review the diff"
    );
}

#[tokio::test]
async fn the_served_document_lists_every_operation_and_each_is_routed() {
    let app = TestApp::one(3, 1).await;
    let served: Value = app
        .http
        .get(format!("{}/openapi.json", app.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let doc: Value = serde_json::from_str(&scimgate::http::openapi_document()).unwrap();
    assert_eq!(served, doc);
    assert!(
        doc["openapi"].as_str().unwrap().starts_with("3.1"),
        "{}",
        doc["openapi"]
    );
    let paths = doc["paths"].as_object().unwrap();
    let mut operations = Vec::new();
    for (path, item) in paths {
        for method in ["get", "post", "put", "patch", "delete"] {
            if item.get(method).is_some() {
                operations.push((method.to_uppercase(), path.clone()));
            }
        }
    }
    operations.sort();
    let expected = [
        ("DELETE", "/unified/users/{id}"),
        ("DELETE", "/{org}/scim/v2/{path}"),
        ("GET", "/unified/groups"),
        ("GET", "/unified/groups/{id}"),
        ("GET", "/unified/users"),
        ("GET", "/unified/users/{id}"),
        ("GET", "/{org}/scim/v2/{path}"),
        ("PATCH", "/unified/users/{id}"),
        ("PATCH", "/{org}/scim/v2/{path}"),
        ("POST", "/unified/groups/{id}/members"),
        ("POST", "/unified/groups/{id}/members/remove"),
        ("POST", "/unified/users"),
        ("POST", "/unified/users/{id}/deactivate"),
        ("POST", "/{org}/scim/v2/{path}"),
        ("PUT", "/{org}/scim/v2/{path}"),
    ];
    let expected: Vec<(String, String)> = expected
        .iter()
        .map(|(m, p)| ((*m).to_owned(), (*p).to_owned()))
        .collect();
    assert_eq!(operations, expected);
    for (method, path) in &operations {
        let concrete = path
            .replace("{org}", "acme")
            .replace("{path}", "Users")
            .replace("{id}", "someone");
        let response = app
            .http
            .request(method.parse().unwrap(), format!("{}{concrete}", app.url))
            .header("content-type", "application/json")
            .body("{}")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 401, "{method} {concrete}");
    }
    let mut ids: Vec<&str> = paths
        .values()
        .flat_map(|item| item.as_object().unwrap().values())
        .filter_map(|op| op["operationId"].as_str())
        .collect();
    let listed = ids.len();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), listed, "operation ids repeat: {ids:?}");
    // Every schema a response or body names is in the components.
    let text = doc.to_string();
    for schema in doc["components"]["schemas"].as_object().unwrap().keys() {
        assert!(
            text.contains(&format!("#/components/schemas/{schema}")),
            "{schema} unused"
        );
    }
}
