//! Global ids: `node(id)` round-trips every type; ids of one organization resolve nowhere else.

use serde_json::{Value, json};

use crate::support::{OrgSpec, error_code, spawn_app};

const NODE: &str = r#"query($id: ID!) { node(id: $id) { __typename id
  ... on Org { slug } ... on User { email org { slug } } ... on Group { name org { slug } } } }"#;

#[tokio::test]
async fn node_round_trips_every_type_and_ids_stay_in_their_organization() {
    let app = spawn_app(vec![
        OrgSpec::new("acme", 30, 3),
        OrgSpec::new("globex", 30, 3),
    ])
    .await;
    let q = r#"{ orgs { id slug users(first: 1) { edges { node { id email } } } groups(first: 1) { edges { node { id name upstreamId } } } } }"#;
    let data = app.data(q, json!({})).await;
    let orgs = data["orgs"].as_array().unwrap();
    assert_eq!(orgs.len(), 2);
    for org in orgs {
        let slug = org["slug"].as_str().unwrap();
        let user = &org["users"]["edges"][0]["node"];
        let group = &org["groups"]["edges"][0]["node"];
        for (id, typename) in [
            (&org["id"], "Org"),
            (&user["id"], "User"),
            (&group["id"], "Group"),
        ] {
            let node = &app.data(NODE, json!({ "id": id })).await["node"];
            assert_eq!(node["__typename"], typename);
            assert_eq!(&node["id"], id);
            let node_org = if typename == "Org" {
                &node["slug"]
            } else {
                &node["org"]["slug"]
            };
            assert_eq!(node_org, slug);
        }
        assert_eq!(
            app.data(NODE, json!({ "id": user["id"] })).await["node"]["email"],
            user["email"]
        );
    }
    // Organization B asked for organization A's group: nothing, whichever way it is asked.
    let a_group: &Value = &orgs[0]["groups"]["edges"][0]["node"];
    let q = r#"query($org: ID!, $group: ID!) { org(id: $org) { group(id: $group) { name } } }"#;
    let data = app
        .data(q, json!({ "org": "globex", "group": a_group["id"] }))
        .await;
    assert!(data["org"]["group"].is_null(), "{data}");
    let q = r#"query($org: ID!, $group: ID!) { org(id: $org) { users(filter: { memberOf: $group }) { totalCount } } }"#;
    let body = app
        .query(q, json!({ "org": "globex", "group": a_group["id"] }))
        .await;
    assert_eq!(error_code(&body), "BAD_USER_INPUT");

    let nodes = app
        .data(
            r#"query($ids: [ID!]!) { nodes(ids: $ids) { id } }"#,
            json!({ "ids": [orgs[0]["id"], orgs[1]["id"]] }),
        )
        .await;
    assert_eq!(nodes["nodes"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn forged_and_unknown_ids() {
    let app = spawn_app(vec![OrgSpec::new("acme", 5, 1)]).await;
    let body = app.query(NODE, json!({ "id": "forged" })).await;
    assert_eq!(error_code(&body), "BAD_USER_INPUT");
    // Well-formed but pointing at an organization this gateway does not serve.
    let foreign = json!([1, "User", "other-org", "a@example.com"]).to_string();
    use base64::Engine;
    let id = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(foreign);
    assert!(app.data(NODE, json!({ "id": id })).await["node"].is_null());
    assert_eq!(
        app.upstream_calls(),
        0,
        "no upstream call for an id of another organization"
    );
}
