//! Resolver families against the in-memory fake (`directory::FakeDirectory`), reached through the
//! same handle the real directory is: no emulator, no upstream client, no budget, no refresh.
//! Each test asserts on the answer's `data` and `errors`.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};

use super::ids::{GlobalId, Kind};
use super::{GatewaySchema, build_schema_over, prepare};
use crate::auth::{OrgScope, Principal, Role};
use crate::directory::{
    Dialect, Directories, DirectoryError, FakeDirectory, Person, Team, WriteError,
};
use crate::keys::OrgId;

fn acme() -> Arc<FakeDirectory> {
    Arc::new(
        FakeDirectory::new(
            "acme",
            Dialect::Amplitude,
            &[
                Person("ada@acme.test", "Ada", "Lovelace", true),
                Person("grace@acme.test", "Grace", "Hopper", true),
                Person("alan@acme.test", "Alan", "Turing", true),
                Person("new@acme.test", "NO_GIVEN_NAME", "NO_FAMILY_NAME", true),
                Person("edsger@acme.test", "Edsger", "Dijkstra", false),
            ],
            &[
                Team("1", "Admins", &["ada@acme.test", "grace@acme.test"]),
                Team(
                    "2",
                    "Analysts",
                    &["grace@acme.test", "alan@acme.test", "gone@acme.test"],
                ),
            ],
        )
        // Grace has real names but has not been seen accepting the gateway's invitation.
        .with_invites(&["Grace@acme.test"]),
    )
}

fn globex() -> Arc<FakeDirectory> {
    Arc::new(FakeDirectory::new(
        "globex",
        Dialect::Rfc7644,
        &[Person("hank@globex.test", "Hank", "Scorpio", true)],
        &[],
    ))
}

fn schema_of(fakes: &[&Arc<FakeDirectory>]) -> GatewaySchema {
    build_schema_over(Directories::new(fakes.iter().map(|f| f.handle()).collect()))
}

fn key(role: Role, orgs: &[&str]) -> Principal {
    Principal {
        name: "unit".into(),
        role,
        orgs: if orgs.is_empty() {
            OrgScope::All
        } else {
            OrgScope::Only(orgs.iter().map(|o| OrgId::new(o)).collect::<HashSet<_>>())
        },
    }
}

async fn run(schema: &GatewaySchema, who: &Principal, query: &str) -> Value {
    let request =
        prepare(async_graphql::Request::new(query), schema, who, "test").expect("within limits");
    serde_json::to_value(schema.execute(request).await).unwrap()
}

