//! The grant metrics: grants not ended and overdue (gauges set at scrape from the store), the
//! age of the oldest overdue one, and each end's revocation lag (a histogram whose sum is the
//! lags the grants report in GraphQL).

use std::time::{Duration, Instant, SystemTime};

use scimgate::emulator::Faults;
use serde_json::{Value, json};

use super::{Scrape, emulator, graphql, serve};

const GRANT: &str = "mutation($input: GrantGroupAccessInput!) { grantGroupAccess(input: $input) { outcome grant { id state } } }";
const REVOKE: &str =
    "mutation($input: RevokeGrantInput!) { revokeGrant(input: $input) { outcome } }";
const GRANT_NODE: &str =
    "query($id: ID!) { node(id: $id) { ... on Grant { state overdue revocationLagMs } } }";

const LAG: &str = "scimgate_grant_revocation_lag_seconds";

async fn grant(
    http: &reqwest::Client,
    port: u16,
    group: &str,
    user: &str,
    mut input: Value,
) -> String {
    input["userId"] = json!(user);
    input["groupId"] = json!(group);
    input["reason"] = json!("metrics test");
    let body = graphql(http, port, GRANT, json!({ "input": input })).await;
    assert_eq!(
        body["data"]["grantGroupAccess"]["outcome"], "SUCCESS",
        "{body:#}"
    );
    body["data"]["grantGroupAccess"]["grant"]["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// Scrapes until `done` holds (deadline 20 s); the last scrape.
async fn until(
    http: &reqwest::Client,
    port: u16,
    what: &str,
    done: impl Fn(&Scrape) -> bool,
) -> Scrape {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let scrape = Scrape::take(http, port).await;
        if done(&scrape) {
            return scrape;
        }
        assert!(Instant::now() < deadline, "{what}: not seen in time");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grant_gauges_and_the_revocation_lag_follow_each_grant() {
    let emu = emulator().await;
    let (port, _gateway, _dir) = serve(&emu, "", "limit = 600\nwindow = \"60s\"", &[]);
    let http = reqwest::Client::new();
    let group = emu
        .state()
        .groups()
        .into_iter()
        .min_by_key(|g| g.members.len())
        .unwrap();
    let group_id = group.id.clone().unwrap().to_string();
    let members: Vec<String> = group
        .members
        .iter()
        .map(|m| m.value.to_lowercase())
        .collect();
    let outsiders: Vec<String> = emu
        .state()
        .users()
        .iter()
        .map(|u| u.user_name.to_lowercase())
        .filter(|e| !members.contains(e) && !emu.state().is_pending(e))
        .take(2)
        .collect();
    let long = grant(
        &http,
        port,
        &group_id,
        &outsiders[0],
        json!({ "duration": "1h" }),
    )
    .await;
    let ends = SystemTime::now() + Duration::from_millis(1_500);
    let short = grant(
        &http,
        port,
        &group_id,
        &outsiders[1],
        json!({ "expiresAt": humantime::format_rfc3339_millis(ends).to_string() }),
    )
    .await;
    let acme = [("org", "acme")];
    let first = Scrape::take(&http, port).await;
    assert_eq!(first.sum("scimgate_grants_active", &acme), 2.0);
    assert_eq!(first.sum("scimgate_grants_overdue", &acme), 0.0);

    // The short one's removal fails while the emulator answers 500: overdue, and aging.
    emu.set_faults(Faults {
        error_rate: 1.0,
        ..Faults::default()
    });
    let overdue = until(&http, port, "an overdue grant", |s| {
        s.sum("scimgate_grants_overdue", &acme) == 1.0
            && s.sum("scimgate_grants_overdue_seconds", &acme) >= 0.5
    })
    .await;
    assert_eq!(overdue.sum("scimgate_grants_active", &acme), 2.0);
    assert_eq!(
        overdue.sum(LAG, &[("org", "acme"), ("end", "expired")]),
        0.0
    );
    emu.set_faults(Faults::default());
    let ended = until(&http, port, "the expiry", |s| {
        s.sum(LAG, &[("org", "acme"), ("end", "expired")]) == 1.0
    })
    .await;
    assert_eq!(ended.sum("scimgate_grants_active", &acme), 1.0);
    assert_eq!(ended.sum("scimgate_grants_overdue", &acme), 0.0);
    assert_eq!(ended.sum("scimgate_grants_overdue_seconds", &acme), 0.0);

    // A revocation is the other end.
    let body = graphql(&http, port, REVOKE, json!({ "input": { "id": long } })).await;
    assert_eq!(
        body["data"]["revokeGrant"]["outcome"], "SUCCESS",
        "{body:#}"
    );
    let revoked = until(&http, port, "the revocation", |s| {
        s.sum(LAG, &[("org", "acme"), ("end", "revoked")]) == 1.0
    })
    .await;
    assert_eq!(revoked.sum("scimgate_grants_active", &acme), 0.0);

    // The histogram's sum is the lag the grant reports.
    let node = graphql(&http, port, GRANT_NODE, json!({ "id": short })).await;
    let lag_ms = node["data"]["node"]["revocationLagMs"].as_f64().unwrap();
    assert!(
        lag_ms >= 1_000.0,
        "it waited out a failure and a backoff: {node:#}"
    );
    let sum = revoked.histogram_sum(LAG, &[("org", "acme"), ("end", "expired")]);
    assert!(
        (sum * 1_000.0 - lag_ms).abs() < 1.0,
        "{sum} s against {lag_ms} ms"
    );
}
