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
    e.get(&format!("/Users/{b}"))
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
