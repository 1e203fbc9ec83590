//! The SCIM emulator over real HTTP: every documented Amplitude behaviour, the switches for the
//! undocumented ones, the rate limit, faults, the control surface and the RFC 7644 profile.

use std::collections::HashSet;
use std::time::Duration;

use reqwest::Method;
use reqwest::header::HeaderMap;
use scimgate::emulator::{EmulatorConfig, Faults, RunningEmulator, Switches, spawn};
use scimgate::scim::Profile;
use scimgate::scim::wire::User;
use serde_json::{Value, json};

struct Emu {
    emu: RunningEmulator,
    http: reqwest::Client,
}

struct Reply {
    status: u16,
    headers: HeaderMap,
    body: Value,
    text: String,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Asserts a SCIM error body with this status and (optional) scimType.
    fn assert_scim_error(&self, status: u16, scim_type: Option<&str>) {
        assert_eq!(self.status, status, "{}", self.text);
        assert_eq!(
            self.body["schemas"][0], "urn:ietf:params:scim:api:messages:2.0:Error",
            "{}",
            self.text
        );
        assert_eq!(self.body["status"], status.to_string(), "{}", self.text);
        assert_eq!(self.body["scimType"].as_str(), scim_type, "{}", self.text);
        assert!(self.body["detail"].is_string(), "{}", self.text);
    }
}

fn config(users: usize, groups: usize) -> EmulatorConfig {
    EmulatorConfig {
        users,
        groups,
        ..EmulatorConfig::default()
    }
}

fn rfc(users: usize, groups: usize) -> EmulatorConfig {
    EmulatorConfig {
        users,
        groups,
        ..EmulatorConfig::for_profile(Profile::Rfc7644)
    }
}

impl Emu {
    async fn start(config: EmulatorConfig) -> Emu {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let emu = spawn(config).await.expect("emulator starts");
        let http = reqwest::Client::builder().build().expect("client builds");
        Emu { emu, http }
    }

