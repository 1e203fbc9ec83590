//! The RFC 7644 profile's versions (§3.14) and change filters: `meta.version` and `ETag`,
//! `If-Match` (412 when stale), `If-None-Match` (304), `meta.lastModified gt "..."`.

use reqwest::Method;
use serde_json::{Value, json};

use super::{Emu, config, patch, rfc, user_body};

fn version(r: &super::Reply) -> String {
    let v = r.body["meta"]["version"]
        .as_str()
        .expect("meta.version")
        .to_owned();
    assert_eq!(r.header("etag"), Some(v.as_str()), "ETag is meta.version");
    assert!(v.starts_with("W/\"") && v.ends_with('"'), "{v}");
    v
}

async fn create(e: &Emu, email: &str) -> (String, String) {
    let r = e
        .call(
            Method::POST,
            "/Users",
            Some(user_body(email, "Ada", "Lovelace")),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    (r.body["id"].as_str().unwrap().to_owned(), version(&r))
}

#[tokio::test]
async fn rfc7644_version_changes_on_every_write_and_etag_matches_meta() {
    let e = Emu::start(rfc(2, 0)).await;
    let (id, v1) = create(&e, "ada@example.com").await;
    let path = format!("/Users/{id}");
    let got = e.get(&path).await;
    assert_eq!(version(&got), v1, "a read changes nothing");
    assert!(got.body["meta"]["lastModified"].is_string());
    let op = patch(json!([{"op": "replace", "path": "name.givenName", "value": "Augusta"}]));
    let v2 = version(&e.call(Method::PATCH, &path, Some(op)).await);
    let v3 = version(
        &e.call(
            Method::PUT,
            &path,
            Some(user_body("ada@example.com", "A", "L")),
        )
        .await,
    );
    let g = e
        .call(
            Method::POST,
            "/Groups",
            Some(json!({"displayName": "Eng", "members": [{"value": id}]})),
        )
        .await;
    let g1 = version(&g);
    // Joining a group changes the user's `groups`, so its version too.
    let v4 = version(&e.get(&path).await);
    let gid = g.body["id"].as_str().unwrap();
    let op = patch(json!([{"op": "replace", "path": "displayName", "value": "Core"}]));
    let g2 = version(
        &e.call(Method::PATCH, &format!("/Groups/{gid}"), Some(op))
            .await,
    );
    let v5 = version(&e.get(&path).await);
    let all = [&v1, &v2, &v3, &v4, &v5];
    for (i, a) in all.iter().enumerate() {
        for b in &all[i + 1..] {
            assert_ne!(a, b, "every write makes a new version");
        }
    }
    assert_ne!(g1, g2);
}

#[tokio::test]
async fn rfc7644_stale_if_match_is_412_with_a_scim_error_and_changes_nothing() {
    let e = Emu::start(rfc(0, 0)).await;
    let (id, v1) = create(&e, "ada@example.com").await;
    let path = format!("/Users/{id}");
    let op = patch(json!([{"op": "replace", "path": "name.givenName", "value": "B"}]));
    let r = e
        .call_with(Method::PATCH, &path, Some(op.clone()), &[("if-match", &v1)])
        .await;
    assert_eq!(r.status, 200, "the current version matches: {}", r.text);
    let v2 = version(&r);
    // Another admin's write based on the first version is refused, whatever the method.
    let stale = [("if-match", v1.as_str())];
    let put = user_body("ada@example.com", "Stale", "Write");
    for r in [
        e.call_with(Method::PUT, &path, Some(put.clone()), &stale)
            .await,
        e.call_with(Method::PATCH, &path, Some(op.clone()), &stale)
            .await,
        e.call_with(Method::DELETE, &path, None, &stale).await,
    ] {
        r.assert_scim_error(412, None);
        assert_eq!(r.header("content-type"), Some("application/scim+json"));
    }
    let now = e.get(&path).await;
    assert_eq!(now.body["name"]["givenName"], "B", "nothing changed");
    assert_eq!(version(&now), v2);
    let r = e
        .call_with(Method::PUT, &path, Some(put), &[("if-match", "*")])
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let g = e
        .call(Method::POST, "/Groups", Some(json!({"displayName": "Eng"})))
        .await;
    let gpath = format!("/Groups/{}", g.body["id"].as_str().unwrap());
    let op = patch(json!([{"op": "replace", "path": "displayName", "value": "X"}]));
    e.call_with(Method::PATCH, &gpath, Some(op), &[("if-match", "W/\"1\"")])
        .await
        .assert_scim_error(412, None);
    let current = version(&e.get(&gpath).await);
    let r = e
        .call_with(Method::DELETE, &gpath, None, &[("if-match", &current)])
        .await;
    assert_eq!(r.status, 204, "{}", r.text);
}

#[tokio::test]
async fn rfc7644_if_none_match_answers_304_until_the_resource_changes() {
    let e = Emu::start(rfc(0, 0)).await;
    let (id, v1) = create(&e, "ada@example.com").await;
    let path = format!("/Users/{id}");
    let r = e
        .call_with(Method::GET, &path, None, &[("if-none-match", &v1)])
        .await;
    assert_eq!(r.status, 304);
    assert_eq!(r.text, "");
    assert_eq!(r.header("etag"), Some(v1.as_str()));
    let op = patch(json!([{"op": "replace", "path": "active", "value": false}]));
    e.call(Method::PATCH, &path, Some(op)).await;
    let r = e
        .call_with(Method::GET, &path, None, &[("if-none-match", &v1)])
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        r.body["active"], false,
        "deactivated users stay on RFC 7644"
    );
    assert_ne!(version(&r), v1);
}

