//! `Subscription.directoryEvents` over both transports, measured against the event log itself:
//! a WebSocket (graphql-transport-ws) and an SSE stream receive, in order, the events of a
//! write made through GraphQL and of a change made at the emulator and found by a refresh;
//! resuming with `after` loses and repeats nothing; an event another replica records in a shared
//! PostgreSQL store reaches them too; a resume past retention, a missing key and an organization
//! out of scope are refused with a code.

pub mod client;

use std::time::{Duration, Instant};

use scimgate::auth::Role;
use scimgate::config::LimitsConfig;
use serde_json::{Value, json};

use crate::mutations::{assert_success, joined_users, mutate, user_id};
use crate::support::{OrgSpec, TestApp, postgres_store, spawn_app_on, spawn_app_with};
use client::{Sse, SseEvent, Ws, WsMessage};

const SUB: &str = "subscription($after: String, $kinds: [String!]) { directoryEvents(after: $after, kinds: $kinds) { cursor node { seq kind actor subjectKind } } }";

/// `(seq, kind, actor)` of every event in the log, oldest first.
async fn log(app: &TestApp) -> Vec<(i64, String, String)> {
    let body = app
        .data(
            "{ org { events(first: 100) { edges { node { seq kind actor } } } } }",
            json!({}),
        )
        .await;
    body["org"]["events"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| triple(&e["node"]))
        .collect()
}

fn triple(node: &Value) -> (i64, String, String) {
    (
        node["seq"].as_i64().unwrap(),
        node["kind"].as_str().unwrap().to_owned(),
        node["actor"].as_str().unwrap().to_owned(),
    )
}

/// The events of subscription results, failing on any error.
fn events_of(results: &[Value]) -> Vec<(i64, String, String)> {
    results
        .iter()
        .map(|r| {
            assert!(r.get("errors").is_none(), "{r:#}");
            triple(&r["data"]["directoryEvents"]["node"])
        })
        .collect()
}

fn seqs_of(results: &[Value]) -> Vec<i64> {
    events_of(results).into_iter().map(|(s, ..)| s).collect()
}

