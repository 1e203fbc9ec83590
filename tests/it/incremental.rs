//! RFC 7644 services grown up: refreshes between full ones read only what changed
//! (`meta.lastModified ge`), and writes computed from the mirror are conditional (`If-Match`),
//! so another admin's change is never overwritten unseen. Counted at the emulator.

use std::time::Duration;

use reqwest::Method;
use scimgate::emulator::LoggedRequest;
use scimgate::scim::Profile;
use serde_json::{Value, json};

use crate::mutations::{assert_failed_with, assert_success, group_id_in, mutate, user_id};
use crate::support::{OrgSpec, TestApp, spawn_app};

/// Another admin, writing straight to the SCIM service behind the gateway's back.
async fn other_admin(app: &TestApp, method: Method, path: &str, body: Value) -> Value {
    let emu = app.emulator();
    let response = reqwest::Client::new()
        .request(method, format!("{}{path}", emu.base_url()))
        .bearer_auth(emu.token())
        .header("content-type", "application/scim+json")
        .json(&body)
        .send()
        .await
        .expect("the emulator answers");
    assert!(response.status().is_success(), "{}", response.status());
    response.json().await.unwrap_or(Value::Null)
}

fn patch(ops: Value) -> Value {
    json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": ops})
}

fn since(app: &TestApp, mark: usize) -> Vec<LoggedRequest> {
    app.emulator().requests().split_off(mark)
}

fn decoded(r: &LoggedRequest) -> String {
    percent_encoding::percent_decode_str(&r.path.replace('+', " "))
        .decode_utf8_lossy()
        .into_owned()
}

async fn rfc_app(users: usize, groups: usize, full_every: Option<Duration>) -> TestApp {
    spawn_app(vec![OrgSpec {
        profile: Profile::Rfc7644,
        full_refresh_every: full_every,
        ..OrgSpec::new("acme", users, groups)
    }])
    .await
}

const SYNC: &str = "{ org { sync { lastRefreshKind incremental lastFullRefreshAt userCount } } }";

async fn sync(app: &TestApp) -> Value {
    app.data(SYNC, json!({})).await["org"]["sync"].clone()
}

async fn given_name(app: &TestApp, email: &str) -> Option<String> {
    let data = app
        .data(
            "query($e: String!) { org { user(email: $e) { givenName } } }",
            json!({ "e": email }),
        )
        .await;
    data["org"]["user"]["givenName"].as_str().map(str::to_owned)
}

