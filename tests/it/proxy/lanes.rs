//! The proxy's budget lanes, measured on the emulator's request log: with the write lane
//! queued full of POSTs, the revocations (a DELETE, a PATCH removing a member, a PATCH setting
//! `active: false`) overtake them, a GET is not queued behind them, and a PATCH adding a
//! member waits its turn behind them.

use std::time::{Duration, Instant};

use scimgate::budget::BudgetConfig;
use serde_json::{Value, json};

use super::scim;
use crate::mutations::{joined_users, log_since};
use crate::support::{OrgSpec, TestApp, spawn_app};

async fn queued_writes(app: &TestApp) -> i64 {
    let data = app
        .data("{ org { budget { queuedByLane { write } } } }", json!({}))
        .await;
    data["org"]["budget"]["queuedByLane"]["write"]
        .as_i64()
        .unwrap_or(0)
}

fn patch(op: &str, email: &str) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{ "op": op, "path": "members", "value": [{ "value": email }] }],
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn revocations_overtake_queued_writes_and_other_writes_wait_their_turn() {
    let mut spec = OrgSpec::new("acme", 40, 3);
    spec.budget = BudgetConfig::new(10, Duration::from_secs(1));
    let app = std::sync::Arc::new(spawn_app(vec![spec]).await);
    app.warm().await;
    let users = joined_users(&app);
    // A group with a member to remove first, then any other.
    let mut groups = app.emulator().state().groups();
    groups.sort_by_key(|g| g.members.is_empty());
    let member = groups[0].members[0].value.clone();
    let groups: Vec<String> = groups
        .into_iter()
        .filter_map(|g| g.id.map(|id| id.0))
        .collect();
    let mark = app.emulator().requests().len();

    // Twelve invitations fill the write lane.
    let mut posts = Vec::new();
    for i in 0..12 {
        let app = app.clone();
        posts.push(tokio::spawn(async move {
            let body = json!({ "userName": format!("queued{i}@example.com") });
            scim(&app, reqwest::Method::POST, "/Users", Some(body))
                .await
                .status
        }));
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    while queued_writes(&app).await < 8 {
        assert!(Instant::now() < deadline, "the POSTs never queued");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }

    let (a, b, c, d) = (app.clone(), app.clone(), app.clone(), app.clone());
    let (g0, g1) = (groups[0].clone(), groups[1].clone());
    let (victim, reader, added) = (users[5].clone(), users[6].clone(), users[7].clone());
    let removal = tokio::spawn(async move {
        scim(
            &a,
            reqwest::Method::PATCH,
            &format!("/Groups/{g0}"),
            Some(patch("remove", &member)),
        )
        .await
    });
    let delete = tokio::spawn(async move {
        scim(
            &b,
            reqwest::Method::DELETE,
            &format!("/Users/{victim}"),
            None,
        )
        .await
    });
    let read = tokio::spawn(async move {
        scim(
            &c,
            reqwest::Method::GET,
            &format!("/Users/{reader}?attributes=userName"),
            None,
        )
        .await
    });
    let addition = tokio::spawn(async move {
        // Sent once the others are queued, so "behind the POSTs" is its lane's order.
        tokio::time::sleep(Duration::from_millis(20)).await;
        scim(
            &d,
            reqwest::Method::PATCH,
            &format!("/Groups/{g1}"),
            Some(patch("add", &added)),
        )
        .await
    });
    let (removal, delete, read, addition) = (
        removal.await.unwrap(),
        delete.await.unwrap(),
        read.await.unwrap(),
        addition.await.unwrap(),
    );
    for p in posts {
        assert_eq!(p.await.unwrap(), 201);
    }
    assert_eq!(removal.status, 200, "{}", removal.body);
    assert_eq!(delete.status, 204);
    assert_eq!(read.status, 200);
    assert_eq!(addition.status, 200, "{}", addition.body);

    // Positions in the order the emulator received them.
    let log = log_since(&app, mark);
    let position = |method: &str, needle: &str| {
        log.iter()
            .position(|r| r.method == method && r.path.contains(needle))
            .unwrap_or_else(|| panic!("{method} {needle} never arrived: {log:?}"))
    };
    let post_positions: Vec<usize> = log
        .iter()
        .enumerate()
        .filter(|(_, r)| r.method == "POST")
        .map(|(i, _)| i)
        .collect();
    assert_eq!(post_positions.len(), 12);
    let posts_after = |at: usize| post_positions.iter().filter(|p| **p > at).count();
    let removal_at = position("PATCH", &format!("/Groups/{}", groups[0]));
    let delete_at = position("DELETE", "/Users/");
    let read_at = position("GET", "attributes=userName");
    let addition_at = position("PATCH", &format!("/Groups/{}", groups[1]));
    // Critical: ahead of nearly every queued POST (the ones already released go first).
    assert!(
        posts_after(removal_at) >= 6,
        "member removal behind the writes: {log:?}"
    );
    assert!(
        posts_after(delete_at) >= 6,
        "delete behind the writes: {log:?}"
    );
    // Interactive: its own lane, not queued behind the writes.
    assert!(
        posts_after(read_at) >= 3,
        "the read waited for the writes: {log:?}"
    );
    // Write: behind every POST queued before it.
    assert_eq!(
        posts_after(addition_at),
        0,
        "an ordinary write overtook: {log:?}"
    );
}

#[tokio::test]
async fn a_deactivation_by_put_goes_critical_and_leaves_the_mirror() {
    let app = TestApp::one(5, 1).await;
    app.warm().await;
    let email = joined_users(&app)[1].clone();
    let put = scim(
        &app,
        reqwest::Method::PUT,
        &format!("/Users/{email}"),
        Some(json!({ "userName": email, "active": false })),
    )
    .await;
    assert_eq!(put.status, 200, "{}", put.body);
    assert_eq!(put.header("x-scimgate-lane"), Some("critical"));
    // Amplitude removes a deactivated user; the mirror follows without asking.
    let calls = app.upstream_calls();
    let data = app
        .data(
            "query($e: String!) { org { user(email: $e) { email } } }",
            json!({ "e": email }),
        )
        .await;
    assert!(data["org"]["user"].is_null(), "{data}");
    assert_eq!(app.upstream_calls(), calls);
}