fn cursor_of(result: &Value) -> String {
    result["data"]["directoryEvents"]["cursor"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// Waits until `n` subscribers follow the organization's log in this process.
async fn followers(app: &TestApp, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while app.gateway.store.followers("acme") < n {
        assert!(Instant::now() < deadline, "{n} subscribers never started");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

async fn invite(app: &TestApp, n: usize) {
    let payload = mutate(
        app,
        "inviteUser",
        json!({ "email": format!("hire{n}@example.com"), "givenName": "New", "familyName": format!("Hire{n}") }),
    )
    .await;
    assert_success(&payload);
}

#[tokio::test]
async fn websocket_and_sse_get_a_write_and_a_change_a_refresh_found_in_order() {
    use scimgate::scim::wire::User;

    let app = TestApp::one(30, 3).await;
    app.warm().await;
    let mut ws = Ws::connect(&app.url, &app.key).await.unwrap();
    ws.subscribe("1", SUB, json!({})).await;
    let mut sse = Sse::post(&app.url, &app.key, SUB, json!({})).await;
    followers(&app, 2).await;

    let users = joined_users(&app);
    let id = user_id(&app, &users[0]).await;
    assert_success(&mutate(&app, "deactivateUser", json!({ "id": id })).await);
    app.emulator()
        .state()
        .add_user(User::new("side.door@example.com", "Side", "Door"))
        .unwrap();
    // A refresh a write started may have read before the change: refresh until one found it.
    let dir = app.gateway.dirs.all()[0].clone();
    let deadline = Instant::now() + Duration::from_secs(10);
    let expected = loop {
        dir.refresh().await.unwrap();
        let log = log(&app).await;
        if log.iter().any(|(_, kind, _)| kind == "user.added") {
            break log;
        }
        assert!(
            Instant::now() < deadline,
            "no refresh found the change: {log:?}"
        );
    };
    assert_eq!(
        expected[0],
        (1, "user.deactivated".into(), "test-admin".into())
    );
    assert!(
        expected.contains(&(2, "user.added".into(), "refresh".into())),
        "{expected:?}"
    );

    let from_ws = ws.results(expected.len()).await;
    assert_eq!(events_of(&from_ws), expected);
    let from_sse = sse.results(expected.len()).await;
    assert_eq!(events_of(&from_sse), expected);
    assert_eq!(
        from_ws[0]["data"]["directoryEvents"]["node"]["subjectKind"],
        "User"
    );
}

#[tokio::test]
async fn resuming_after_a_cursor_loses_and_repeats_nothing_on_either_transport() {
    let app = TestApp::one(10, 1).await;
    app.warm().await;
    for n in 1..=3 {
        invite(&app, n).await;
    }
    let first = app
        .data(
            "{ org { events(first: 1) { edges { cursor } } } }",
            json!({}),
        )
        .await["org"]["events"]["edges"][0]["cursor"]
        .clone();

    // After event 1: events 2 and 3 from the log, then 4 as it happens.
    let mut ws = Ws::connect(&app.url, &app.key).await.unwrap();
    ws.subscribe("r", SUB, json!({ "after": first })).await;
    assert_eq!(seqs_of(&ws.results(2).await), [2, 3]);
    invite(&app, 4).await;
    let fourth = ws.results(1).await;
    assert_eq!(seqs_of(&fourth), [4]);
    ws.stop("r").await;
    drop(ws);
    followers(&app, 0).await;

    // Away for 5 and 6; back through a browser-style EventSource GET after 4.
    invite(&app, 5).await;
    invite(&app, 6).await;
    let after_four = json!({ "after": cursor_of(&fourth[0]) });
    let mut sse = Sse::event_source(&app.url, &app.key, SUB, after_four.clone()).await;
    assert_eq!(seqs_of(&sse.results(2).await), [5, 6]);
    invite(&app, 7).await;
    assert_eq!(seqs_of(&sse.results(1).await), [7]);

    // Resuming with a filter skips the other kinds, and still nothing is lost.
    let mut ws = Ws::connect(&app.url, &app.key).await.unwrap();
    let only = json!({ "after": cursor_of(&fourth[0]), "kinds": ["user.deactivated"] });
    ws.subscribe("k", SUB, only).await;
    followers(&app, 2).await;
    let id = user_id(&app, "hire2@example.com").await;
    assert_success(&mutate(&app, "deactivateUser", json!({ "id": id })).await);
    let filtered = ws.results(1).await;
    assert_eq!(
        events_of(&filtered),
        [(8, "user.deactivated".into(), "test-admin".into())]
    );
    // The SSE subscriber, unfiltered, sees the same event next.
    assert_eq!(seqs_of(&sse.results(1).await), [8]);
}

#[tokio::test]
async fn a_resume_past_retention_a_missing_key_and_an_org_out_of_scope_are_refused() {
    let app = spawn_app_with(
        vec![OrgSpec::new("acme", 5, 1), OrgSpec::new("globex", 5, 1)],
        &[("globex-reader", Role::Read, &["globex"])],
        LimitsConfig::default(),
    )
    .await;
    app.warm().await;
    let acme = json!({ "org": "acme" });
    for n in 1..=2 {
        let invite = format!(
            "mutation {{ inviteUser(input: {{ org: \"acme\", email: \"a{n}@example.com\", givenName: \"A\", familyName: \"B\" }}) {{ outcome }} }}"
        );
        let payload = app.data(&invite, json!({})).await;
        assert_eq!(payload["inviteUser"]["outcome"], "SUCCESS");
    }
    let cursor = app
        .data(
            "{ org(id: \"acme\") { events(first: 1) { edges { cursor } } } }",
            json!({}),
        )
        .await["org"]["events"]["edges"][0]["cursor"]
        .clone();
    let removed = app
        .gateway
        .store
        .prune_events(scimgate::store::now_ms() + 1_000)
        .await
        .unwrap();
    // Both are gone: resuming after the first would miss the second.
    assert_eq!(removed, 2);
    let query = "subscription($org: ID, $after: String) { directoryEvents(org: $org, after: $after) { cursor } }";
    let expired = json!({ "org": "acme", "after": cursor });

    let mut sse = Sse::post(&app.url, &app.key, query, expired.clone()).await;
    let SseEvent::Next(refused) = sse.next().await else {
        panic!("expected the refusal as a result")
    };
    assert_eq!(refused["errors"][0]["extensions"]["code"], "EVENTS_EXPIRED");
    assert_eq!(sse.next().await, SseEvent::Complete);

    let mut ws = Ws::connect(&app.url, &app.key).await.unwrap();
    ws.subscribe("x", query, expired).await;
    let WsMessage::Next(refused) = ws.next().await else {
        panic!("expected the refusal as a result")
    };
    assert_eq!(
        refused["errors"][0]["extensions"]["code"], "EVENTS_EXPIRED",
        "{refused:#}"
    );
    assert!(matches!(ws.next().await, WsMessage::Complete));

    // A key for globex does not see acme: the organization does not exist for it.
    let reader = app.keys["globex-reader"].clone();
    let mut sse = Sse::post(&app.url, &reader, query, acme.clone()).await;
    let SseEvent::Next(hidden) = sse.next().await else {
        panic!("expected the refusal as a result")
    };
    assert_eq!(
        hidden["errors"][0]["extensions"]["code"], "NOT_FOUND",
        "{hidden:#}"
    );
    assert!(hidden["errors"][0]["extensions"]["requestId"].is_string());

    // No key: SSE answers 401 before streaming; a WebSocket is closed at `connection_init`.
    let answer = reqwest::Client::new()
        .post(format!("{}/graphql", app.url))
        .header("accept", "text/event-stream")
        .json(&json!({ "query": query, "variables": acme }))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 401);
    let body: Value = answer.json().await.unwrap();
    assert_eq!(body["errors"][0]["extensions"]["code"], "UNAUTHENTICATED");
    assert_eq!(Ws::connect(&app.url, "not-a-key").await.err(), Some(1002));
    // Without a WebSocket upgrade, `/graphql/ws` says what it is.
    let plain = reqwest::Client::new()
        .get(format!("{}/graphql/ws", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(plain.status(), 400);
    let body: Value = plain.json().await.unwrap();
    assert_eq!(body["errors"][0]["extensions"]["code"], "BAD_REQUEST");
}

/// Another replica's write to a shared PostgreSQL store wakes nothing in this process: the
/// organization's tail finds it on its next look (once a second).
#[tokio::test]
async fn an_event_another_replica_records_reaches_this_replicas_subscribers() {
    use scimgate::store::{NewEvent, Store};

    let Some(pg) = postgres_store("subscriptions").await else {
        return;
    };
    let app = spawn_app_on(
        vec![OrgSpec::new("acme", 5, 1)],
        &[],
        LimitsConfig::default(),
        pg.url().to_owned(),
    )
    .await;
    let mut sse = Sse::post(&app.url, &app.key, SUB, json!({})).await;
    followers(&app, 1).await;
    let other = Store::open_as(pg.url(), "replica-b").await.unwrap();
    for n in 1..=2 {
        let event = NewEvent {
            org: "acme".into(),
            kind: "user.invited".into(),
            object_kind: "user".into(),
            object_id: format!("b{n}@example.com"),
            actor: "replica-b".into(),
            data: json!({}),
            at_ms: 0,
        };
        other.append_event(&event).await.unwrap();
    }
    let got = sse.results(2).await;
    assert_eq!(
        events_of(&got),
        [
            (1, "user.invited".into(), "replica-b".into()),
            (2, "user.invited".into(), "replica-b".into())
        ]
    );
    other.close().await;
}