#[tokio::test]
async fn refreshes_between_full_ones_read_only_what_changed_and_a_full_one_finds_deletions() {
    let app = rfc_app(250, 4, None).await;
    let mark = app.emulator().requests().len();
    app.warm().await;
    let cold: Vec<String> = since(&app, mark).iter().map(decoded).collect();
    // The capabilities once, then ceil(250/100) + 1 pages, none filtered.
    assert_eq!(cold.len(), 5, "{cold:#?}");
    assert!(cold[0].ends_with("/ServiceProviderConfig"), "{cold:#?}");
    assert!(cold.iter().all(|p| !p.contains("filter=")), "{cold:#?}");
    let s = sync(&app).await;
    assert_eq!(s["lastRefreshKind"], "FULL", "{s}");
    assert_eq!(s["incremental"], true, "{s}");

    // Behind the gateway's back: two renames, a newcomer, a member removed, a user deleted.
    let state = app.emulator().state();
    let users = state.users();
    let (a, b, gone) = (&users[3], &users[200], &users[7]);
    for (u, name) in [(a, "Renamed-A"), (b, "Renamed-B")] {
        let op = patch(json!([{"op": "replace", "path": "name.givenName", "value": name}]));
        let path = format!("/Users/{}", u.id.as_deref().unwrap());
        other_admin(&app, Method::PATCH, &path, op).await;
    }
    let newcomer = json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": "newcomer@example.com",
        "name": {"givenName": "New", "familyName": "Comer"},
        "emails": [{"primary": true, "value": "newcomer@example.com"}],
        "active": true
    });
    other_admin(&app, Method::POST, "/Users", newcomer).await;
    let group = state.groups()[1].clone();
    let gid = group.id.clone().unwrap().to_string();
    let leaving = group.members[0].value.clone();
    let op = patch(json!([{"op": "remove", "path": format!("members[value eq \"{leaving}\"]")}]));
    other_admin(&app, Method::PATCH, &format!("/Groups/{gid}"), op).await;
    let gone_path = format!("/Users/{}", gone.id.as_deref().unwrap());
    other_admin(&app, Method::DELETE, &gone_path, Value::Null).await;

    let mark = app.emulator().requests().len();
    app.warm().await;
    let delta = since(&app, mark);
    let paths: Vec<String> = delta.iter().map(decoded).collect();
    // One page of changed users and one of changed groups: 2 calls, not 4.
    assert_eq!(paths.len(), 2, "{paths:#?}");
    assert!(
        paths
            .iter()
            .all(|p| p.contains("filter=meta.lastModified ge \"")),
        "{paths:#?}"
    );
    assert!(paths[0].contains("/Users?") && paths[1].contains("/Groups?"));
    assert!(delta.iter().all(|r| r.status == 200));

    let mark = app.emulator().requests().len();
    assert_eq!(
        given_name(&app, &a.user_name).await.as_deref(),
        Some("Renamed-A")
    );
    assert_eq!(
        given_name(&app, &b.user_name).await.as_deref(),
        Some("Renamed-B")
    );
    assert_eq!(
        given_name(&app, "newcomer@example.com").await.as_deref(),
        Some("New")
    );
    let data = app
        .data(
            "query($id: ID!) { org { group(id: $id) { memberCount } } }",
            json!({ "id": gid }),
        )
        .await;
    assert_eq!(data["org"]["group"]["memberCount"], group.members.len() - 1);
    // A deletion is not listed anywhere: the mirror still shows the user until a full refresh.
    assert!(given_name(&app, &gone.user_name).await.is_some());
    let s = sync(&app).await;
    assert_eq!(s["lastRefreshKind"], "INCREMENTAL", "{s}");
    assert_eq!(s["userCount"], 251, "{s}");
    assert_eq!(since(&app, mark).len(), 0, "reads came from the mirror");

    // Asked for in full: every page again, and the deleted user is gone.
    let mark = app.emulator().requests().len();
    let p = mutate(&app, "refreshDirectory", json!({ "full": true })).await;
    assert_success(&p);
    assert_eq!(p["estimatedCalls"], 4, "{p}");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let s = sync(&app).await;
        if s["lastRefreshKind"] == "FULL" && s["userCount"] == 250 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no full refresh: {s}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let full: Vec<String> = since(&app, mark).iter().map(decoded).collect();
    assert_eq!(full.len(), 4, "{full:#?}");
    assert!(full.iter().all(|p| !p.contains("filter=")), "{full:#?}");
    assert!(given_name(&app, &gone.user_name).await.is_none());
}

#[tokio::test]
async fn a_full_refresh_runs_when_due_and_amplitude_is_never_asked_for_changes() {
    // Due at every refresh.
    let app = rfc_app(150, 2, Some(Duration::ZERO)).await;
    app.warm().await;
    let mark = app.emulator().requests().len();
    app.warm().await;
    let paths: Vec<String> = since(&app, mark).iter().map(decoded).collect();
    assert_eq!(paths.len(), 3, "{paths:#?}");
    assert!(paths.iter().all(|p| !p.contains("filter=")), "{paths:#?}");
    assert_eq!(sync(&app).await["lastRefreshKind"], "FULL");

    let amp = TestApp::one(150, 2).await;
    amp.warm().await;
    amp.warm().await;
    let paths: Vec<String> = amp.emulator().requests().iter().map(decoded).collect();
    assert_eq!(paths.len(), 6, "{paths:#?}");
    assert!(
        paths
            .iter()
            .all(|p| !p.contains("filter=") && !p.contains("ServiceProviderConfig")),
        "{paths:#?}"
    );
    let s = sync(&amp).await;
    assert_eq!(
        (s["lastRefreshKind"].clone(), s["incremental"].clone()),
        (json!("FULL"), json!(false))
    );
}

