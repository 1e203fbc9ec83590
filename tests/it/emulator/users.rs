//! Users: invites, listing, lookup, replacement, deactivation, deletion and the user switches.

use reqwest::Method;
use scimgate::emulator::{EmulatorConfig, Switches};
use serde_json::json;

use super::{Emu, config, member_values, patch, user_body};

#[tokio::test]
async fn post_users_returns_201_and_lists_user_as_pending_with_placeholder_names() {
    let e = Emu::start(config(3, 1)).await;
    let r = e
        .call(
            Method::POST,
            "/Users",
            Some(user_body("new.person@example.com", "New", "Person")),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.body["id"], "new.person@example.com");
    assert_eq!(r.body["userName"], "new.person@example.com");
    assert_eq!(r.body["name"]["givenName"], "New");
    assert_eq!(r.body["meta"]["resourceType"], "User");
    assert_eq!(r.header("content-type"), Some("application/json"));

    let list = e
        .get("/Users?filter=userName%20eq%20%22new.person%40example.com%22")
        .await;
    assert_eq!(list.body["totalResults"], 1, "{}", list.text);
    let listed = &list.body["Resources"][0];
    assert_eq!(listed["active"], true);
    assert_eq!(listed["name"]["givenName"], "NO_GIVEN_NAME");
    assert_eq!(listed["name"]["familyName"], "NO_FAMILY_NAME");
    assert!(
        listed.get("groups").is_none(),
        "list results carry no groups"
    );

    let accepted = e
        .admin(
            Method::POST,
            "/accept",
            Some(json!({"email": "NEW.person@example.com"})),
        )
        .await;
    assert_eq!(accepted.body["accepted"], 1, "{}", accepted.text);
    let got = e.get("/Users/new.person%40example.com").await;
    assert_eq!(
        got.body["name"],
        json!({"givenName": "New", "familyName": "Person"})
    );
    assert_eq!(got.body["groups"], json!([]));
}

#[tokio::test]
async fn items_per_page_is_capped_at_100_and_echoed() {
    let e = Emu::start(config(150, 0)).await;
    let r = e.get("/Users?startIndex=1&itemsPerPage=500").await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.body["schemas"][0],
        "urn:ietf:params:scim:api:messages:2.0:ListResponse"
    );
    assert_eq!(r.body["itemsPerPage"], 100);
    assert_eq!(r.body["totalResults"], 150);
    assert_eq!(r.body["Resources"].as_array().map(Vec::len), Some(100));

    let r = e.get("/Users?startIndex=141&itemsPerPage=50").await;
    assert_eq!(
        r.body["itemsPerPage"], 50,
        "echoes the page size, not the 10 returned"
    );
    assert_eq!(r.body["startIndex"], 141);
    assert_eq!(r.body["Resources"].as_array().map(Vec::len), Some(10));

    let r = e.get("/Users").await;
    assert_eq!(r.body["itemsPerPage"], 100, "default page size");
    let r = e.get("/Users?startIndex=0&itemsPerPage=2").await;
    assert_eq!(r.body["startIndex"], 1, "startIndex below 1 counts as 1");
}

#[tokio::test]
async fn user_ids_are_case_insensitive_and_percent_decoded() {
    let e = Emu::start(config(0, 0)).await;
    e.add("Ada+test@Example.com", "Ada", "Lovelace");
    for path in [
        "/Users/Ada%2Btest%40Example.com",
        "/Users/ADA%2BTEST%40EXAMPLE.COM",
        "/Users/ada+test@example.com",
    ] {
        let r = e.get(path).await;
        assert_eq!(r.status, 200, "{path}: {}", r.text);
        assert_eq!(r.body["id"], "Ada+test@Example.com");
        assert_eq!(r.body["userName"], "Ada+test@Example.com");
        assert_eq!(r.body["emails"][0]["value"], "Ada+test@Example.com");
    }
    e.get("/Users/ada%20test%40example.com")
        .await
        .assert_scim_error(404, None);
}

#[tokio::test]
async fn duplicate_invite_is_409_with_scim_error() {
    let e = Emu::start(config(0, 0)).await;
    let first = e
        .call(
            Method::POST,
            "/Users",
            Some(user_body("dup@example.com", "D", "Up")),
        )
        .await;
    assert_eq!(first.status, 201);
    let again = e
        .call(
            Method::POST,
            "/Users",
            Some(user_body("DUP@example.com", "D", "Up")),
        )
        .await;
    again.assert_scim_error(409, Some("uniqueness"));
    e.add("joined@example.com", "Jo", "Ined");
    let existing = e
        .call(
            Method::POST,
            "/Users",
            Some(user_body("joined@example.com", "Jo", "Ined")),
        )
        .await;
    existing.assert_scim_error(409, Some("uniqueness"));
}

#[tokio::test]
async fn duplicate_user_status_switch_changes_the_status() {
    let switches = Switches {
        duplicate_user_status: 400,
        ..Switches::default()
    };
    let e = Emu::start(EmulatorConfig {
        users: 0,
        groups: 0,
        switches,
        ..EmulatorConfig::default()
    })
    .await;
    e.add("dup@example.com", "D", "Up");
    let r = e
        .call(
            Method::POST,
            "/Users",
            Some(user_body("dup@example.com", "D", "Up")),
        )
        .await;
    r.assert_scim_error(400, Some("uniqueness"));
}

