//! Resolver families run against preloaded directories (`Directory::preloaded`): the whole
//! schema, no emulator, no HTTP. Each test asserts on the answer's `data` and `errors`.

use std::collections::HashSet;

use serde_json::{Value, json};

use super::ids::{GlobalId, Kind};
use super::{GatewaySchema, build_schema, prepare};
use crate::auth::{OrgScope, Principal, Role};
use crate::config::LimitsConfig;
use crate::directory::{Dialect, Directories, Directory, Person, Team};
use crate::keys::OrgId;

fn acme() -> Directory {
    Directory::preloaded(
        "acme",
        Dialect::Amplitude,
        &[
            Person("ada@acme.test", "Ada", "Lovelace", true),
            Person("grace@acme.test", "Grace", "Hopper", true),
            Person("alan@acme.test", "Alan", "Turing", true),
            Person("new@acme.test", "NO_GIVEN_NAME", "NO_FAMILY_NAME", true),
            Person("edsger@acme.test", "Edsger", "Dijkstra", true),
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
}

fn globex() -> Directory {
    Directory::preloaded(
        "globex",
        Dialect::Amplitude,
        &[Person("hank@globex.test", "Hank", "Scorpio", true)],
        &[],
    )
}

fn schema() -> GatewaySchema {
    build_schema(
        Directories::new(vec![acme(), globex()]),
        &LimitsConfig::default(),
        None,
        None,
    )
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

#[tokio::test]
async fn a_users_page_filters_and_orders_both_ways() {
    let s = schema();
    let admin = key(Role::Admin, &[]);
    let body = run(
        &s,
        &admin,
        r#"{ org(id: "acme") {
            asc: users(orderBy: { field: EMAIL }) { totalCount edges { node { email } } }
            desc: users(orderBy: { field: EMAIL, direction: DESC }, first: 2) { edges { node { email } } pageInfo { hasNextPage } }
            search: users(filter: { search: "GRA" }) { edges { node { email } } }
            invited: users(filter: { status: INVITED }) { edges { node { email status } } }
            lonely: users(filter: { inNoGroup: true }, orderBy: { field: EMAIL }) { edges { node { email } } }
            grouped: users(filter: { inNoGroup: false }, orderBy: { field: EMAIL }) { edges { node { email } } }
        } }"#,
    )
    .await;
    assert!(body.get("errors").is_none(), "{body}");
    let org = &body["data"]["org"];
    assert_eq!(org["asc"]["totalCount"], 5);
    assert_eq!(
        emails(&org["asc"]),
        [
            "ada@acme.test",
            "alan@acme.test",
            "edsger@acme.test",
            "grace@acme.test",
            "new@acme.test"
        ]
    );
    assert_eq!(emails(&org["desc"]), ["new@acme.test", "grace@acme.test"]);
    assert_eq!(org["desc"]["pageInfo"]["hasNextPage"], true);
    assert_eq!(emails(&org["search"]), ["grace@acme.test"]);
    assert_eq!(
        org["invited"]["edges"],
        json!([{ "node": { "email": "new@acme.test", "status": "INVITED" } }])
    );
    assert_eq!(
        emails(&org["lonely"]),
        ["edsger@acme.test", "new@acme.test"]
    );
    assert_eq!(
        emails(&org["grouped"]),
        ["ada@acme.test", "alan@acme.test", "grace@acme.test"]
    );
}

#[tokio::test]
async fn members_of_a_group_and_groups_of_a_user() {
    let s = schema();
    let admin = key(Role::Admin, &[]);
    let body = run(
        &s,
        &admin,
        r#"{ org(id: "acme") {
            groups(orderBy: { field: NAME }) { edges { node { name memberCount members { edges { node { email } } } } } }
            user(email: "Grace@Acme.test") { email groups { edges { node { name } } } }
        } }"#,
    )
    .await;
    assert!(body.get("errors").is_none(), "{body}");
    let org = &body["data"]["org"];
    let groups = org["groups"]["edges"].as_array().unwrap();
    assert_eq!(groups[0]["node"]["name"], "Admins");
    assert_eq!(
        emails(&groups[0]["node"]["members"]),
        ["ada@acme.test", "grace@acme.test"]
    );
    // A member the user list does not show still appears, with what the group says of it.
    assert_eq!(groups[1]["node"]["memberCount"], 3);
    assert_eq!(
        emails(&groups[1]["node"]["members"]),
        ["alan@acme.test", "gone@acme.test", "grace@acme.test"]
    );
    assert_eq!(org["user"]["email"], "grace@acme.test");
    assert_eq!(
        org["user"]["groups"]["edges"],
        json!([{ "node": { "name": "Admins" } }, { "node": { "name": "Analysts" } }])
    );
}