#[tokio::test]
async fn an_update_over_another_admins_change_is_a_conflict_and_overwrites_nothing() {
    let app = rfc_app(20, 2, None).await;
    app.warm().await;
    let state = app.emulator().state();
    let user = state.users()[4].clone();
    let upstream = user.id.clone().unwrap();
    let id = user_id(&app, &user.user_name).await;
    let op = patch(json!([{"op": "replace", "path": "name.givenName", "value": "Theirs"}]));
    other_admin(&app, Method::PATCH, &format!("/Users/{upstream}"), op).await;

    let mark = app.emulator().requests().len();
    let p = mutate(&app, "updateUser", json!({ "id": id, "givenName": "Mine" })).await;
    let error = assert_failed_with(&p, "CONFLICT");
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains("changed upstream"),
        "{error}"
    );
    let sent: Vec<(String, u16)> = since(&app, mark)
        .iter()
        .map(|r| (r.method.clone(), r.status))
        .collect();
    // The conditional PUT refused, then the user read again: nothing overwritten.
    assert_eq!(sent, vec![("PUT".into(), 412), ("GET".into(), 200)]);
    assert_eq!(state.user(&upstream).unwrap().given_name(), Some("Theirs"));
    let mark = app.emulator().requests().len();
    assert_eq!(
        given_name(&app, &user.user_name).await.as_deref(),
        Some("Theirs")
    );
    assert!(
        since(&app, mark).is_empty(),
        "the mirror holds the re-read user"
    );

    // Repeated now that the mirror holds the current version: applied, conditionally.
    let p = mutate(&app, "updateUser", json!({ "id": id, "givenName": "Mine" })).await;
    assert_success(&p);
    assert_eq!(p["user"]["givenName"], "Mine");
    assert_eq!(state.user(&upstream).unwrap().given_name(), Some("Mine"));
    // And again: the version the PUT answered with is the mirror's, so no conflict.
    let p = mutate(
        &app,
        "updateUser",
        json!({ "id": id, "familyName": "Twice" }),
    )
    .await;
    assert_success(&p);
}

#[tokio::test]
async fn a_rename_over_another_admins_change_is_a_conflict_but_revocations_never_are() {
    let app = rfc_app(20, 2, None).await;
    app.warm().await;
    let state = app.emulator().state();
    let group = state.groups()[1].clone();
    assert!(!group.members.is_empty());
    let upstream = group.id.clone().unwrap().to_string();
    let gid = group_id_in(&app, None, &upstream).await;
    let op = patch(json!([{"op": "replace", "path": "displayName", "value": "Theirs"}]));
    other_admin(&app, Method::PATCH, &format!("/Groups/{upstream}"), op).await;

    let mark = app.emulator().requests().len();
    let p = mutate(&app, "renameGroup", json!({ "id": gid, "name": "Mine" })).await;
    assert_failed_with(&p, "CONFLICT");
    let sent: Vec<(String, u16)> = since(&app, mark)
        .iter()
        .map(|r| (r.method.clone(), r.status))
        .collect();
    assert_eq!(sent, vec![("PATCH".into(), 412), ("GET".into(), 200)]);
    assert_eq!(state.group(&upstream).unwrap().display_name, "Theirs");

    // The group changed again behind the gateway's back; a member's removal still goes out.
    let op = patch(json!([{"op": "replace", "path": "displayName", "value": "Again"}]));
    other_admin(&app, Method::PATCH, &format!("/Groups/{upstream}"), op).await;
    let member = state.user(&group.members[0].value).unwrap();
    let uid = user_id(&app, &member.user_name).await;
    let p = mutate(
        &app,
        "removeGroupMembers",
        json!({ "groupId": gid, "userIds": [uid] }),
    )
    .await;
    assert_success(&p);
    assert!(
        state
            .group(&upstream)
            .unwrap()
            .members
            .iter()
            .all(|m| m.value != group.members[0].value)
    );
}