fn emails(connection: &Value) -> Vec<&str> {
    connection["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["email"].as_str().unwrap())
        .collect()
}

/// `org(id: "acme") { <fields> }` as `who`, answered without errors.
async fn acme_org(s: &GatewaySchema, fields: &str) -> Value {
    let body = run(
        s,
        &key(Role::Read, &[]),
        &format!(r#"{{ org(id: "acme") {{ {fields} }} }}"#),
    )
    .await;
    assert!(body.get("errors").is_none(), "{body}");
    body["data"]["org"].clone()
}

#[tokio::test]
async fn a_users_page_on_the_fake_pages_filtered_forwards_and_backwards() {
    let s = schema_of(&[&acme()]);
    let page = "edges { node { email status } } pageInfo { hasNextPage hasPreviousPage startCursor endCursor }";
    // Forwards, in a group, by e-mail: two, then the rest after the cursor.
    let first = acme_org(
        &s,
        &format!(r#"users(first: 2, filter: {{ inNoGroup: false }}, orderBy: {{ field: EMAIL }}) {{ totalCount {page} }}"#),
    )
    .await;
    let first = &first["users"];
    assert_eq!(first["totalCount"], 3);
    assert_eq!(emails(first), ["ada@acme.test", "alan@acme.test"]);
    assert_eq!(first["pageInfo"]["hasNextPage"], true);
    assert_eq!(first["pageInfo"]["hasPreviousPage"], false);
    let after = first["pageInfo"]["endCursor"].as_str().unwrap();
    let next = acme_org(
        &s,
        &format!(r#"users(first: 2, after: "{after}", filter: {{ inNoGroup: false }}, orderBy: {{ field: EMAIL }}) {{ {page} }}"#),
    )
    .await;
    assert_eq!(emails(&next["users"]), ["grace@acme.test"]);
    assert_eq!(next["users"]["pageInfo"]["hasNextPage"], false);
    assert_eq!(next["users"]["pageInfo"]["hasPreviousPage"], true);

    // Backwards, invited only: the placeholder names and the gateway's open invitation.
    let last = acme_org(
        &s,
        &format!(r#"users(last: 1, filter: {{ status: INVITED }}, orderBy: {{ field: EMAIL }}) {{ {page} }}"#),
    )
    .await;
    let last = &last["users"];
    assert_eq!(
        last["edges"],
        json!([{ "node": { "email": "new@acme.test", "status": "INVITED" } }])
    );
    assert_eq!(last["pageInfo"]["hasPreviousPage"], true);
    assert_eq!(last["pageInfo"]["hasNextPage"], false);
    let before = last["pageInfo"]["startCursor"].as_str().unwrap();
    let earlier = acme_org(
        &s,
        &format!(r#"users(last: 1, before: "{before}", filter: {{ status: INVITED }}, orderBy: {{ field: EMAIL }}) {{ {page} }}"#),
    )
    .await;
    assert_eq!(
        earlier["users"]["edges"],
        json!([{ "node": { "email": "grace@acme.test", "status": "INVITED" } }])
    );
    assert_eq!(earlier["users"]["pageInfo"]["hasPreviousPage"], false);

    // The other filters and the descending order.
    let other = acme_org(
        &s,
        r#"deactivated: users(filter: { status: DEACTIVATED }) { edges { node { email } } }
           search: users(filter: { search: "HOP" }) { edges { node { email } } }
           analysts: users(filter: { memberOf: "2" }, orderBy: { field: EMAIL, direction: DESC }) { edges { node { email } } }"#,
    )
    .await;
    assert_eq!(emails(&other["deactivated"]), ["edsger@acme.test"]);
    assert_eq!(emails(&other["search"]), ["grace@acme.test"]);
    assert_eq!(
        emails(&other["analysts"]),
        ["grace@acme.test", "alan@acme.test"]
    );
}

#[tokio::test]
async fn group_members_and_a_users_groups_on_the_fake() {
    let s = schema_of(&[&acme()]);
    let org = acme_org(
        &s,
        r#"groups(orderBy: { field: NAME, direction: DESC }) { edges { node { name memberCount members { edges { node { email displayName source } } } } } }
           group(id: "1") { name members(last: 1) { edges { node { email } } } }
           user(email: "GRACE@acme.test") { email groups { edges { node { name } } } }
           users(first: 3) { edges { node { email groups { edges { node { name } } } } } }"#,
    )
    .await;
    let groups = org["groups"]["edges"].as_array().unwrap();
    assert_eq!(groups.len(), 2);
    // A member only the group lists appears with what the group says of it.
    assert_eq!(
        groups[0]["node"],
        json!({ "name": "Analysts", "memberCount": 3, "members": { "edges": [
            { "node": { "email": "alan@acme.test", "displayName": "Alan Turing", "source": "MIRROR" } },
            { "node": { "email": "gone@acme.test", "displayName": "gone@acme.test", "source": "MIRROR" } },
            { "node": { "email": "grace@acme.test", "displayName": "Grace Hopper", "source": "MIRROR" } },
        ] } })
    );
    assert_eq!(groups[1]["node"]["name"], "Admins");
    // A group read on its own pages its members too.
    assert_eq!(org["group"]["name"], "Admins");
    assert_eq!(emails(&org["group"]["members"]), ["grace@acme.test"]);
    // A user's groups, read on their own and from a page.
    assert_eq!(
        org["user"],
        json!({ "email": "grace@acme.test", "groups": { "edges": [
            { "node": { "name": "Admins" } }, { "node": { "name": "Analysts" } },
        ] } })
    );
    assert_eq!(
        org["users"]["edges"],
        json!([
            { "node": { "email": "ada@acme.test", "groups": { "edges": [{ "node": { "name": "Admins" } }] } } },
            { "node": { "email": "grace@acme.test", "groups": { "edges": [
                { "node": { "name": "Admins" } }, { "node": { "name": "Analysts" } },
            ] } } },
            { "node": { "email": "alan@acme.test", "groups": { "edges": [{ "node": { "name": "Analysts" } }] } } },
        ])
    );
}

#[tokio::test]
async fn an_org_the_key_may_not_see_is_absent_on_the_fake() {
    let (a, g) = (acme(), globex());
    let s = schema_of(&[&a, &g]);
    let only_acme = key(Role::Admin, &["acme"]);
    let hank = GlobalId::new(Kind::User, "globex", "hank@globex.test").encode();
    let globex_id = GlobalId::new(Kind::Org, "globex", "").encode();
    let query = format!(
        r#"{{ orgs {{ slug }} org(id: "globex") {{ name }} byGlobalId: org(id: "{globex_id}") {{ name }} node(id: "{hank}") {{ id }} }}"#
    );
    let body = run(&s, &only_acme, &query).await;
    assert!(body.get("errors").is_none(), "{body}");
    assert_eq!(
        body["data"],
        json!({ "orgs": [{ "slug": "acme" }], "org": null, "byGlobalId": null, "node": null })
    );
    // A key that may see both finds globex and its user, by global id, with its own dialect.
    let body = run(&s, &key(Role::Read, &[]), &query).await;
    assert!(body.get("errors").is_none(), "{body}");
    assert_eq!(
        body["data"],
        json!({ "orgs": [{ "slug": "acme" }, { "slug": "globex" }], "org": { "name": "globex" },
                "byGlobalId": { "name": "globex" }, "node": { "id": hank } })
    );
    let body = run(
        &s,
        &key(Role::Read, &["globex"]),
        r#"{ org(id: "globex") { profile } }"#,
    )
    .await;
    assert_eq!(
        body["data"],
        json!({ "org": { "profile": "RFC7644" } }),
        "{body}"
    );
}

#[tokio::test]
async fn an_orgs_budget_and_mirror_state_come_from_the_directory_on_the_fake() {
    let s = schema_of(&[&acme()]);
    let org = acme_org(
        &s,
        "profile budget { limit remaining emissionIntervalMs credentialRevoked } sync { complete userCount groupCount maxAgeSeconds }",
    )
    .await;
    assert_eq!(
        org,
        json!({
            "profile": "AMPLITUDE",
            "budget": { "limit": 100, "remaining": 100, "emissionIntervalMs": 600.0, "credentialRevoked": false },
            "sync": { "complete": true, "userCount": 5, "groupCount": 2, "maxAgeSeconds": 300.0 },
        })
    );
}

#[tokio::test]
async fn reads_the_directory_cannot_answer_are_coded_errors_on_the_fake() {
    let a = acme();
    let s = schema_of(&[&a]);
    a.fail_reads(DirectoryError::RateLimited {
        retry_after: Some(Duration::from_millis(1500)),
    });
    let body = run(
        &s,
        &key(Role::Read, &[]),
        r#"{ org(id: "acme") { slug users(first: 1) { totalCount } } }"#,
    )
    .await;
    // The field fails on its own, as on a real directory; the organization still answers.
    assert_eq!(body["data"], json!({ "org": { "slug": "acme" } }), "{body}");
    let error = &body["errors"][0];
    assert_eq!(error["path"], json!(["org", "users"]), "{body}");
    assert_eq!(
        (
            &error["extensions"]["code"],
            &error["extensions"]["retryAfter"],
            &error["extensions"]["retryAfterMs"]
        ),
        (&json!("RATE_LIMITED"), &json!(2), &json!(1500)),
        "{body}"
    );
    // What the mirror holds is read from it; a point read it cannot answer would ask the
    // upstream, which is unavailable.
    a.fail_reads(DirectoryError::Unavailable);
    let reader = key(Role::Read, &[]);
    let known = r#"{ org(id: "acme") { user(email: "ada@acme.test") { email } } }"#;
    let body = run(&s, &reader, known).await;
    assert!(body.get("errors").is_none(), "{body}");
    assert_eq!(
        body["data"],
        json!({ "org": { "user": { "email": "ada@acme.test" } } })
    );
    let unknown = r#"{ org(id: "acme") { user(email: "zed@acme.test") { email } } }"#;
    let body = run(&s, &reader, unknown).await;
    assert_eq!(body["data"], json!({ "org": null }), "{body}");
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "UPSTREAM_UNAVAILABLE",
        "{body}"
    );
    assert_eq!(body["errors"][0]["path"], json!(["org", "user"]), "{body}");
}

#[tokio::test]
async fn a_mutations_write_errors_are_mapped_to_user_errors_on_the_fake() {
    let a = acme();
    let s = schema_of(&[&a]);
    let writer = key(Role::Write, &[]);
    let deactivate = r#"mutation { deactivateUser(input: { id: "Ada@acme.test" }) {
        outcome user { email } userErrors { code field retryAfter retryAfterMs } } }"#;
    // Each way a write can fail, as the directory reports it, and the payload it becomes.
    let cases = [
        (
            WriteError::NotApplied(DirectoryError::RateLimited {
                retry_after: Some(Duration::from_millis(2500)),
            }),
            json!({ "outcome": "FAILED", "user": null, "userErrors": [
                { "code": "RATE_LIMITED", "field": ["input", "id"], "retryAfter": 3, "retryAfterMs": 2500 }] }),
        ),
        (
            WriteError::NotFound,
            json!({ "outcome": "FAILED", "user": null, "userErrors": [
                { "code": "NOT_FOUND", "field": ["input", "id"], "retryAfter": null, "retryAfterMs": null }] }),
        ),
        (
            WriteError::Rejected { status: 400 },
            json!({ "outcome": "FAILED", "user": null, "userErrors": [
                { "code": "UPSTREAM_REJECTED", "field": ["input", "id"], "retryAfter": null, "retryAfterMs": null }] }),
        ),
        (
            WriteError::Unknown {
                reason: "no answer".into(),
            },
            json!({ "outcome": "UNKNOWN", "user": null, "userErrors": [
                { "code": "OUTCOME_UNKNOWN", "field": ["input", "id"], "retryAfter": null, "retryAfterMs": null }] }),
        ),
    ];
    for (failure, payload) in cases {
        a.fail_writes(failure.clone());
        let body = run(&s, &writer, deactivate).await;
        assert!(body.get("errors").is_none(), "{failure:?}: {body}");
        assert_eq!(body["data"]["deactivateUser"], payload, "{failure:?}");
    }
    // Each reached the directory's entry point once, in the critical lane, by the user's key.
    assert_eq!(
        a.writes(),
        vec!["deactivate_user ada@acme.test Critical"; 4]
    );
}

#[tokio::test]
async fn a_mutation_calls_its_entry_point_once_and_a_refused_input_none_on_the_fake() {
    let a = acme();
    let s = schema_of(&[&a]);
    let writer = key(Role::Write, &[]);
    let body = run(
        &s,
        &writer,
        r#"mutation {
            add: addGroupMembers(input: { groupId: "1", userIds: ["alan@acme.test"] }) { outcome group { name } userErrors { code } }
            bad: inviteUser(input: { email: "<script>@x.com", givenName: "X", familyName: "Y" }) { outcome userErrors { code field } }
            stranger: addGroupMembers(input: { groupId: "1", userIds: ["zed@acme.test"] }) { outcome userErrors { code field } }
        }"#,
    )
    .await;
    assert!(body.get("errors").is_none(), "{body}");
    assert_eq!(
        body["data"],
        json!({
            "add": { "outcome": "SUCCESS", "group": { "name": "Admins" }, "userErrors": [] },
            "bad": { "outcome": "FAILED", "userErrors": [{ "code": "INVALID_EMAIL", "field": ["input", "email"] }] },
            "stranger": { "outcome": "FAILED", "userErrors": [{ "code": "NOT_FOUND", "field": ["input", "userIds", "0"] }] },
        })
    );
    // Only the valid input reached the directory, in the write lane.
    assert_eq!(a.writes(), ["add_members 1 alan@acme.test Write"]);
    // An organization the key may not see is not found, and its directory is never called.
    let g = globex();
    let s = schema_of(&[&a, &g]);
    let hank = GlobalId::new(Kind::User, "globex", "hank@globex.test").encode();
    let body = run(
        &s,
        &key(Role::Admin, &["acme"]),
        &format!(r#"mutation {{ deleteUser(input: {{ id: "{hank}" }}) {{ outcome userErrors {{ code field }} }} }}"#),
    )
    .await;
    assert_eq!(
        body["data"]["deleteUser"],
        json!({ "outcome": "FAILED", "userErrors": [{ "code": "NOT_FOUND", "field": ["input", "id"] }] }),
        "{body}"
    );
    assert!(g.writes().is_empty());
}