#[tokio::test]
async fn an_organization_the_key_may_not_see_is_absent() {
    let s = schema();
    let only_acme = key(Role::Admin, &["acme"]);
    let body = run(
        &s,
        &only_acme,
        r#"{ orgs { slug } org(id: "globex") { name } }"#,
    )
    .await;
    assert!(body.get("errors").is_none(), "{body}");
    assert_eq!(
        body["data"],
        json!({ "orgs": [{ "slug": "acme" }], "org": null })
    );
    // Its objects too, by global id: absent from `node`, `NOT_FOUND` to a mutation.
    let hank = GlobalId::new(Kind::User, "globex", "hank@globex.test").encode();
    let query = format!(r#"{{ node(id: "{hank}") {{ id }} }}"#);
    let body = run(&s, &only_acme, &query).await;
    assert_eq!(body["data"], json!({ "node": null }), "{body}");
    let mutation = format!(
        r#"mutation {{ deactivateUser(input: {{ id: "{hank}" }}) {{ outcome userErrors {{ code field }} }} }}"#
    );
    let body = run(&s, &only_acme, &mutation).await;
    assert_eq!(
        body["data"]["deactivateUser"],
        json!({ "outcome": "FAILED", "userErrors": [{ "code": "NOT_FOUND", "field": ["input", "id"] }] }),
        "{body}"
    );
    // The key that may see it finds it.
    let body = run(&s, &key(Role::Admin, &[]), &query).await;
    assert_eq!(body["data"]["node"]["id"], hank.as_str(), "{body}");
}

#[tokio::test]
async fn a_mutations_refusals_are_user_errors_and_nothing_is_sent() {
    let s = schema();
    let writer = key(Role::Write, &["acme"]);
    let body = run(
        &s,
        &writer,
        r#"mutation {
            bad: inviteUser(input: { email: "<script>@x.com", givenName: "X", familyName: "Y" }) { outcome userErrors { code field } }
            blank: updateUser(input: { id: "ada@acme.test", givenName: "   " }) { outcome userErrors { code field } }
        }"#,
    )
    .await;
    assert!(body.get("errors").is_none(), "{body}");
    assert_eq!(
        body["data"]["bad"],
        json!({ "outcome": "FAILED", "userErrors": [{ "code": "INVALID_EMAIL", "field": ["input", "email"] }] })
    );
    assert_eq!(body["data"]["blank"]["outcome"], "FAILED");
    assert_eq!(
        body["data"]["blank"]["userErrors"][0]["code"],
        "INVALID_NAME"
    );
    // Nothing reached the (unreachable) upstream: the budget released no call.
    let body = run(
        &s,
        &writer,
        r#"{ org(id: "acme") { budget { usedInWindow } } }"#,
    )
    .await;
    assert_eq!(body["data"]["org"]["budget"]["usedInWindow"], 0, "{body}");
    // A reader may not write at all.
    let reader = key(Role::Read, &[]);
    let body = run(
        &s,
        &reader,
        r#"mutation { deactivateUser(input: { id: "ada@acme.test" }) { outcome } }"#,
    )
    .await;
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "FORBIDDEN",
        "{body}"
    );
}
