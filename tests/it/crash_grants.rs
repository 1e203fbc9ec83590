//! Grants across a crash: `scimgate serve` on a store file makes 100 grants on one group, all
//! due within one window a few seconds ahead, is killed with SIGKILL before they are due and
//! started again after. Checked at the emulator (its membership log): every user is removed,
//! once, none before its grant's due time and all within 60 s of it, inside a budget tighter
//! after the restart; the audit log has an expiry for each.

use std::collections::HashSet;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use scimgate::emulator::{self, EmulatorConfig, LoggedRequest};
use scimgate::store::{AuditFilter, Store, Window};
use serde_json::{Value, json};

use crate::cli::free_port;
use crate::crash::serve;
use crate::support::postgres_store;

const KEY: &str = "crash-grants-client-key-01";
const GRANTS: usize = 100;
/// The organization's budget, requests per `WINDOW_MS`: generous while the grants are made,
/// tight after the restart, so the 100 removals must wait their turn.
const LIMIT: usize = 200;
const RESTART_LIMIT: usize = 40;
const WINDOW_MS: u64 = 1_000;
/// The first grant is due this long after the test starts making them (time to make 100 on a
/// loaded machine); the others follow 10 ms apart, so all are due within one second.
const FIRST_DUE_MS: u64 = 6_000;
const SPACING_MS: u64 = 10;

const GRANT: &str = "mutation($input: GrantGroupAccessInput!) { grantGroupAccess(input: $input) \
                     { outcome userErrors { code message } grant { id state expiresAt } } }";
const EXPIRED: &str = "{ org { grants(first: 1, filter: { state: EXPIRED }) { totalCount } } }";

fn wall_us() -> u64 {
    u64::try_from(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_micros(),
    )
    .unwrap()
}

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

