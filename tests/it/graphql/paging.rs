//! Relay paging over the mirror: every user exactly once, forwards and backwards, and exact
//! while the directory changes under it.

use std::collections::HashSet;

use scimgate::scim::wire::User;
use serde_json::{Value, json};

use crate::support::{TestApp, error_code};

const PAGE: &str = r#"query($first: Int, $after: String, $last: Int, $before: String, $order: UserOrderField!) {
  org { users(first: $first, after: $after, last: $last, before: $before, orderBy: { field: $order }) {
    totalCount
    edges { cursor node { email } }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
  } }
}"#;

fn emails(conn: &Value) -> Vec<String> {
    conn["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["email"].as_str().unwrap().to_owned())
        .collect()
}

async fn forward(app: &TestApp, order: &str, first: i64) -> (Vec<String>, i64) {
    let (mut all, mut after) = (Vec::new(), Value::Null);
    loop {
        let data = app
            .data(
                PAGE,
                json!({ "first": first, "after": after, "order": order }),
            )
            .await;
        let conn = &data["org"]["users"];
        let total = conn["totalCount"].as_i64().unwrap();
        all.extend(emails(conn));
        if !conn["pageInfo"]["hasNextPage"].as_bool().unwrap() {
            return (all, total);
        }
        after = conn["pageInfo"]["endCursor"].clone();
    }
}

#[tokio::test]
async fn paging_forward_and_backward_returns_every_user_once_in_order() {
    let app = TestApp::one(250, 8).await;
    let upstream: Vec<String> = app
        .emulator()
        .state()
        .users()
        .iter()
        .map(|u| u.user_name.to_lowercase())
        .collect();

    let (by_email, total) = forward(&app, "EMAIL", 37).await;
    assert_eq!(total, upstream.len() as i64);
    let mut expected = upstream.clone();
    expected.sort();
    assert_eq!(by_email, expected, "every user once, by e-mail");

    let (directory, _) = forward(&app, "DIRECTORY", 37).await;
    assert_eq!(
        directory, upstream,
        "every user once, in the upstream's order"
    );

    let (mut backward, mut before) = (Vec::new(), Value::Null);
    loop {
        let data = app
            .data(
                PAGE,
                json!({ "last": 37, "before": before, "order": "EMAIL" }),
            )
            .await;
        let conn = &data["org"]["users"];
        let mut page = emails(conn);
        page.extend(backward);
        backward = page;
        if !conn["pageInfo"]["hasPreviousPage"].as_bool().unwrap() {
            break;
        }
        before = conn["pageInfo"]["startCursor"].clone();
    }
    assert_eq!(
        backward, expected,
        "backwards, the same users in the same order"
    );
}

#[tokio::test]
async fn paging_stays_exact_while_users_come_and_go_and_a_refresh_runs() {
    let app = TestApp::one(200, 5).await;
    let state = app.emulator().state();
    let before: HashSet<String> = state
        .users()
        .iter()
        .map(|u| u.user_name.to_lowercase())
        .collect();
    let (mut seen, mut after, mut removed, mut added) = (
        Vec::<String>::new(),
        Value::Null,
        HashSet::new(),
        HashSet::new(),
    );
    for round in 0.. {
        let data = app
            .data(
                PAGE,
                json!({ "first": 37, "after": after, "order": "EMAIL" }),
            )
            .await;
        let conn = &data["org"]["users"];
        seen.extend(emails(conn));
        if !conn["pageInfo"]["hasNextPage"].as_bool().unwrap() {
            break;
        }
        after = conn["pageInfo"]["endCursor"].clone();
        // Behind the gateway's back: two users leave, two arrive, and the mirror refreshes.
        let users = state.users();
        for u in users.iter().skip(round * 7).take(2) {
            assert!(state.remove_user(&u.user_name));
            removed.insert(u.user_name.to_lowercase());
        }
        for i in 0..2 {
            let email = format!("aaa.newcomer{round}.{i}@example.com");
            state.add_user(User::new(&email, "New", "Comer")).unwrap();
            added.insert(email);
        }
        app.gateway.dirs.all()[0].refresh().await.unwrap();
    }
    let unique: HashSet<&String> = seen.iter().collect();
    assert_eq!(unique.len(), seen.len(), "no user twice");
    let mut sorted = seen.clone();
    sorted.sort();
    assert_eq!(sorted, seen, "in order");
    for email in before.difference(&removed) {
        assert!(
            unique.contains(email),
            "{email} stayed the whole time and was skipped"
        );
    }
    assert!(!removed.is_empty() && !added.is_empty());
}

#[tokio::test]
async fn page_size_over_100_and_forged_cursors_are_clear_errors() {
    let app = TestApp::one(10, 2).await;
    let body = app
        .query(PAGE, json!({ "first": 500, "order": "EMAIL" }))
        .await;
    assert_eq!(error_code(&body), "BAD_USER_INPUT");
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("between 0 and 100, got 500"),
        "{body}"
    );

    let body = app
        .query(
            PAGE,
            json!({ "first": 5, "after": "bm90LWEtY3Vyc29y", "order": "EMAIL" }),
        )
        .await;
    assert_eq!(error_code(&body), "BAD_USER_INPUT");
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("not a cursor"),
        "{body}"
    );

    let data = app
        .data(PAGE, json!({ "first": 2, "order": "EMAIL" }))
        .await;
    let cursor = data["org"]["users"]["pageInfo"]["endCursor"].clone();
    let body = app
        .query(
            PAGE,
            json!({ "first": 2, "after": cursor, "order": "FAMILY_NAME" }),
        )
        .await;
    assert_eq!(error_code(&body), "BAD_USER_INPUT");
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("another ordering"),
        "{body}"
    );

    let body = app
        .query(PAGE, json!({ "first": 2, "last": 2, "order": "EMAIL" }))
        .await;
    assert_eq!(error_code(&body), "BAD_USER_INPUT");
}

