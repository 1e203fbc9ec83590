//! The RFC 7644 profile.

use reqwest::Method;
use scimgate::scim::wire::User;
use serde_json::json;

use super::{Emu, config, member_values, patch, rfc, user_body};

#[tokio::test]
async fn rfc7644_count_sets_page_size_and_items_per_page_counts_returned() {
    let e = Emu::start(rfc(105, 2)).await;
    assert!(e.emu.base_url().ends_with("/scim/v2"));
    let r = e.get("/Users?startIndex=101&count=100").await;
    assert_eq!(r.body["itemsPerPage"], 5);
    assert_eq!(r.body["totalResults"], 105);
    assert_eq!(r.header("content-type"), Some("application/scim+json"));
    let r = e.get("/Users?count=500").await;
    assert_eq!(r.body["itemsPerPage"], 100);
    let r = e.get("/Users?count=0").await;
    assert_eq!(r.body["Resources"], json!([]));
}

#[tokio::test]
async fn rfc7644_ids_are_opaque_and_user_name_is_the_email() {
    let e = Emu::start(rfc(3, 1)).await;
    let list = e.get("/Users").await;
    let user = &list.body["Resources"][0];
    let id = user["id"].as_str().expect("string id");
    assert_eq!(id.len(), 32);
    assert!(id.chars().all(|c| c.is_ascii_hexdigit()));
    assert!(user["userName"].as_str().is_some_and(|n| n.contains('@')));
    assert_eq!(e.get(&format!("/Users/{id}")).await.body["id"], id);
    let gid = e.get("/Groups").await.body["Resources"][0]["id"].clone();
    assert!(gid.as_str().is_some_and(|g| g.len() == 32), "{gid}");
}

#[tokio::test]
async fn rfc7644_post_returns_201_with_location_and_scim_media_type() {
    let e = Emu::start(rfc(0, 0)).await;
    let r = e
        .call(
            Method::POST,
            "/Users",
            Some(user_body("bjarne@example.com", "Bjarne", "Stroustrup")),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.header("content-type"), Some("application/scim+json"));
    let id = r.body["id"].as_str().expect("id").to_owned();
    assert_eq!(
        r.header("location"),
        Some(format!("{}/Users/{id}", e.emu.base_url()).as_str())
    );
    assert_eq!(
        r.body["name"]["givenName"], "Bjarne",
        "not pending on rfc7644"
    );
    let g = e
        .call(
            Method::POST,
            "/Groups",
            Some(json!({"displayName": "Eng", "members": [{"value": id}]})),
        )
        .await;
    assert_eq!(g.status, 201);
    assert!(
        g.header("location")
            .is_some_and(|l| l.contains("/scim/v2/Groups/"))
    );
    let unknown = e
        .call(
            Method::POST,
            "/Groups",
            Some(json!({"displayName": "X", "members": [{"value": "nobody"}]})),
        )
        .await;
    unknown.assert_scim_error(400, Some("invalidValue"));
    assert_eq!(
        unknown.header("content-type"),
        Some("application/scim+json")
    );
}

#[tokio::test]
async fn rfc7644_filter_path_removal_and_user_patchop() {
    let e = Emu::start(rfc(0, 0)).await;
    let a = e
        .emu
        .state()
        .add_user(User::new("a@example.com", "A", "Aa"))
        .expect("added")
        .id
        .unwrap_or_default();
    let b = e
        .emu
        .state()
        .add_user(User::new("b@example.com", "B", "Bb"))
        .expect("added")
        .id
        .unwrap_or_default();
    let gid = e.group("Team", &[&a, &b]).await;
    let op = patch(json!([{"op": "remove", "path": format!("members[value eq \"{a}\"]")}]));
    let r = e
        .call(Method::PATCH, &format!("/Groups/{gid}"), Some(op))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(member_values(&r.body), vec![b.clone()]);
    let op = patch(json!([{"op": "replace", "value": {"name": {"givenName": "Bee"}}}]));
    let r = e
        .call(Method::PATCH, &format!("/Users/{b}"), Some(op))
        .await;
    assert_eq!(r.body["name"]["givenName"], "Bee", "{}", r.text);
    let op = patch(json!([{"op": "replace", "path": "active", "value": false}]));
    assert_eq!(
        e.call(Method::PATCH, &format!("/Users/{b}"), Some(op))
            .await
            .status,
        200
    );
    // A deactivated user stays, inactive (Amplitude removes it).
    let r = e.get(&format!("/Users/{b}")).await;
    assert_eq!(r.body["active"], false, "{}", r.text);
}

#[tokio::test]
async fn rfc7644_attributes_and_excluded_attributes_project_every_read() {
    let e = Emu::start(rfc(3, 1)).await;
    let list = e.get("/Users?attributes=userName,name.givenName").await;
    let first = &list.body["Resources"][0];
    let keys: Vec<&str> = first
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys.len(), 4, "{first}");
    assert!(first["userName"].is_string() && first["id"].is_string());
    assert_eq!(first["name"].as_object().unwrap().len(), 1, "{first}");
    let id = first["id"].as_str().unwrap();
    let one = e
        .get(&format!("/Users/{id}?excludedAttributes=name,emails,meta"))
        .await;
    assert!(one.body.get("name").is_none() && one.body.get("meta").is_none());
    assert_eq!(one.body["id"], id);
    let groups = e.get("/Groups?excludedAttributes=members").await;
    assert!(groups.body["Resources"][0].get("members").is_none());
    assert!(groups.body["Resources"][0]["displayName"].is_string());
}

