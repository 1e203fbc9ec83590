//! The gate around the resources: rate limit, stats, request log, faults, error bodies,
//! authentication and the admin endpoints.

use std::time::Duration;

use reqwest::Method;
use scimgate::emulator::{EmulatorConfig, Faults, Switches};
use serde_json::{Value, json};

use super::{Emu, config, patch, user_body};

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
