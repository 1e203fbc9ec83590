//! Webhooks from the outbox, with injected time, to wiremock receivers on loopback: each
//! delivery signed the Standard Webhooks way (verified here as a receiver would), retried on
//! the schedule until the receiver takes it, `Retry-After` honoured, `410 Gone` disabling the
//! endpoint until a redelivery, and each event delivered once however many steps run.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use scimgate::config::WebhookConfig;
use scimgate::governance::Webhooks;
use scimgate::store::{DeliveryFilter, DeliveryState, now_ms};
use secrecy::SecretString;
use serde_json::Value;
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::governance_grants::{grant, setup};
use crate::support::TestApp;

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const HOUR: i64 = 3_600_000;

fn hooks(app: &TestApp, url: &str, events: &[&str]) -> Webhooks {
    let config = WebhookConfig {
        name: "siem".into(),
        org: app.gateway.dirs.all()[0].org_id().to_string(),
        url: url.to_owned(),
        events: events.iter().map(|e| (*e).to_owned()).collect(),
        secret_env: "SIEM_WEBHOOK_SECRET".into(),
        secret: Some(SecretString::from(SECRET)),
    };
    Webhooks::new(app.gateway.store.clone(), &[config])
}

/// What a receiver checks: the signature over `id.timestamp.body` with the secret's bytes.
fn verified(request: &wiremock::Request) -> Value {
    let header = |name: &str| {
        request
            .headers
            .get(name)
            .unwrap()
            .to_str()
            .unwrap()
            .to_owned()
    };
    let (id, timestamp) = (header("webhook-id"), header("webhook-timestamp"));
    let key = STANDARD
        .decode(SECRET.trim_start_matches("whsec_"))
        .unwrap();
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &key);
    let content = [
        id.as_bytes(),
        b".",
        timestamp.as_bytes(),
        b".",
        &request.body,
    ]
    .concat();
    let sent = header("webhook-signature");
    let sent = STANDARD
        .decode(sent.strip_prefix("v1,").expect("a v1 signature"))
        .unwrap();
    ring::hmac::verify(&key, &content, &sent).expect("the signature verifies");
    let age = now_ms() / 1_000 - timestamp.parse::<i64>().unwrap();
    assert!((0..300).contains(&age), "a fresh timestamp: {age} s");
    serde_json::from_slice(&request.body).unwrap()
}

async fn deliveries(app: &TestApp) -> Vec<scimgate::store::Delivery> {
    let filter = DeliveryFilter {
        org: app.gateway.dirs.all()[0].org_id().to_string(),
        ..DeliveryFilter::default()
    };
    app.gateway
        .store
        .list_deliveries(&filter, None, 50)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_delivery_fails_three_times_then_arrives_signed_on_the_fourth_try() {
    let (app, dir, group, _, user) = setup().await;
    let receiver = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(500))
        .up_to_n_times(3)
        .with_priority(1)
        .mount(&receiver)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(204))
        .with_priority(2)
        .mount(&receiver)
        .await;
    let hooks = hooks(&app, &format!("{}/scimgate", receiver.uri()), &["grant.*"]);
    let t = now_ms();
    // The endpoint starts at the log's head: events from now on.
    assert_eq!(hooks.run_once(t).await.unwrap().enqueued, 0);
    let g = grant(&app, &dir, &group, &user, t + HOUR, t).await.unwrap();

    let first = hooks.run_once(t).await.unwrap();
    assert_eq!((first.enqueued, first.retrying), (1, 1));
    // Not before its retry time; then on the schedule: 5 s, 5 min, 30 min (each + ≤10%).
    assert_eq!(hooks.run_once(t + 4_000).await.unwrap().retrying, 0);
    let mut at = t;
    for pause in [5_500, 330_000] {
        at += pause + 1;
        let r = hooks.run_once(at).await.unwrap();
        assert_eq!((r.retrying, r.delivered), (1, 0), "at +{} ms", at - t);
    }
    let pending = &deliveries(&app).await[0];
    assert_eq!(
        (pending.state, pending.attempts),
        (DeliveryState::Pending, 3)
    );
    assert_eq!(pending.last_status, Some(500));
    at += 1_980_001;
    assert_eq!(hooks.run_once(at).await.unwrap().delivered, 1);
    assert_eq!(
        hooks.run_once(at + HOUR).await.unwrap(),
        Default::default(),
        "once"
    );

    let got = receiver.received_requests().await.unwrap();
    assert_eq!(got.len(), 4);
    let ids: Vec<_> = got
        .iter()
        .map(|r| r.headers.get("webhook-id").unwrap().clone())
        .collect();
    assert!(
        ids.iter().all(|id| *id == ids[0]),
        "one webhook-id across tries: {ids:?}"
    );
    for request in &got {
        let body = verified(request);
        assert_eq!(body["type"], "grant.granted");
        assert_eq!(body["data"]["details"]["grant"], g.id.as_str());
        assert_eq!(body["data"]["actor"], "test-admin");
    }
    let done = &deliveries(&app).await[0];
    assert_eq!(
        (done.state, done.attempts, done.last_status),
        (DeliveryState::Delivered, 4, Some(204))
    );
}