/// Most requests in the log within any sliding window of `window_ms`.
pub(crate) fn max_in_window(log: &[LoggedRequest], window_ms: u64) -> usize {
    let times: Vec<u64> = log.iter().map(|r| r.t_ms).collect();
    let mut start = 0;
    let mut most = 0;
    for (end, t) in times.iter().enumerate() {
        while times[start] + window_ms <= *t {
            start += 1;
        }
        most = most.max(end + 1 - start);
    }
    most
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grants_due_while_the_gateway_is_killed_are_each_removed_once_on_time_after_restart_on_sqlite()
 {
    let dir = std::env::temp_dir().join(format!(
        "scimgate-crash-grants-{:08x}",
        rand::random::<u32>()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let url = format!("sqlite://{}", dir.join("store.sqlite3").display());
    grants_survive_a_crash(&url).await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grants_due_while_the_gateway_is_killed_are_each_removed_once_on_time_after_restart_on_postgres()
 {
    let Some(pg) = postgres_store("crash_grants").await else {
        return;
    };
    grants_survive_a_crash(pg.url()).await;
    pg.drop_schema().await;
}

async fn grants_survive_a_crash(store_url: &str) {
    scimgate::scim::install_crypto_provider();
    let emu = emulator::spawn(EmulatorConfig {
        users: 300,
        groups: 6,
        limit: 100_000,
        window: Duration::from_millis(WINDOW_MS),
        token: "crash-grants-scim-token-01".into(),
        ..EmulatorConfig::default()
    })
    .await
    .unwrap();
    let port = free_port();
    let dir = std::env::temp_dir().join(format!("scimgate-crash-grants-{port}"));
    std::fs::create_dir_all(&dir).unwrap();
    let config = dir.join("scimgate.toml");
    let write_config = |limit: usize| {
        std::fs::write(
            &config,
            format!(
                "[server]\nlisten = \"127.0.0.1:{port}\"\n\n[store]\nurl = \"{store_url}\"\n\n\
                 [[api_keys]]\nname = \"access-bot\"\nhash = \"{}\"\nrole = \"write\"\n\n\
                 [[orgs]]\nid = \"acme\"\nbase_url = \"{}\"\nkey_env = \"CRASH_SCIM_KEY\"\n\n\
                 [orgs.budget]\nlimit = {limit}\nwindow = \"{WINDOW_MS}ms\"\nmax_queue_wait = \"60s\"\nmax_queued = 1000\n",
                scimgate::auth::hash_key(KEY),
                emu.base_url()
            ),
        )
        .unwrap();
    };
    write_config(LIMIT);
    let group = emu
        .state()
        .groups()
        .into_iter()
        .min_by_key(|g| g.members.len())
        .unwrap();
    let group_id = group.id.clone().expect("a group id").to_string();
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
    assert_eq!(users.len(), GRANTS, "enough joined users outside the group");

    let first_run = serve(&config, emu.token());
    let http = reqwest::Client::new();
    // One clock reading in both forms, to place each due time on the emulator's log clock.
    let (anchor, anchor_us) = (Instant::now(), wall_us());
    let first_due_ms = anchor_us / 1_000 + FIRST_DUE_MS;
    let due_ms: Vec<u64> = (0..GRANTS as u64)
        .map(|i| first_due_ms + i * SPACING_MS)
        .collect();
    for (user, due) in users.iter().zip(&due_ms) {
        let at = UNIX_EPOCH + Duration::from_millis(*due);
        let input = json!({
            "userId": user, "groupId": group_id, "reason": "crash drill",
            "expiresAt": humantime::format_rfc3339_millis(at).to_string(),
        });
        let body = gql(&http, port, GRANT, json!({ "input": input })).await;
        let payload = &body["data"]["grantGroupAccess"];
        assert_eq!(payload["outcome"], "SUCCESS", "{user}: {body:#}");
        assert_eq!(payload["grant"]["state"], "ACTIVE", "{user}: {body:#}");
    }
    let made_by_ms = wall_us() / 1_000;
    assert!(
        made_by_ms + 200 < first_due_ms,
        "making the grants took until {} ms before the first was due; the kill must come first",
        first_due_ms.saturating_sub(made_by_ms)
    );
    drop(first_run); // SIGKILL, before any grant is due
    let mark = emu.requests().len();
    let adds = emu.requests()[..mark]
        .iter()
        .filter(|r| r.method == "PATCH")
        .count();
    assert_eq!(adds, GRANTS, "one add per grant before the kill");

    // Start again only once every grant is due.
    let last_due_ms = *due_ms.last().unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while wall_us() / 1_000 <= last_due_ms + 200 {
        assert!(
            Instant::now() < deadline,
            "the clock did not reach the due times"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    write_config(RESTART_LIMIT);
    let _second_run = serve(&config, emu.token());
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let body = gql(&http, port, EXPIRED, json!({})).await;
        let expired = &body["data"]["org"]["grants"]["totalCount"];
        if expired == GRANTS {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the grants did not all expire: {body:#}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // At the emulator: the removals went as PATCHes to the group (batched: a due member per
    // grant, several in one PATCH), all answered; its membership log shows each of the 100
    // users removed exactly once, and the group keeps the members it had before the grants.
    let log = emu.requests();
    let removals: Vec<&LoggedRequest> =
        log[mark..].iter().filter(|r| r.method == "PATCH").collect();
    assert!(
        removals
            .iter()
            .all(|r| r.path.contains(group_id.as_str()) && (200..300).contains(&r.status)),
        "{removals:?}"
    );
    assert!(
        (1..=GRANTS).contains(&removals.len()),
        "{} PATCHes for {GRANTS} removals",
        removals.len()
    );
    let killed_at = log[mark - 1].t_ms;
    let removed: Vec<_> = emu
        .member_changes()
        .into_iter()
        .filter(|c| !c.added && c.t_ms >= killed_at && c.group == group_id)
        .collect();
    for user in &users {
        let times = removed.iter().filter(|c| &c.member == user).count();
        assert_eq!(times, 1, "{user} removed {times} times");
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
    assert!(
        users.iter().all(|u| !after.contains(u)),
        "a granted user is still a member"
    );
    assert_eq!(after, standing, "the members from before the grants stay");

    // Each user's removal against its own grant's due time, on the emulator's clock.
    let started = emu.started_at().into_std();
    let due_at_emulator = |d: u64| {
        let due = anchor + Duration::from_micros(d * 1_000 - anchor_us);
        i64::try_from(due.saturating_duration_since(started).as_millis()).unwrap()
    };
    let mut lateness: Vec<i64> = users
        .iter()
        .zip(&due_ms)
        .map(|(user, due)| {
            let at = removed.iter().find(|c| &c.member == user).unwrap().t_ms as i64;
            at - due_at_emulator(*due)
        })
        .collect();
    assert!(
        lateness.iter().all(|l| *l >= 0),
        "a removal came before its due time: {lateness:?}"
    );
    assert!(
        lateness.iter().all(|l| *l <= 60_000),
        "a removal came more than 60 s late: {lateness:?}"
    );
    let first_removal = removed.iter().map(|c| c.t_ms).min().unwrap() as i64;
    let last_due = due_at_emulator(*due_ms.last().unwrap());
    lateness.sort_unstable();
    let before = max_in_window(&log[..mark], WINDOW_MS);
    let after_restart = max_in_window(&log[mark..], WINDOW_MS);
    println!(
        "crash_grants: {GRANTS} removals in {} PATCHes, lateness p50 {} ms, worst {} ms (the first {} ms after the last due time); most requests in any {WINDOW_MS} ms: {before} before the kill (limit {LIMIT}), {after_restart} after the restart (limit {RESTART_LIMIT})",
        removals.len(),
        lateness[GRANTS / 2],
        lateness[GRANTS - 1],
        first_removal - last_due,
    );
    assert!(
        before <= LIMIT,
        "{before} requests in one window before the kill"
    );
    assert!(
        after_restart <= RESTART_LIMIT,
        "{after_restart} requests in one window after the restart"
    );
    assert!(emu.stats().max_in_any_window <= LIMIT as u64);

    // The audit log has one expiry for each grant, and the chain is intact.
    let store = Store::open(store_url).await.unwrap();
    let rows = store
        .audit_page(&AuditFilter::default(), Window::default(), 10_000)
        .await
        .unwrap();
    for user in &users {
        let expiries =
            rows.iter()
                .filter(|r| {
                    r.record.action == "grant.expire"
                        && r.record.outcome == "SUCCESS"
                        && r.record.input.contains("membership removed")
                        && r.record.targets.iter().any(|t| {
                            t.email.as_deref().map(str::to_lowercase).as_ref() == Some(user)
                        })
                })
                .count();
        assert_eq!(expiries, 1, "{user}: {expiries} expiry rows");
    }
    let verified = store.verify_audit(|_| {}).await.unwrap();
    assert!(verified.broken.is_none(), "{:?}", verified.broken);
    store.close().await;
    let _ = std::fs::remove_dir_all(&dir);
}