#[tokio::test]
async fn an_empty_organization_pages_to_nothing() {
    let app = TestApp::one(0, 0).await;
    let data = app
        .data(PAGE, json!({ "first": 10, "order": "EMAIL" }))
        .await;
    let conn = &data["org"]["users"];
    assert_eq!(conn["totalCount"], 0);
    assert_eq!(conn["edges"], json!([]));
    assert_eq!(
        conn["pageInfo"],
        json!({ "hasNextPage": false, "hasPreviousPage": false, "startCursor": null, "endCursor": null })
    );
    let data = app
        .data(
            "{ org { groups { totalCount edges { node { name } } } sync { complete userCount } } }",
            json!({}),
        )
        .await;
    assert_eq!(data["org"]["groups"]["totalCount"], 0);
    assert_eq!(
        data["org"]["sync"],
        json!({ "complete": true, "userCount": 0 })
    );
}

#[tokio::test]
async fn a_users_groups_page_by_cursor_in_name_order() {
    let app = TestApp::one(60, 12).await;
    let data = app
        .data(
            "{ org { users(first: 40) { edges { node { email groups(first: 20) { totalCount edges { node { name } } } } } } } }",
            json!({}),
        )
        .await;
    // The user in the most groups.
    let user = data["org"]["users"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .max_by_key(|e| e["node"]["groups"]["totalCount"].as_i64())
        .unwrap();
    let email = user["node"]["email"].as_str().unwrap();
    let names = |conn: &Value| -> Vec<String> {
        conn["edges"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["node"]["name"].as_str().unwrap().to_owned())
            .collect()
    };
    let all = names(&user["node"]["groups"]);
    assert_eq!(
        Some(all.len() as i64),
        user["node"]["groups"]["totalCount"].as_i64()
    );
    assert!(all.len() >= 3, "a user in three groups or more: {all:?}");
    let mut sorted = all.clone();
    sorted.sort_by_key(|n| n.to_lowercase());
    assert_eq!(all, sorted, "by name");

    const GROUPS: &str = r#"query($e: String!, $first: Int, $after: String, $last: Int, $before: String) {
      org { user(email: $e) { groups(first: $first, after: $after, last: $last, before: $before) {
        totalCount edges { cursor node { name } } pageInfo { hasNextPage hasPreviousPage endCursor startCursor }
      } } } }"#;
    let (mut forward, mut after) = (Vec::new(), Value::Null);
    loop {
        let data = app
            .data(GROUPS, json!({ "e": email, "first": 2, "after": after }))
            .await;
        let conn = &data["org"]["user"]["groups"];
        assert_eq!(conn["totalCount"], all.len());
        forward.extend(names(conn));
        if conn["pageInfo"]["hasNextPage"] == false {
            break;
        }
        after = conn["pageInfo"]["endCursor"].clone();
    }
    assert_eq!(forward, all, "forward by cursor");
    let last = app.data(GROUPS, json!({ "e": email, "last": 2 })).await;
    let last = &last["org"]["user"]["groups"];
    assert_eq!(names(last), all[all.len() - 2..]);
    assert_eq!(last["pageInfo"]["hasPreviousPage"], true);
    let before = app
        .data(
            GROUPS,
            json!({ "e": email, "last": 1, "before": last["pageInfo"]["startCursor"] }),
        )
        .await;
    assert_eq!(
        names(&before["org"]["user"]["groups"]),
        all[all.len() - 3..all.len() - 2]
    );
}
