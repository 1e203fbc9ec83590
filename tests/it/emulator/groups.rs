//! Groups: creation, ids, membership patches, replacement, deletion and paging.

use reqwest::Method;
use serde_json::json;

use super::{Emu, config, member_values, patch};

#[tokio::test]
async fn post_groups_answers_200_and_invites_unknown_members() {
    let e = Emu::start(config(0, 0)).await;
    e.add("ada@example.com", "Ada", "Lovelace");
    let body = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "Analytics Admins",
                      "members": [{"value": "ada@example.com"}, {"value": "new.invitee@example.com"}]});
    let r = e.call(Method::POST, "/Groups", Some(body)).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(
        r.body["id"].is_u64(),
        "a number in the POST response: {}",
        r.text
    );
    assert_eq!(r.body["displayName"], "Analytics Admins");
    assert_eq!(
        r.body["members"],
        json!([{"value": "ada@example.com", "display": "Ada Lovelace"},
               {"value": "new.invitee@example.com", "display": "undefined undefined"}])
    );
    assert!(r.body["meta"]["created"].is_string());
    let invitee = e.get("/Users/new.invitee%40example.com").await;
    assert_eq!(invitee.body["name"]["givenName"], "NO_GIVEN_NAME");
    assert!(e.emu.state().is_pending("new.invitee@example.com"));

    let dup = e
        .call(
            Method::POST,
            "/Groups",
            Some(json!({"displayName": "analytics admins"})),
        )
        .await;
    dup.assert_scim_error(409, Some("uniqueness"));
}

#[tokio::test]
async fn group_ids_are_numbers_in_lists_and_strings_on_get_and_patch() {
    let e = Emu::start(config(5, 2)).await;
    let list = e.get("/Groups").await;
    let id = list.body["Resources"][0]["id"]
        .as_u64()
        .expect("numeric id in list");
    assert!(id >= 600);
    let got = e.get(&format!("/Groups/{id}")).await;
    assert_eq!(got.body["id"], id.to_string());
    let patched = e
        .call(
            Method::PATCH,
            &format!("/Groups/{id}"),
            Some(patch(
                json!([{"op": "add", "path": "members", "value": []}]),
            )),
        )
        .await;
    assert_eq!(patched.body["id"], id.to_string());
    e.get("/Groups/not-a-number")
        .await
        .assert_scim_error(404, None);
    e.get("/Groups/99999").await.assert_scim_error(404, None);
}

#[tokio::test]
async fn patch_add_members_invites_unknown_and_ignores_case() {
    let e = Emu::start(config(0, 0)).await;
    e.add("ada@example.com", "Ada", "Lovelace");
    let gid = e.group("Marketing", &[]).await;
    let op = patch(
        json!([{"op": "Add", "path": "members", "value": [{"value": "ADA@example.com"}, {"value": "fresh@example.com"}]}]),
    );
    let r = e
        .call(Method::PATCH, &format!("/Groups/{gid}"), Some(op))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        member_values(&r.body),
        vec!["ada@example.com", "fresh@example.com"]
    );
    assert!(e.emu.state().is_pending("fresh@example.com"));
}

#[tokio::test]
async fn patch_remove_members_with_value_array() {
    let e = Emu::start(config(0, 0)).await;
    e.add("ada@example.com", "Ada", "Lovelace");
    e.add("alan@example.com", "Alan", "Turing");
    let gid = e
        .group("Data Science", &["ada@example.com", "alan@example.com"])
        .await;
    let op = patch(
        json!([{"op": "remove", "path": "members", "value": [{"value": "Alan@Example.com"}]}]),
    );
    let r = e
        .call(Method::PATCH, &format!("/Groups/{gid}"), Some(op))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["id"], gid);
    assert_eq!(member_values(&r.body), vec!["ada@example.com"]);
    assert_eq!(
        e.emu.state().user("alan@example.com").map(|u| u.active),
        Some(true),
        "still in the org"
    );
}

#[tokio::test]
async fn filter_path_remove_is_rejected_on_amplitude_profile() {
    let e = Emu::start(config(0, 0)).await;
    e.add("ada@example.com", "Ada", "Lovelace");
    let gid = e.group("Sales", &["ada@example.com"]).await;
    let op = patch(json!([{"op": "remove", "path": "members[value eq \"ada@example.com\"]"}]));
    e.call(Method::PATCH, &format!("/Groups/{gid}"), Some(op))
        .await
        .assert_scim_error(400, Some("invalidPath"));
    assert_eq!(
        member_values(&e.get(&format!("/Groups/{gid}")).await.body),
        vec!["ada@example.com"]
    );
}

#[tokio::test]
async fn group_replace_put_and_delete() {
    let e = Emu::start(config(0, 0)).await;
    e.add("ada@example.com", "Ada", "Lovelace");
    e.add("alan@example.com", "Alan", "Turing");
    let gid = e.group("Finance", &["ada@example.com"]).await;
    let op = patch(json!([{"op": "replace", "path": "displayName", "value": "Finance Team"}]));
    let r = e
        .call(Method::PATCH, &format!("/Groups/{gid}"), Some(op))
        .await;
    assert_eq!(r.body["displayName"], "Finance Team", "{}", r.text);
    let put = e
        .call(
            Method::PUT,
            &format!("/Groups/{gid}"),
            Some(json!({"displayName": "Money", "members": [{"value": "alan@example.com"}]})),
        )
        .await;
    assert_eq!(put.status, 200, "{}", put.text);
    assert_eq!(put.body["displayName"], "Money");
    assert_eq!(member_values(&put.body), vec!["alan@example.com"]);
    let bad = e
        .call(
            Method::PATCH,
            &format!("/Groups/{gid}"),
            Some(patch(json!([{"op": "move", "path": "members"}]))),
        )
        .await;
    bad.assert_scim_error(400, Some("invalidSyntax"));
    assert_eq!(
        e.call(Method::DELETE, &format!("/Groups/{gid}"), None)
            .await
            .status,
        204
    );
    e.get(&format!("/Groups/{gid}"))
        .await
        .assert_scim_error(404, None);
}

#[tokio::test]
async fn group_paging_and_display_name_filter() {
    let e = Emu::start(config(20, 12)).await;
    let page = e.get("/Groups?startIndex=11&itemsPerPage=5").await;
    assert_eq!(page.body["totalResults"], 12);
    assert_eq!(page.body["Resources"].as_array().map(Vec::len), Some(2));
    let found = e
        .get("/Groups?filter=displayName%20eq%20%22product%20viewers%22")
        .await;
    assert_eq!(found.body["totalResults"], 1, "{}", found.text);
    assert_eq!(found.body["Resources"][0]["displayName"], "Product Viewers");
    assert!(
        !found.body["Resources"][0]["members"]
            .as_array()
            .is_some_and(Vec::is_empty)
    );
}
