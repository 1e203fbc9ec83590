//! Two replicas on one PostgreSQL store (two `scimgate serve` processes, distinct replica
//! names, one organization): 60 grants made through replica A, due over two seconds, while
//! both schedulers run. Checked at the emulator's membership log: each user is removed exactly
//! once, none before its due time; each grant has one expiry in the audit log. Replica B's
//! mirror never saw A's additions, so its removals also show that expiry asks the upstream
//! when its own mirror says there is nothing to remove.

use std::collections::HashSet;
use std::time::{Duration, Instant, UNIX_EPOCH};

use scimgate::emulator::{self, EmulatorConfig};
use scimgate::store::{AuditFilter, Store, Window, now_ms};
use serde_json::{Value, json};

use crate::cli::{Running, free_port};
use crate::crash::serve;
use crate::support::postgres_store;

const KEY: &str = "replica-grants-client-key";
const GRANTS: usize = 60;

const GRANT: &str = "mutation($input: GrantGroupAccessInput!) { grantGroupAccess(input: $input) \
                     { outcome userErrors { code message } grant { id state } } }";
const EXPIRED: &str = "{ org { grants(first: 1, filter: { state: EXPIRED }) { totalCount } } }";

async fn gql(http: &reqwest::Client, port: u16, query: &str, variables: Value) -> Value {
    http.post(format!("http://127.0.0.1:{port}/graphql"))
        .bearer_auth(KEY)
        .json(&json!({ "query": query, "variables": variables }))
        .send()
        .await
        .expect("the gateway answers")
        .json()
        .await
        .expect("a JSON body")
}

fn replica(
    dir: &std::path::Path,
    name: &str,
    store_url: &str,
    base_url: &str,
    token: &str,
) -> (Running, u16) {
    let port = free_port();
    let config = dir.join(format!("{name}.toml"));
    std::fs::write(
        &config,
        format!(
            "[server]\nlisten = \"127.0.0.1:{port}\"\n\n[store]\nurl = \"{store_url}\"\nreplica = \"{name}\"\n\n\
             [[api_keys]]\nname = \"access-bot\"\nhash = \"{}\"\nrole = \"write\"\n\n\
             [[orgs]]\nid = \"acme\"\nbase_url = \"{base_url}\"\nkey_env = \"CRASH_SCIM_KEY\"\n\n\
             [orgs.budget]\nlimit = 400\nwindow = \"1s\"\nmax_queue_wait = \"60s\"\n",
            scimgate::auth::hash_key(KEY),
        ),
    )
    .unwrap();
    (serve(&config, token), port)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_on_one_store_remove_each_due_grant_exactly_once() {
    let Some(pg) = postgres_store("replica_grants").await else {
        return;
    };
    scimgate::scim::install_crypto_provider();
    let emu = emulator::spawn(EmulatorConfig {
        users: 200,
        groups: 4,
        limit: 100_000,
        window: Duration::from_secs(1),
        token: "replica-grants-scim-token".into(),
        ..EmulatorConfig::default()
    })
    .await
    .unwrap();
    let dir = std::env::temp_dir().join(format!("scimgate-replicas-{:08x}", rand::random::<u32>()));
    std::fs::create_dir_all(&dir).unwrap();
    let (_a, port_a) = replica(&dir, "replica-a", pg.url(), &emu.base_url(), emu.token());
    let (_b, port_b) = replica(&dir, "replica-b", pg.url(), &emu.base_url(), emu.token());
    let http = reqwest::Client::new();
    // Both mirrors loaded before the grants: B's never sees A's additions.
    for port in [port_a, port_b] {
        let body = gql(
            &http,
            port,
            "{ org { users(first: 1) { totalCount } } }",
            json!({}),
        )
        .await;
        assert_eq!(body["data"]["org"]["users"]["totalCount"], 200, "{body:#}");
    }

    let group = emu
        .state()
        .groups()
        .into_iter()
        .min_by_key(|g| g.members.len())
        .unwrap();
    let group_id = group.id.clone().unwrap().to_string();
    let standing: HashSet<String> = group
        .members
        .iter()
        .map(|m| m.value.to_lowercase())
        .collect();
    let users: Vec<String> = emu
        .state()
        .users()
        .iter()
        .map(|u| u.user_name.to_lowercase())
        .filter(|e| !standing.contains(e) && !emu.state().is_pending(e))
        .take(GRANTS)
        .collect();
    assert_eq!(users.len(), GRANTS);
    let (anchor, anchor_ms) = (Instant::now(), now_ms());
    let due: Vec<i64> = (0..GRANTS as i64)
        .map(|i| anchor_ms + 4_000 + i * 33)
        .collect();
    for (user, due) in users.iter().zip(&due) {
        let at = UNIX_EPOCH + Duration::from_millis(*due as u64);
        let input = json!({
            "userId": user, "groupId": group_id, "reason": "replica drill",
            "expiresAt": humantime::format_rfc3339_millis(at).to_string(),
        });
        let body = gql(&http, port_a, GRANT, json!({ "input": input })).await;
        assert_eq!(
            body["data"]["grantGroupAccess"]["grant"]["state"], "ACTIVE",
            "{body:#}"
        );
    }
    assert!(
        now_ms() + 300 < due[0],
        "making the grants took past the first due time"
    );

    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let body = gql(&http, port_b, EXPIRED, json!({})).await;
        if body["data"]["org"]["grants"]["totalCount"] == GRANTS {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the grants did not all expire: {body:#}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let started = emu.started_at().into_std();
    let on_emulator = |ms: i64| {
        let at = anchor + Duration::from_millis(u64::try_from(ms - anchor_ms).unwrap());
        at.saturating_duration_since(started).as_millis() as u64
    };
    let removed: Vec<_> = emu
        .member_changes()
        .into_iter()
        .filter(|c| !c.added && c.group == group_id)
        .collect();
    for (user, due) in users.iter().zip(&due) {
        let times: Vec<_> = removed.iter().filter(|c| &c.member == user).collect();
        assert_eq!(times.len(), 1, "{user} removed {} times", times.len());
        assert!(
            times[0].t_ms >= on_emulator(*due),
            "{user} removed before its due time"
        );
    }
    assert_eq!(removed.len(), GRANTS, "only the granted users were removed");
    let after: HashSet<String> = emu
        .state()
        .group(&group_id)
        .unwrap()
        .members
        .iter()
        .map(|m| m.value.to_lowercase())
        .collect();
    assert_eq!(after, standing, "the members from before the grants stay");

    let store = Store::open(pg.url()).await.unwrap();
    let rows = store
        .audit_page(
            &AuditFilter {
                action: Some("grant.expire".into()),
                ..AuditFilter::default()
            },
            Window::default(),
            10_000,
        )
        .await
        .unwrap();
    for user in &users {
        let n = rows
            .iter()
            .filter(|r| {
                r.record.outcome == "SUCCESS"
                    && r.record
                        .targets
                        .iter()
                        .any(|t| t.email.as_deref() == Some(user.as_str()))
            })
            .count();
        assert_eq!(n, 1, "{user}: {n} expiry rows");
    }
    let patches = emu
        .requests()
        .iter()
        .filter(|r| r.method == "PATCH")
        .count();
    println!(
        "replica_grants: {GRANTS} removals by two replicas in {} PATCHes",
        patches - GRANTS
    );
    store.close().await;
    pg.drop_schema().await;
    let _ = std::fs::remove_dir_all(&dir);
}