fn ids(r: &super::Reply) -> Vec<String> {
    let mut ids: Vec<String> = r.body["Resources"]
        .as_array()
        .expect("a list")
        .iter()
        .map(|u| u["id"].as_str().unwrap().to_owned())
        .collect();
    ids.sort();
    ids
}

fn encoded(filter: &str) -> String {
    percent_encoding::utf8_percent_encode(filter, percent_encoding::NON_ALPHANUMERIC).to_string()
}

#[tokio::test]
async fn rfc7644_last_modified_filter_returns_exactly_the_changed_users() {
    let e = Emu::start(rfc(30, 2)).await;
    let all = e.get("/Users?count=100").await;
    let mark = all.body["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["meta"]["lastModified"].as_str().unwrap().to_owned())
        .max()
        .unwrap();
    let users: Vec<Value> = all.body["Resources"].as_array().unwrap().clone();
    let (a, b) = (
        users[3]["id"].as_str().unwrap().to_owned(),
        users[17]["id"].as_str().unwrap().to_owned(),
    );
    let op = patch(json!([{"op": "replace", "path": "name.familyName", "value": "Changed"}]));
    assert_eq!(
        e.call(Method::PATCH, &format!("/Users/{a}"), Some(op))
            .await
            .status,
        200
    );
    let put = json!({"userName": users[17]["userName"], "name": {"givenName": "New"}});
    assert_eq!(
        e.call(Method::PUT, &format!("/Users/{b}"), Some(put))
            .await
            .status,
        200
    );
    let (c, _) = create(&e, "new.hire@example.com").await;
    let mut want = vec![a.clone(), b.clone(), c];
    want.sort();
    let since = |op: &str| encoded(&format!("meta.lastModified {op} \"{mark}\""));
    let changed = e.get(&format!("/Users?filter={}", since("gt"))).await;
    assert_eq!(changed.status, 200, "{}", changed.text);
    assert_eq!(ids(&changed), want);
    assert_eq!(changed.body["totalResults"], 3);
    // The same instant in another notation selects the same users.
    let zulu = format!("{}000Z", mark.trim_end_matches("+00:00"));
    let r = e
        .get(&format!(
            "/Users?filter={}",
            encoded(&format!("meta.lastModified gt \"{zulu}\""))
        ))
        .await;
    assert_eq!(ids(&r), want);
    let unchanged = e
        .get(&format!("/Users?filter={}&count=100", since("le")))
        .await;
    assert_eq!(unchanged.body["totalResults"], 28, "30 seeded, 2 changed");
    let groups = e.get(&format!("/Groups?filter={}", since("gt"))).await;
    assert_eq!(groups.body["totalResults"], 0, "{}", groups.text);
    let bad = e
        .get(&format!(
            "/Users?filter={}",
            encoded("meta.lastModified gt")
        ))
        .await;
    bad.assert_scim_error(400, Some("invalidFilter"));
}

#[tokio::test]
async fn service_provider_config_advertises_etag_and_filter_on_rfc7644_only() {
    let e = Emu::start(rfc(1, 0)).await;
    let spc = e.get("/ServiceProviderConfig").await;
    assert_eq!(spc.body["etag"]["supported"], true);
    assert_eq!(spc.body["filter"]["supported"], true);
    // Amplitude has no versions: no ETag, no meta.version, and If-Match is not looked at.
    let amp = Emu::start(config(1, 0)).await;
    let user = &amp.get("/Users").await.body["Resources"][0];
    let id = user["id"].as_str().unwrap();
    let r = amp.get(&format!("/Users/{id}")).await;
    assert_eq!(r.header("etag"), None);
    assert!(r.body["meta"].get("version").is_none(), "{}", r.text);
    let r = amp
        .call_with(
            Method::PUT,
            &format!("/Users/{id}"),
            Some(json!({"userName": id, "name": {"givenName": "G", "familyName": "F"}})),
            &[("if-match", "W/\"999\"")],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = amp
        .get(&format!(
            "/Users?filter={}",
            encoded("meta.lastModified gt \"2000-01-01T00:00:00Z\"")
        ))
        .await;
    r.assert_scim_error(400, Some("invalidFilter"));
}
