//! The unified REST view (`/unified/*`): normalized users and groups from the mirror with
//! GraphQL's key-based cursors (every user once while a refresh replaces the mirror and the
//! directory changes), filters, and GraphQL's writes behind it (a repeated `Idempotency-Key`
//! sent once, counted at the emulator).

use std::collections::HashSet;
use std::time::{Duration, Instant};

use scimgate::scim::wire::User as WireUser;
use serde_json::{Value, json};

use crate::mutations::{joined_users, log_since, members_at_emulator};
use crate::support::TestApp;

async fn call(
    app: &TestApp,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
    key: Option<&str>,
) -> (u16, Value) {
    let mut request = app
        .http
        .request(method, format!("{}{path}", app.url))
        .bearer_auth(&app.key);
    if let Some(body) = body {
        request = request.json(&body);
    }
    if let Some(key) = key {
        request = request.header("idempotency-key", key);
    }
    let response = request.send().await.expect("the gateway answers");
    let status = response.status().as_u16();
    (status, response.json().await.expect("a JSON body"))
}

async fn get(app: &TestApp, path: &str) -> Value {
    let (status, body) = call(app, reqwest::Method::GET, path, None, None).await;
    assert_eq!(status, 200, "{path}: {body}");
    body
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn paging_every_user_skips_and_repeats_none_while_a_refresh_replaces_the_mirror() {
    let app = TestApp::one(10_000, 5).await;
    app.warm().await;
    let dir = app.gateway.dirs.all()[0].clone();
    let before: HashSet<String> = app
        .emulator()
        .state()
        .users()
        .into_iter()
        .map(|u| u.user_name.to_lowercase())
        .collect();
    let mut seen: Vec<String> = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    let mut refreshed_mid_paging = false;
    loop {
        let path = match &cursor {
            None => "/unified/users?page_size=100".to_owned(),
            Some(c) => format!("/unified/users?page_size=100&cursor={c}"),
        };
        let page = get(&app, &path).await;
        let result = page["result"].as_array().expect("result");
        seen.extend(
            result
                .iter()
                .map(|u| u["email"].as_str().unwrap().to_lowercase()),
        );
        pages += 1;
        if pages == 10 {
            // Behind the gateway's back: users leave from pages not read yet, others join.
            let users = app.emulator().state().users();
            for u in users.iter().skip(5_000).step_by(500) {
                app.emulator().state().remove_user(&u.user_name);
            }
            for i in 0..10 {
                let email = format!("late.joiner{i}@example.com");
                let mut user = WireUser::new(&email, "Late", "Joiner");
                user.id = Some(email.clone());
                app.emulator().state().add_user(user).expect("added");
            }
            // A refresh replaces the mirror before the next page is read.
            let finished = dir.state().finished;
            dir.start_refresh();
            let deadline = Instant::now() + Duration::from_secs(30);
            while dir.state().finished == finished {
                assert!(Instant::now() < deadline, "the refresh never finished");
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            refreshed_mid_paging = true;
        }
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    assert!(refreshed_mid_paging);
    let unique: HashSet<String> = seen.iter().cloned().collect();
    assert_eq!(unique.len(), seen.len(), "a user was listed twice");
    let after: HashSet<String> = app
        .emulator()
        .state()
        .users()
        .into_iter()
        .map(|u| u.user_name.to_lowercase())
        .collect();
    let stayed: Vec<&String> = before.intersection(&after).collect();
    let skipped: Vec<&&String> = stayed.iter().filter(|e| !unique.contains(**e)).collect();
    assert!(
        skipped.is_empty(),
        "{} users present throughout were skipped",
        skipped.len()
    );
    assert!(stayed.len() >= 9_990, "{}", stayed.len());
    // The users who joined during paging come last in the upstream's order: they are listed.
    assert!(unique.contains("late.joiner9@example.com"));
}

#[tokio::test]
async fn users_and_groups_are_normalized_filtered_and_paged_backwards_too() {
    let app = TestApp::one(12, 3).await;
    app.warm().await;
    let first = get(&app, "/unified/users?page_size=5").await;
    let users = first["result"].as_array().unwrap();
    assert_eq!(users.len(), 5);
    assert_eq!(first["prev_cursor"], Value::Null);
    let u = &users[0];
    for field in [
        "id",
        "remote_id",
        "email",
        "first_name",
        "last_name",
        "status",
        "groups",
    ] {
        assert!(u.get(field).is_some(), "{field} missing: {u}");
    }
    assert!(u.get("remote_data").is_none());
    assert_eq!(u["emails"], json!([u["email"]]));
    assert!(["ACTIVE", "INVITED", "DEACTIVATED"].contains(&u["status"].as_str().unwrap()));
    let next = first["next_cursor"].as_str().expect("a next page");
    let second = get(&app, &format!("/unified/users?page_size=5&cursor={next}")).await;
    let back = second["prev_cursor"].as_str().expect("a previous page");
    let again = get(&app, &format!("/unified/users?page_size=5&cursor={back}")).await;
    assert_eq!(
        again["result"], first["result"],
        "paging back returns the first page"
    );

    // The same user by its id, with the raw SCIM resource.
    let id = u["id"].as_str().unwrap();
    let one = get(&app, &format!("/unified/users/{id}?remote_data=true")).await;
    assert_eq!(one["result"]["email"], u["email"]);
    assert_eq!(one["result"]["remote_data"]["userName"], u["email"]);

    // Groups, and the members filter matching them.
    let groups = get(&app, "/unified/groups").await;
    let group = groups["result"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| !g["members"].as_array().unwrap().is_empty())
        .expect("a group with members")
        .clone();
    let gid = group["id"].as_str().unwrap();
    let members = get(
        &app,
        &format!("/unified/users?member_of={gid}&page_size=100"),
    )
    .await;
    let listed: HashSet<&str> = members["result"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["id"].as_str().unwrap())
        .collect();
    let expected: HashSet<&str> = group["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m.as_str().unwrap())
        .collect();
    assert_eq!(listed, expected);
    let one = get(&app, &format!("/unified/groups/{gid}?remote_data=true")).await;
    assert_eq!(one["result"]["name"], group["name"]);
    assert!(one["result"]["remote_data"]["displayName"].is_string());

    // Bad input: a coded error, nothing sent.
    let calls = app.upstream_calls();
    for path in [
        "/unified/users?cursor=garbage",
        "/unified/users?page_size=101",
        "/unified/users?status=GONE",
        "/unified/users?colour=blue",
    ] {
        let (status, body) = call(&app, reqwest::Method::GET, path, None, None).await;
        assert_eq!(status, 400, "{path}: {body}");
        assert_eq!(
            body["errors"][0]["extensions"]["code"], "BAD_REQUEST",
            "{path}"
        );
    }
    let anonymous = app
        .http
        .get(format!("{}/unified/users", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status().as_u16(), 401);
    assert_eq!(app.upstream_calls(), calls);
}

#[tokio::test]
async fn writes_go_through_graphqls_mutations_and_a_repeated_key_is_sent_once() {
    let app = TestApp::one(8, 2).await;
    app.warm().await;
    let mark = app.emulator().requests().len();
    let invite =
        json!({ "email": "rest.person@example.com", "first_name": "Rest", "last_name": "Person" });
    let (s1, first) = call(
        &app,
        reqwest::Method::POST,
        "/unified/users",
        Some(invite.clone()),
        Some("rest-1"),
    )
    .await;
    let (s2, second) = call(
        &app,
        reqwest::Method::POST,
        "/unified/users",
        Some(invite),
        Some("rest-1"),
    )
    .await;
    assert_eq!(s1, 201, "{first}");
    assert_eq!((s2, &second), (201, &first));
    assert_eq!(first["result"]["status"], "INVITED");
    assert_eq!(first["result"]["first_name"], "Rest");
    let posts = log_since(&app, mark)
        .iter()
        .filter(|r| r.method == "POST")
        .count();
    assert_eq!(posts, 1, "the repeated Idempotency-Key was sent again");

    // Read back with no upstream call; the filter on status finds it.
    let calls = app.upstream_calls();
    let invited = get(&app, "/unified/users?status=INVITED&search=rest.person").await;
    assert_eq!(invited["result"][0]["email"], "rest.person@example.com");
    assert_eq!(app.upstream_calls(), calls);

    // Names, membership add and remove, deactivation, deletion.
    let email = joined_users(&app)[0].clone();
    let (status, renamed) = call(
        &app,
        reqwest::Method::PATCH,
        &format!("/unified/users/{email}"),
        Some(json!({ "first_name": "Renamed" })),
        None,
    )
    .await;
    assert_eq!(status, 200, "{renamed}");
    assert_eq!(renamed["result"]["first_name"], "Renamed");
    let group = app.emulator().state().groups()[0].id.clone().unwrap().0;
    let body = json!({ "users": ["rest.person@example.com"] });
    let (status, added) = call(
        &app,
        reqwest::Method::POST,
        &format!("/unified/groups/{group}/members"),
        Some(body.clone()),
        None,
    )
    .await;
    assert_eq!(status, 200, "{added}");
    assert!(members_at_emulator(&app, &group).contains(&"rest.person@example.com".to_owned()));
    let (status, removed) = call(
        &app,
        reqwest::Method::POST,
        &format!("/unified/groups/{group}/members/remove"),
        Some(body),
        None,
    )
    .await;
    assert_eq!(status, 200, "{removed}");
    assert!(!members_at_emulator(&app, &group).contains(&"rest.person@example.com".to_owned()));
    let other = joined_users(&app)[1].clone();
    let (status, deactivated) = call(
        &app,
        reqwest::Method::POST,
        &format!("/unified/users/{other}/deactivate"),
        None,
        None,
    )
    .await;
    assert_eq!(status, 200, "{deactivated}");
    assert_eq!(deactivated["result"]["status"], "DEACTIVATED");
    let (status, deleted) = call(
        &app,
        reqwest::Method::DELETE,
        &format!("/unified/users/{email}"),
        None,
        None,
    )
    .await;
    assert_eq!(status, 200, "{deleted}");
    assert!(deleted["result"]["id"].is_string());
    assert!(app.emulator().state().user(&email).is_none());
    let (status, missing) = call(
        &app,
        reqwest::Method::GET,
        &format!("/unified/users/{email}"),
        None,
        None,
    )
    .await;
    assert_eq!(status, 404, "{missing}");
    // A failed write keeps GraphQL's user error codes.
    let (status, dup) = call(
        &app,
        reqwest::Method::POST,
        "/unified/users",
        Some(json!({ "email": "not-an-address", "first_name": "A", "last_name": "B" })),
        None,
    )
    .await;
    assert_eq!(status, 400, "{dup}");
    assert_eq!(dup["errors"][0]["extensions"]["code"], "INVALID_EMAIL");
    assert_eq!(dup["outcome"], "FAILED");
}