    async fn send(
        &self,
        method: Method,
        url: String,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Reply {
        let mut req = self.http.request(method, url);
        if let Some(token) = token {
            req = req.header("authorization", format!("Bearer {token}"));
        }
        if let Some(body) = body {
            req = req.json(&body);
        }
        let resp = req.send().await.expect("request completes");
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let text = resp.text().await.expect("body reads");
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Reply {
            status,
            headers,
            body,
            text,
        }
    }

    async fn call(&self, method: Method, path: &str, body: Option<Value>) -> Reply {
        let url = format!("{}{path}", self.emu.base_url());
        self.send(method, url, Some(self.emu.token()), body).await
    }

    async fn get(&self, path: &str) -> Reply {
        self.call(Method::GET, path, None).await
    }

    async fn raw(&self, method: Method, path: &str, body: &str) -> Reply {
        let resp = self
            .http
            .request(method, format!("{}{path}", self.emu.base_url()))
            .header("authorization", format!("Bearer {}", self.emu.token()))
            .header("content-type", "application/json")
            .body(body.to_owned())
            .send()
            .await
            .expect("request completes");
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let text = resp.text().await.expect("body reads");
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Reply {
            status,
            headers,
            body,
            text,
        }
    }

    async fn admin(&self, method: Method, path: &str, body: Option<Value>) -> Reply {
        let url = format!("{}{path}", self.emu.admin_url());
        self.send(method, url, None, body).await
    }

    fn add(&self, email: &str, given: &str, family: &str) -> User {
        self.emu
            .state()
            .add_user(User::new(email, given, family))
            .expect("user added")
    }

    /// Creates a group over HTTP and returns its id as a string.
    async fn group(&self, name: &str, members: &[&str]) -> String {
        let members: Vec<Value> = members.iter().map(|m| json!({ "value": m })).collect();
        let r = self
            .call(
                Method::POST,
                "/Groups",
                Some(json!({"displayName": name, "members": members})),
            )
            .await;
        assert!(r.status == 200 || r.status == 201, "{}", r.text);
        id_string(&r.body["id"])
    }
}

fn id_string(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn member_values(group: &Value) -> Vec<String> {
    group["members"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|m| m["value"].as_str().unwrap_or_default().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

fn user_body(email: &str, given: &str, family: &str) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": email,
        "name": {"givenName": given, "familyName": family},
        "emails": [{"primary": true, "value": email}],
        "active": true
    })
}

fn patch(ops: Value) -> Value {
    json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": ops})
}

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

#[tokio::test]
async fn rate_limit_answers_429_with_retry_after() {
    let e = Emu::start(EmulatorConfig {
        limit: 5,
        window: Duration::from_secs(2),
        ..config(3, 1)
    })
    .await;
    for _ in 0..5 {
        assert_eq!(e.get("/Users").await.status, 200);
    }
    let limited = e.get("/Users").await;
    limited.assert_scim_error(429, None);
    let secs: u64 = limited
        .header("retry-after")
        .and_then(|v| v.parse().ok())
        .expect("Retry-After");
    assert!((1..=2).contains(&secs), "{secs}");
    tokio::time::sleep(Duration::from_secs(secs)).await;
    assert_eq!(
        e.get("/Users").await.status,
        200,
        "a slot freed after Retry-After"
    );
    let stats = e.emu.stats();
    assert_eq!(stats.by_status.get("429"), Some(&1));
    assert_eq!(stats.total, 7);
}

#[tokio::test]
async fn retry_after_switch_off_sends_429_without_header() {
    let switches = Switches {
        retry_after_on_429: false,
        ..Switches::default()
    };
    let e = Emu::start(EmulatorConfig {
        limit: 1,
        switches,
        ..config(1, 0)
    })
    .await;
    assert_eq!(e.get("/Users").await.status, 200);
    let r = e.get("/Users").await;
    assert_eq!(r.status, 429);
    assert!(r.header("retry-after").is_none());
}

#[tokio::test]
async fn stats_max_in_any_window_is_exact() {
    let e = Emu::start(EmulatorConfig {
        limit: 3,
        window: Duration::from_millis(600),
        ..config(2, 0)
    })
    .await;
    for _ in 0..5 {
        e.get("/Users").await;
    }
    let anonymous = e
        .send(
            Method::GET,
            format!("{}/Users", e.emu.base_url()),
            None,
            None,
        )
        .await;
    assert_eq!(anonymous.status, 401);
    tokio::time::sleep(Duration::from_millis(700)).await;
    for _ in 0..2 {
        assert_eq!(e.get("/Users").await.status, 200);
    }
    let stats = e.admin(Method::GET, "/stats", None).await.body;
    assert_eq!(stats["total"], 8);
    assert_eq!(
        stats["max_in_any_window"], 6,
        "5 requests and the 401 arrived within one window"
    );
    assert_eq!(stats["by_status"], json!({"200": 5, "401": 1, "429": 2}));
    assert_eq!(stats["limit"], 3);
    assert_eq!(stats["window_secs"], 0.6);
}

#[tokio::test]
async fn request_log_records_path_query_method_and_status_and_reset_clears_it() {
    let e = Emu::start(EmulatorConfig {
        limit: 1,
        ..config(2, 0)
    })
    .await;
    e.get("/Users?startIndex=1&itemsPerPage=100").await;
    e.call(Method::DELETE, "/Users/nobody%40example.com", None)
        .await;
    let log = e.admin(Method::GET, "/requests", None).await.body;
    assert_eq!(log[0]["method"], "GET");
    assert_eq!(
        log[0]["path"],
        "/scim/1/Users?startIndex=1&itemsPerPage=100"
    );
    assert_eq!(log[0]["status"], 200);
    assert_eq!(log[1]["path"], "/scim/1/Users/nobody%40example.com");
    assert_eq!(log[1]["status"], 429);
    assert!(log[1]["t_ms"].as_u64() >= log[0]["t_ms"].as_u64());

    assert_eq!(e.admin(Method::POST, "/reset", None).await.status, 204);
    assert_eq!(
        e.admin(Method::GET, "/requests", None).await.body,
        json!([])
    );
    assert_eq!(e.emu.stats().total, 0);
    assert_eq!(
        e.get("/Users").await.status,
        200,
        "the limiter's window was cleared"
    );
}

#[tokio::test]
async fn faults_force_429() {
    let e = Emu::start(config(2, 0)).await;
    let set = e
        .admin(
            Method::POST,
            "/faults",
            Some(json!({"force_429_secs": 1.5})),
        )
        .await;
    assert_eq!(set.status, 200, "{}", set.text);
    let r = e.get("/Users").await;
    r.assert_scim_error(429, None);
    assert_eq!(r.header("retry-after"), Some("2"));
    e.admin(Method::POST, "/faults", Some(json!({}))).await;
    assert_eq!(e.get("/Users").await.status, 200);
}

#[tokio::test]
async fn faults_error_rate_one_gives_500s() {
    let e = Emu::start(config(0, 0)).await;
    e.emu.set_faults(Faults {
        error_rate: 1.0,
        ..Faults::default()
    });
    e.get("/Users").await.assert_scim_error(500, None);
    let r = e
        .call(
            Method::POST,
            "/Users",
            Some(user_body("lost@example.com", "L", "O")),
        )
        .await;
    r.assert_scim_error(500, None);
    assert!(
        e.emu.state().user("lost@example.com").is_none(),
        "a 500 is not applied"
    );
    e.emu.set_faults(Faults::default());
    assert_eq!(e.get("/Users").await.status, 200);
}

#[tokio::test]
async fn faults_timeout_hangs_and_logs_status_zero() {
    let e = Emu::start(config(0, 0)).await;
    e.emu.set_faults(Faults {
        timeout_rate: 1.0,
        timeout_ms: 300,
        latency_ms: 50,
        ..Faults::default()
    });
    let started = std::time::Instant::now();
    let r = e.get("/Users").await;
    assert!(started.elapsed() >= Duration::from_millis(350));
    assert_eq!(r.status, 504);
    let log = e.emu.requests();
    assert_eq!(log[0].status, 0);
    assert_eq!(e.emu.stats().by_status.get("0"), Some(&1));
}

#[tokio::test]
async fn bad_json_and_bad_filter_give_scim_400s() {
    let e = Emu::start(config(3, 1)).await;
    e.raw(Method::POST, "/Users", "{not json")
        .await
        .assert_scim_error(400, Some("invalidSyntax"));
    e.raw(Method::POST, "/Users", "[1, 2]")
        .await
        .assert_scim_error(400, Some("invalidSyntax"));
    e.call(
        Method::POST,
        "/Users",
        Some(json!({"name": {"givenName": "X"}})),
    )
    .await
    .assert_scim_error(400, Some("invalidValue"));
    e.call(
        Method::POST,
        "/Users",
        Some(json!({"userName": "no-at-sign"})),
    )
    .await
    .assert_scim_error(400, Some("invalidValue"));
    e.get("/Users?filter=userName%20eq")
        .await
        .assert_scim_error(400, Some("invalidFilter"));
    e.get("/Users?filter=userName%20co%20%22a%22")
        .await
        .assert_scim_error(400, Some("invalidFilter"));
    e.get("/Users?itemsPerPage=many")
        .await
        .assert_scim_error(400, Some("invalidValue"));
    let gid = e.get("/Groups").await.body["Resources"][0]["id"].to_string();
    e.raw(
        Method::PATCH,
        &format!("/Groups/{gid}"),
        "{\"Operations\": 3}",
    )
    .await
    .assert_scim_error(400, Some("invalidSyntax"));
    e.call(
        Method::PATCH,
        &format!("/Groups/{gid}"),
        Some(patch(json!([{"op": "frobnicate"}]))),
    )
    .await
    .assert_scim_error(400, Some("invalidSyntax"));
    e.get("/Nope").await.assert_scim_error(404, None);
    e.call(Method::DELETE, "/Users", None)
        .await
        .assert_scim_error(405, None);
}

#[tokio::test]
async fn text_error_body_switch_sends_plain_text() {
    let switches = Switches {
        error_body: scimgate::emulator::ErrorBodyFormat::Text,
        ..Switches::default()
    };
    let e = Emu::start(EmulatorConfig {
        switches,
        ..config(0, 0)
    })
    .await;
    let r = e.get("/Users/nobody%40example.com").await;
    assert_eq!(r.status, 404);
    assert_eq!(r.body, Value::Null, "not JSON: {}", r.text);
    assert!(r.text.starts_with("404"), "{}", r.text);
}

#[tokio::test]
async fn missing_or_wrong_token_is_401() {
    let e = Emu::start(config(1, 0)).await;
    let url = format!("{}/Users", e.emu.base_url());
    e.send(Method::GET, url.clone(), None, None)
        .await
        .assert_scim_error(401, None);
    e.send(Method::GET, url.clone(), Some("wrong"), None)
        .await
        .assert_scim_error(401, None);
    let lower = e
        .http
        .get(&url)
        .header("authorization", "bearer demo-token")
        .send()
        .await
        .expect("sent");
    assert_eq!(lower.status(), 200, "the scheme is case-insensitive");
    assert_eq!(
        e.admin(Method::GET, "/health", None).await.status,
        200,
        "admin needs no token"
    );
}

#[tokio::test]
async fn seed_is_deterministic_per_seed() {
    let a = Emu::start(EmulatorConfig {
        seed: 7,
        ..config(50, 5)
    })
    .await;
    let b = Emu::start(EmulatorConfig {
        seed: 7,
        ..config(50, 5)
    })
    .await;
    let c = Emu::start(EmulatorConfig {
        seed: 8,
        ..config(50, 5)
    })
    .await;
    assert_eq!(a.emu.state().users(), b.emu.state().users());
    assert_eq!(a.emu.state().groups(), b.emu.state().groups());
    assert_ne!(a.emu.state().users(), c.emu.state().users());
    assert_eq!(a.get("/Users").await.body, b.get("/Users").await.body);
    let users = a.emu.state().users();
    let domains = ["@example.com", "@example.org", "@example.net"];
    assert!(
        users
            .iter()
            .all(|u| domains.iter().any(|d| u.user_name.ends_with(d)))
    );
    let names: HashSet<_> = users
        .iter()
        .filter_map(|u| u.name.as_ref()?.family_name.clone())
        .collect();
    assert!(names.len() > 10, "varied names: {names:?}");
}

#[tokio::test]
async fn paging_through_all_users_with_start_index_returns_each_once() {
    let e = Emu::start(config(250, 3)).await;
    for size in [100, 37] {
        let mut seen = HashSet::new();
        let mut start = 1;
        loop {
            let r = e
                .get(&format!("/Users?startIndex={start}&itemsPerPage={size}"))
                .await;
            assert_eq!(r.body["totalResults"], 250);
            let page = r.body["Resources"].as_array().cloned().unwrap_or_default();
            if page.is_empty() {
                break;
            }
            for u in &page {
                assert!(
                    seen.insert(u["id"].as_str().unwrap_or_default().to_owned()),
                    "repeated {}",
                    u["id"]
                );
            }
            start += page.len();
        }
        assert_eq!(seen.len(), 250);
    }
}

#[tokio::test]
async fn admin_state_users_and_accept_all() {
    let e = Emu::start(config(60, 4)).await;
    let created = e
        .admin(
            Method::POST,
            "/users",
            Some(user_body("side@example.com", "Side", "Door")),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.text);
    assert_eq!(
        e.get("/Users/side%40example.com").await.body["name"]["givenName"],
        "Side"
    );
    let state = e.admin(Method::GET, "/state", None).await.body;
    assert_eq!(state["users"].as_array().map(Vec::len), Some(61));
    assert_eq!(state["groups"].as_array().map(Vec::len), Some(4));
    assert!(state["users"][0]["groups"].is_array());
    let pending = state["pending"]
        .as_array()
        .map(Vec::len)
        .unwrap_or_default();
    let accepted = e
        .admin(Method::POST, "/accept", Some(json!({"all": true})))
        .await;
    assert_eq!(accepted.body["accepted"], pending);
    assert!(e.emu.state().pending().is_empty());
    assert_eq!(
        e.admin(Method::DELETE, "/users/SIDE%40example.com", None)
            .await
            .status,
        204
    );
    e.get("/Users/side%40example.com")
        .await
        .assert_scim_error(404, None);
    assert_eq!(e.emu.stats().total, 2, "admin calls are not counted");
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

// ---- RFC 7644 profile ----

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