#[tokio::test]
async fn retry_after_is_honoured_and_gone_disables_the_endpoint_until_a_redelivery() {
    let (app, dir, group, _, user) = setup().await;
    let receiver = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(503).insert_header("retry-after", "120"))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&receiver)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(410))
        .up_to_n_times(1)
        .with_priority(2)
        .mount(&receiver)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200))
        .with_priority(3)
        .mount(&receiver)
        .await;
    let hooks = hooks(&app, &receiver.uri(), &[]);
    let t = now_ms();
    hooks.run_once(t).await.unwrap();
    grant(&app, &dir, &group, &user, t + HOUR, t).await.unwrap();
    assert_eq!(hooks.run_once(t).await.unwrap().retrying, 1);
    let waiting = &deliveries(&app).await[0];
    assert!(
        waiting.next_try_ms >= t + 120_000,
        "Retry-After: 120 over the 5 s schedule"
    );
    assert_eq!(hooks.run_once(t + 60_000).await.unwrap().retrying, 0);
    // 410: failed, the endpoint disabled; a later event waits.
    let gone = hooks.run_once(t + 121_000).await.unwrap();
    assert_eq!(gone.failed, 1);
    let first = deliveries(&app).await[0].clone();
    assert_eq!(
        (first.state, first.last_status),
        (DeliveryState::Failed, Some(410))
    );
    assert!(
        app.gateway
            .store
            .endpoint_disabled("siem")
            .await
            .unwrap()
            .is_some()
    );
    app.gateway
        .grants
        .revoke(&deliveries_grant(&first), "test-admin", t + 122_000)
        .await
        .unwrap();
    let held = hooks.run_once(t + 123_000).await.unwrap();
    assert_eq!(
        (held.enqueued, held.delivered),
        (1, 0),
        "queued, not sent while disabled"
    );
    // Redelivering the failed one enables the endpoint again: both go.
    assert!(
        app.gateway
            .store
            .redeliver(&first.id, t + 124_000)
            .await
            .unwrap()
    );
    assert_eq!(hooks.run_once(t + 124_000).await.unwrap().delivered, 2);
    let kinds: Vec<String> = receiver
        .received_requests()
        .await
        .unwrap()
        .iter()
        .map(|r| verified(r)["type"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(kinds.len(), 4);
    assert!(kinds.contains(&"grant.revoked".to_owned()), "{kinds:?}");
}

/// The grant a delivery's event is about.
fn deliveries_grant(d: &scimgate::store::Delivery) -> String {
    let body: Value = serde_json::from_str(&d.body).unwrap();
    body["data"]["details"]["grant"]
        .as_str()
        .unwrap()
        .to_owned()
}

const DELIVERIES: &str = "query($state: WebhookDeliveryState) { org { webhookDeliveries(first: 10, filter: { state: $state }) { edges { node { id endpoint seq eventKind messageId state attempts lastStatus lastError nextTryAt deliveredAt body } } pageInfo { hasNextPage } } } }";
const REDELIVER: &str = "mutation($input: RedeliverWebhookInput!) { redeliverWebhook(input: $input) { outcome userErrors { code message } delivery { id state attempts } } }";

#[tokio::test]
async fn admins_list_deliveries_and_redeliver_a_failed_one_read_keys_may_not() {
    use scimgate::auth::Role;
    use scimgate::config::LimitsConfig;

    use crate::support::{OrgSpec, error_code, spawn_app_with};

    let app = spawn_app_with(
        vec![OrgSpec::new("acme", 30, 3)],
        &[("acme-read", Role::Read, &["acme"])],
        LimitsConfig::default(),
    )
    .await;
    app.warm().await;
    let dir = app.gateway.dirs.all()[0].clone();
    let snap = dir.snapshot();
    let group = snap.groups()[0].clone();
    let user = snap
        .users()
        .iter()
        .map(|u| u.key().to_owned())
        .find(|k| !group.member_keys.contains(k))
        .unwrap();
    let receiver = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(410))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&receiver)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200))
        .with_priority(2)
        .mount(&receiver)
        .await;
    let hooks = hooks(&app, &receiver.uri(), &["grant.granted"]);
    let t = now_ms();
    hooks.run_once(t).await.unwrap();
    grant(&app, &dir, &group.id, &user, t + HOUR, t)
        .await
        .unwrap();
    assert_eq!(hooks.run_once(t).await.unwrap().failed, 1);

    let body = app.data(DELIVERIES, serde_json::json!({})).await;
    let node = &body["org"]["webhookDeliveries"]["edges"][0]["node"];
    assert_eq!(node["state"], "FAILED", "{body:#}");
    assert_eq!(node["lastStatus"], 410);
    assert_eq!(node["eventKind"], "grant.granted");
    assert_eq!(node["endpoint"], "siem");
    assert!(
        node["lastError"].as_str().unwrap().contains("410 Gone"),
        "{body:#}"
    );
    assert_eq!(node["body"]["type"], "grant.granted");
    let id = node["id"].as_str().unwrap().to_owned();

    let read = app.keys["acme-read"].clone();
    let refused = app.query_as(&read, DELIVERIES, serde_json::json!({})).await;
    assert_eq!(error_code(&refused), "FORBIDDEN", "{refused:#}");
    let refused = app
        .query_as(
            &read,
            REDELIVER,
            serde_json::json!({ "input": { "id": id } }),
        )
        .await;
    assert_eq!(error_code(&refused), "FORBIDDEN", "{refused:#}");
    let missing = app
        .data(REDELIVER, serde_json::json!({ "input": { "id": "nope" } }))
        .await;
    assert_eq!(
        missing["redeliverWebhook"]["userErrors"][0]["code"],
        "NOT_FOUND"
    );

    let again = app
        .data(REDELIVER, serde_json::json!({ "input": { "id": id } }))
        .await;
    let payload = &again["redeliverWebhook"];
    assert_eq!(payload["outcome"], "SUCCESS", "{again:#}");
    assert_eq!(payload["delivery"]["state"], "PENDING");
    assert_eq!(payload["delivery"]["attempts"], 0);
    assert_eq!(hooks.run_once(now_ms()).await.unwrap().delivered, 1);
    let delivered = app
        .data(DELIVERIES, serde_json::json!({ "state": "DELIVERED" }))
        .await;
    let edges = delivered["org"]["webhookDeliveries"]["edges"]
        .as_array()
        .unwrap();
    assert_eq!(edges.len(), 1, "{delivered:#}");
    assert_eq!(edges[0]["node"]["attempts"], 1);
    assert!(edges[0]["node"]["deliveredAt"].is_string());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_delivers_a_configured_webhook_signed_with_the_secret_from_its_variable() {
    use std::time::{Duration, Instant};

    let receiver = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&receiver)
        .await;
    scimgate::scim::install_crypto_provider();
    let emu = scimgate::emulator::spawn(scimgate::emulator::EmulatorConfig {
        users: 30,
        groups: 3,
        limit: 100_000,
        token: "webhook-scim-token".into(),
        ..scimgate::emulator::EmulatorConfig::default()
    })
    .await
    .unwrap();
    let port = crate::cli::free_port();
    let dir = std::env::temp_dir().join(format!("scimgate-webhooks-{port}"));
    std::fs::create_dir_all(&dir).unwrap();
    let config = dir.join("scimgate.toml");
    let key = "webhook-test-client-key-01";
    std::fs::write(
        &config,
        format!(
            "[server]\nlisten = \"127.0.0.1:{port}\"\n\n[store]\nurl = \"sqlite://{}\"\n\n\
             [[api_keys]]\nname = \"ops\"\nhash = \"{}\"\nrole = \"admin\"\n\n\
             [[webhooks]]\nname = \"siem\"\norg = \"acme\"\nurl = \"{}/hook\"\nevents = [\"grant.*\"]\nsecret_env = \"SIEM_SECRET\"\n\n\
             [[orgs]]\nid = \"acme\"\nbase_url = \"{}\"\nkey_env = \"CRASH_SCIM_KEY\"\n",
            dir.join("store.sqlite3").display(),
            scimgate::auth::hash_key(key),
            receiver.uri(),
            emu.base_url()
        ),
    )
    .unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_scimgate"));
    child
        .args(["serve", "--config", config.to_str().unwrap()])
        .env("CRASH_SCIM_KEY", emu.token())
        .env("SIEM_SECRET", SECRET)
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::piped());
    let mut child = child.spawn().unwrap();
    let stdout = child.stdout.take().unwrap();
    let _running = crate::cli::Running(child);
    assert!(
        std::io::BufRead::lines(std::io::BufReader::new(stdout))
            .map_while(Result::ok)
            .any(|l| l.starts_with("scimgate listening on")),
        "the gateway did not start"
    );
    let group = emu.state().groups()[0].clone();
    let members: Vec<String> = group
        .members
        .iter()
        .map(|m| m.value.to_lowercase())
        .collect();
    let user = emu
        .state()
        .users()
        .iter()
        .map(|u| u.user_name.to_lowercase())
        .find(|u| !members.contains(u) && !emu.state().is_pending(u))
        .unwrap();
    // The webhook loop's first step (at start) set the endpoint's cursor; poll until then
    // is not needed: events from the start on are taken once the cursor exists.
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    let input = serde_json::json!({ "userId": user, "groupId": group.id.clone().unwrap().to_string(), "duration": "1h", "reason": "webhook e2e" });
    let body: Value = reqwest::Client::new()
        .post(format!("http://127.0.0.1:{port}/graphql"))
        .bearer_auth(key)
        .json(&serde_json::json!({ "query": "mutation($input: GrantGroupAccessInput!) { grantGroupAccess(input: $input) { outcome } }", "variables": { "input": input } }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        body["data"]["grantGroupAccess"]["outcome"], "SUCCESS",
        "{body:#}"
    );
    let deadline = Instant::now() + Duration::from_secs(15);
    let got = loop {
        let got = receiver.received_requests().await.unwrap();
        if !got.is_empty() {
            break got;
        }
        assert!(Instant::now() < deadline, "no delivery arrived");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let delivered = verified(&got[0]);
    assert_eq!(delivered["type"], "grant.granted");
    assert_eq!(delivered["data"]["details"]["email"], user.as_str());
    assert_eq!(got[0].url.path(), "/hook");
    let _ = std::fs::remove_dir_all(&dir);
}