#[tokio::test]
async fn groups_array_is_ignored_on_user_writes() {
    let e = Emu::start(config(0, 0)).await;
    let gid = e.group("Growth Team", &[]).await;
    let mut body = user_body("grace@example.com", "Grace", "Hopper");
    body["groups"] = json!([{"value": gid}]);
    let created = e.call(Method::POST, "/Users", Some(body.clone())).await;
    assert_eq!(created.status, 201);
    e.emu.state().accept("grace@example.com");
    let put = e
        .call(Method::PUT, "/Users/grace%40example.com", Some(body))
        .await;
    assert_eq!(put.status, 200, "{}", put.text);
    assert_eq!(
        put.body["groups"][0]["value"],
        json!(gid),
        "PUT echoes the request"
    );

    let user = e.get("/Users/grace%40example.com").await;
    assert_eq!(user.body["groups"], json!([]));
    let group = e.get(&format!("/Groups/{gid}")).await;
    assert_eq!(group.body["members"], json!([]));
}

#[tokio::test]
async fn get_user_shows_groups_and_put_replaces_names() {
    let e = Emu::start(config(0, 0)).await;
    e.add("ken@example.com", "Ken", "Thompson");
    let gid = e.group("Engineering", &["ken@example.com"]).await;
    let user = e.get("/Users/ken%40example.com").await;
    assert_eq!(
        user.body["groups"],
        json!([{"value": gid, "display": "Engineering"}])
    );

    let put = e
        .call(
            Method::PUT,
            "/Users/ken%40example.com",
            Some(user_body("ken@example.com", "Kenneth", "Thompson")),
        )
        .await;
    assert_eq!(put.status, 200);
    assert_eq!(put.body["name"]["givenName"], "Kenneth");
    let group = e.get(&format!("/Groups/{gid}")).await;
    assert_eq!(group.body["members"][0]["display"], "Kenneth Thompson");

    let renamed = e
        .call(
            Method::PUT,
            "/Users/ken%40example.com",
            Some(user_body("other@example.com", "K", "T")),
        )
        .await;
    renamed.assert_scim_error(400, Some("mutability"));
}

#[tokio::test]
async fn active_false_removes_user_from_org_and_groups() {
    let e = Emu::start(config(0, 0)).await;
    e.add("linus@example.com", "Linus", "Torvalds");
    e.add("ada@example.com", "Ada", "Lovelace");
    let gid = e
        .group("Platform", &["linus@example.com", "ada@example.com"])
        .await;
    let mut body = user_body("linus@example.com", "Linus", "Torvalds");
    body["active"] = json!(false);
    let r = e
        .call(Method::PATCH, "/Users/linus%40example.com", Some(body))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["active"], false);

    e.get("/Users/linus%40example.com")
        .await
        .assert_scim_error(404, None);
    let list = e.get("/Users").await;
    assert_eq!(list.body["totalResults"], 1);
    let group = e.get(&format!("/Groups/{gid}")).await;
    assert_eq!(member_values(&group.body), vec!["ada@example.com"]);
}

#[tokio::test]
async fn list_deactivated_switch_keeps_user_listed_inactive_and_out_of_groups() {
    let switches = Switches {
        list_deactivated: true,
        ..Switches::default()
    };
    let e = Emu::start(EmulatorConfig {
        users: 0,
        groups: 0,
        switches,
        ..EmulatorConfig::default()
    })
    .await;
    e.add("linus@example.com", "Linus", "Torvalds");
    let gid = e.group("Platform", &["linus@example.com"]).await;
    let mut body = user_body("linus@example.com", "Linus", "Torvalds");
    body["active"] = json!(false);
    assert_eq!(
        e.call(Method::PUT, "/Users/linus%40example.com", Some(body))
            .await
            .status,
        200
    );
    let user = e.get("/Users/linus%40example.com").await;
    assert_eq!(user.body["active"], false);
    assert_eq!(user.body["groups"], json!([]));
    let group = e.get(&format!("/Groups/{gid}")).await;
    assert_eq!(group.body["members"], json!([]));
}

#[tokio::test]
async fn delete_user_answers_204_and_removes_memberships() {
    let e = Emu::start(config(0, 0)).await;
    e.add("ada@example.com", "Ada", "Lovelace");
    let gid = e.group("Design", &["ada@example.com"]).await;
    let r = e
        .call(Method::DELETE, "/Users/ADA%40example.com", None)
        .await;
    assert_eq!(r.status, 204);
    assert_eq!(r.text, "");
    e.call(Method::DELETE, "/Users/ada%40example.com", None)
        .await
        .assert_scim_error(404, None);
    assert_eq!(
        e.get(&format!("/Groups/{gid}")).await.body["members"],
        json!([])
    );
}

#[tokio::test]
async fn user_patchop_is_rejected_on_amplitude_profile() {
    let e = Emu::start(config(0, 0)).await;
    e.add("ada@example.com", "Ada", "Lovelace");
    let op = patch(json!([{"op": "replace", "path": "active", "value": false}]));
    e.call(Method::PATCH, "/Users/ada%40example.com", Some(op))
        .await
        .assert_scim_error(400, Some("invalidSyntax"));
    assert_eq!(e.get("/Users/ada%40example.com").await.body["active"], true);
}

#[tokio::test]
async fn rich_filters_work_when_switched_on() {
    let switches = Switches {
        rich_filters: true,
        ..Switches::default()
    };
    let e = Emu::start(EmulatorConfig {
        switches,
        ..config(0, 0)
    })
    .await;
    e.add("ada@example.com", "Ada", "Lovelace");
    e.add("alan@example.org", "Alan", "Turing");
    let r = e
        .get("/Users?filter=userName%20sw%20%22a%22%20and%20userName%20co%20%22.org%22")
        .await;
    assert_eq!(r.body["totalResults"], 1, "{}", r.text);
    assert_eq!(r.body["Resources"][0]["userName"], "alan@example.org");
    let r = e
        .get("/Users?filter=name.givenName%20eq%20%22ada%22%20or%20active%20eq%20false")
        .await;
    assert_eq!(r.body["totalResults"], 1, "{}", r.text);
}