#[tokio::test]
async fn rfc7644_search_posts_answer_like_gets_and_span_resource_types() {
    let e = Emu::start(rfc(4, 2)).await;
    let search = |filter: Option<&str>| {
        let mut body = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
                              "attributes": ["displayName", "userName"], "count": 50});
        if let Some(f) = filter {
            body["filter"] = json!(f);
        }
        body
    };
    let users = e
        .call(Method::POST, "/Users/.search", Some(search(None)))
        .await;
    assert_eq!(users.status, 200, "{}", users.text);
    assert_eq!(users.body["totalResults"], 4);
    assert!(users.body["Resources"][0].get("name").is_none());
    let both = e.call(Method::POST, "/.search", Some(search(None))).await;
    assert_eq!(both.body["totalResults"], 6, "{}", both.text);
    assert!(both.body["Resources"][5]["displayName"].is_string());
    let named = e
        .call(
            Method::POST,
            "/.search",
            Some(search(Some("displayName pr"))),
        )
        .await;
    assert_eq!(named.body["totalResults"], 2, "{}", named.text);
    let bad = json!({"schemas": ["urn:x"], "filter": "userName pr"});
    e.call(Method::POST, "/Groups/.search", Some(bad))
        .await
        .assert_scim_error(400, Some("invalidSyntax"));
}

#[tokio::test]
async fn rfc7644_user_name_external_id_and_emails_are_stored_as_written() {
    let e = Emu::start(rfc(0, 0)).await;
    let mut body = user_body("ada@example.com", "Ada", "Lovelace");
    body["externalId"] = json!("hr-17");
    body["emails"] = json!([{"value": "ada@work.example", "primary": false}]);
    let r = e.call(Method::POST, "/Users", Some(body)).await;
    assert_eq!(r.body["externalId"], "hr-17", "{}", r.text);
    assert_eq!(
        r.body["emails"],
        json!([{"value": "ada@work.example", "primary": false}])
    );
    let path = format!("/Users/{}", r.body["id"].as_str().unwrap());
    let op = patch(json!([
        {"op": "replace", "path": "userName", "value": "augusta"},
        {"op": "add", "path": "emails", "value": [{"value": "a@home.example", "primary": true}]},
        {"op": "remove", "path": "externalId"},
        {"op": "remove", "path": "active"},
    ]));
    let r = e.call(Method::PATCH, &path, Some(op)).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["userName"], "augusta");
    assert_eq!(
        r.body["emails"],
        json!([{"value": "ada@work.example", "primary": false},
               {"value": "a@home.example", "primary": true}])
    );
    assert!(r.body.get("externalId").is_none() && r.body.get("active").is_none());
    let found = e.get("/Users?filter=userName%20eq%20%22AUGUSTA%22").await;
    assert_eq!(found.body["totalResults"], 1);
    let taken = e
        .call(Method::POST, "/Users", Some(user_body("augusta", "A", "B")))
        .await;
    taken.assert_scim_error(409, Some("uniqueness"));
    let op = patch(json!([{"op": "remove", "path": "userName"}]));
    e.call(Method::PATCH, &path, Some(op))
        .await
        .assert_scim_error(400, Some("mutability"));
}

#[tokio::test]
async fn rfc7644_group_members_carry_ref_and_type_and_external_id_patches() {
    let e = Emu::start(rfc(0, 0)).await;
    let a = e
        .emu
        .state()
        .add_user(User::new("a@example.com", "A", "Aa"))
        .expect("added")
        .id
        .unwrap_or_default();
    let r = e
        .call(
            Method::POST,
            "/Groups",
            Some(json!({"displayName": "Eng", "externalId": "x1", "members": [{"value": a}]})),
        )
        .await;
    let gid = r.body["id"].as_str().unwrap().to_owned();
    let location = format!("{}/Users/{a}", e.emu.base_url());
    assert_eq!(
        r.body["members"],
        json!([{"value": a, "$ref": location, "type": "User"}])
    );
    assert_eq!(r.body["externalId"], "x1");
    assert_eq!(
        r.body["meta"]["location"],
        format!("{}/Groups/{gid}", e.emu.base_url())
    );
    let op = patch(json!([{"op": "replace", "path": "externalId", "value": "x2"}]));
    let r = e
        .call(Method::PATCH, &format!("/Groups/{gid}"), Some(op))
        .await;
    assert_eq!(r.body["externalId"], "x2", "{}", r.text);
    let op = patch(json!([{"op": "remove", "path": "externalId"}]));
    let r = e
        .call(Method::PATCH, &format!("/Groups/{gid}"), Some(op))
        .await;
    assert!(r.body.get("externalId").is_none(), "{}", r.text);
    let rt = e.get("/ResourceTypes/Group").await;
    assert_eq!(rt.body["endpoint"], "/Groups");
    let schema = e
        .get("/Schemas/urn:ietf:params:scim:schemas:core:2.0:Group")
        .await;
    assert_eq!(schema.body["name"], "Group", "{}", schema.text);
    e.get("/Schemas/urn:nope")
        .await
        .assert_scim_error(404, None);
}

#[tokio::test]
async fn rfc7644_discovery_endpoints() {
    let e = Emu::start(rfc(0, 0)).await;
    let spc = e.get("/ServiceProviderConfig").await;
    assert_eq!(spc.body["patch"]["supported"], true);
    assert_eq!(
        spc.body["filter"],
        json!({"supported": true, "maxResults": 100})
    );
    let types = e.get("/ResourceTypes").await;
    assert_eq!(types.body["totalResults"], 2);
    assert_eq!(types.body["Resources"][0]["endpoint"], "/Users");
    let schemas = e.get("/Schemas").await;
    assert_eq!(
        schemas.body["Resources"][0]["id"],
        "urn:ietf:params:scim:schemas:core:2.0:User"
    );
    let amp = Emu::start(config(0, 0)).await;
    amp.get("/ServiceProviderConfig")
        .await
        .assert_scim_error(404, None);
}
