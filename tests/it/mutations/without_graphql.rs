//! The directory's write entry points called directly, as governance and the SCIM proxy will:
//! typed inputs and a lane, no GraphQL, and the mirror shows the change at once.

use scimgate::directory::{Invite, WriteLane};
use scimgate::keys::{Email, GroupId};
use serde_json::json;

use super::{group_path, log_since, members_at_emulator, writes};
use crate::support::TestApp;

#[tokio::test]
async fn a_caller_without_graphql_removes_a_member_with_one_patch_and_reads_it_at_once() {
    let app = TestApp::one(120, 4).await;
    app.warm().await;
    let dir = app.gateway.dirs.all()[0].clone();
    let group = dir
        .snapshot()
        .groups()
        .iter()
        .find(|g| !g.member_keys.is_empty())
        .cloned()
        .expect("a seeded group with members");
    let member = group.member_keys.get(0).to_owned();
    let mark = app.emulator().requests().len();

    let rec = dir
        .remove_members(
            &GroupId::new(group.id.as_str()),
            &[dir.user_key(&member)],
            WriteLane::Critical,
        )
        .await
        .expect("the removal is confirmed");

    assert!(!rec.member_keys.contains(&member), "the answer shows it");
    let log = log_since(&app, mark);
    assert_eq!(
        writes(&log),
        vec![("PATCH".to_owned(), group_path(&app, &group.id))],
        "one PATCH, nothing else sent"
    );
    assert!(!members_at_emulator(&app, &group.id).contains(&member));
    let calls = app.upstream_calls();
    let mirrored = dir.snapshot().group(&group.id).cloned().expect("the group");
    assert!(!mirrored.member_keys.contains(&member), "read-your-writes");
    assert!(dir.snapshot().groups_of(&member).all(|g| g.id != group.id));
    assert_eq!(app.upstream_calls(), calls, "reading it back costs nothing");
}

#[tokio::test]
async fn a_caller_without_graphql_invites_and_graphql_reads_the_invitee_without_a_call() {
    let app = TestApp::one(20, 2).await;
    app.warm().await;
    let dir = app.gateway.dirs.all()[0].clone();
    let email = Email::parse("new.person@example.com").expect("an address");
    let invite = Invite {
        email: &email,
        given_name: "New",
        family_name: "Person",
    };

    let rec = dir
        .invite_user(invite, WriteLane::Write)
        .await
        .expect("the invitation is sent");

    assert_eq!(rec.email(), "new.person@example.com");
    assert!(dir.has_open_invite(rec.key()));
    let calls = app.upstream_calls();
    let data = app
        .data(
            "query($email: String!) { org { user(email: $email) { givenName status } } }",
            json!({ "email": "new.person@example.com" }),
        )
        .await;
    assert_eq!(data["org"]["user"]["givenName"], "New");
    assert_eq!(data["org"]["user"]["status"], "INVITED");
    assert_eq!(app.upstream_calls(), calls, "served from the mirror");
}
