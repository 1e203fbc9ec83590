//! A crash mid-batch: `scimgate serve` on a store file, killed with SIGKILL while writes with
//! idempotency keys are queued and in flight, started again and every write retried with its
//! key. Checked at the emulator: no request twice, every write applied at most once, every
//! retry's answer equal to the first answer where there was one, and an audit row for every
//! write the emulator received.

use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use scimgate::emulator::{self, EmulatorConfig, Faults};
use scimgate::store::{AuditFilter, Store, Window};
use serde_json::{Value, json};

use crate::cli::{Running, free_port};
use crate::support::postgres_store;

const KEY: &str = "crash-test-client-key-0001";
const INVITES: usize = 30;
const DEACTIVATIONS: usize = 10;

const INVITE: &str = "mutation($input: InviteUserInput!) { inviteUser(input: $input) { outcome userErrors { code message } user { id email status } } }";
const DEACTIVATE: &str = "mutation($input: DeactivateUserInput!) { deactivateUser(input: $input) { outcome userErrors { code message } user { id email status } } }";

/// `scimgate serve` on `config`, once it listens.
pub(crate) fn serve(config: &std::path::Path, token: &str) -> Running {
    let mut child = Command::new(env!("CARGO_BIN_EXE_scimgate"))
        .args(["serve", "--config", config.to_str().unwrap()])
        .env("CRASH_SCIM_KEY", token)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .spawn()
        .expect("scimgate serve starts");
    let stdout = child.stdout.take().unwrap();
    let listening = BufReader::new(stdout)
        .lines()
        .map_while(Result::ok)
        .any(|l| l.starts_with("scimgate listening on"));
    assert!(listening, "the gateway did not start");
    Running(child)
}

/// One write of the batch: its mutation, input (with its key) and the user it concerns.
fn batch(seeded: &[String]) -> Vec<(&'static str, Value, String)> {
    let mut writes = Vec::new();
    for i in 0..INVITES {
        let email = format!("crash.{i}@example.org");
        let input = json!({
            "email": email, "givenName": "Crash", "familyName": format!("Test{i}"),
            "idempotencyKey": format!("invite-{i}"),
        });
        writes.push((INVITE, input, email));
    }
    for (i, email) in seeded.iter().take(DEACTIVATIONS).enumerate() {
        let input = json!({ "id": email, "idempotencyKey": format!("off-{i}") });
        writes.push((DEACTIVATE, input, email.clone()));
    }
    writes
}

async fn send(http: &reqwest::Client, port: u16, query: &str, input: &Value) -> Option<Value> {
    let body: Value = http
        .post(format!("http://127.0.0.1:{port}/graphql"))
        .bearer_auth(KEY)
        .json(&json!({ "query": query, "variables": { "input": input } }))
        .send()
        .await
        .ok()?
        .json()
        .await
        .ok()?;
    let data = body["data"].as_object()?.values().next()?.clone();
    Some(data)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_mid_batch_loses_and_doubles_nothing_on_sqlite() {
    let dir = std::env::temp_dir().join(format!("scimgate-crash-{:08x}", rand::random::<u32>()));
    std::fs::create_dir_all(&dir).unwrap();
    let url = format!("sqlite://{}", dir.join("store.sqlite3").display());
    crash_mid_batch(&url).await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_mid_batch_loses_and_doubles_nothing_on_postgres() {
    let Some(pg) = postgres_store("crash").await else {
        return;
    };
    crash_mid_batch(pg.url()).await;
    pg.drop_schema().await;
}

async fn crash_mid_batch(store_url: &str) {
    scimgate::scim::install_crypto_provider();
    let emu = emulator::spawn(EmulatorConfig {
        users: 40,
        groups: 1,
        limit: 100_000,
        token: "crash-scim-token-0001".into(),
        ..EmulatorConfig::default()
    })
    .await
    .unwrap();
    let port = free_port();
    let dir = std::env::temp_dir().join(format!("scimgate-crash-{port}"));
    std::fs::create_dir_all(&dir).unwrap();
    let config = dir.join("scimgate.toml");
    // 10 requests a second: the batch queues, so the kill finds writes queued and in flight.
    std::fs::write(
        &config,
        format!(
            "[server]\nlisten = \"127.0.0.1:{port}\"\n\n[store]\nurl = \"{store_url}\"\n\n\
             [[api_keys]]\nname = \"hr-sync\"\nhash = \"{}\"\nrole = \"write\"\n\n\
             [[orgs]]\nid = \"acme\"\nbase_url = \"{}\"\nkey_env = \"CRASH_SCIM_KEY\"\n\n\
             [orgs.budget]\nlimit = 10\nwindow = \"1s\"\nmax_queue_wait = \"60s\"\nmax_queued = 1000\n",
            scimgate::auth::hash_key(KEY),
            emu.base_url()
        ),
    )
    .unwrap();
    let seeded: Vec<String> = emu
        .state()
        .users()
        .iter()
        .map(|u| u.user_name.clone())
        .collect();
    let writes = batch(&seeded);

    let first_run = serve(&config, emu.token());
    let http = reqwest::Client::new();
    // Each answer that came back before the kill.
    let first: Arc<Mutex<HashMap<usize, Value>>> = Arc::default();
    let mut tasks = Vec::new();
    for (i, (query, input, _)) in writes.iter().cloned().enumerate() {
        let (http, first) = (http.clone(), first.clone());
        tasks.push(tokio::spawn(async move {
            if let Some(answer) = send(&http, port, query, &input).await {
                first.lock().unwrap().insert(i, answer);
            }
        }));
    }
    // Kill once about a third of the writes reached the emulator.
    emu.set_faults(Faults {
        latency_ms: 50,
        ..Faults::default()
    });
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let sent = emu.requests().iter().filter(|r| r.method != "GET").count();
        if sent >= writes.len() / 3 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the batch did not get going ({sent} writes sent)"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    drop(first_run); // SIGKILL
    for t in tasks {
        let _ = t.await;
    }
    let first = first.lock().unwrap().clone();
    let sent_before = emu.requests().iter().filter(|r| r.method != "GET").count();
    assert!(
        first.len() < writes.len() && sent_before < writes.len(),
        "the kill came after the batch ({} answers, {sent_before} sent)",
        first.len()
    );

    let _second_run = serve(&config, emu.token());
    let mut retried = BTreeMap::new();
    let mut second_tries = 0;
    for (i, (query, input, _)) in writes.iter().enumerate() {
        let mut answer = send(&http, port, query, input)
            .await
            .expect("the retry is answered");
        // A write the stopped process sent unconfirmed is read back, not re-sent: found not
        // applied, it fails as safe to try again, and the next try with the key sends it.
        if answer["outcome"] == "FAILED"
            && answer["userErrors"][0]["code"] == "UPSTREAM_UNAVAILABLE"
        {
            second_tries += 1;
            answer = send(&http, port, query, input)
                .await
                .expect("the second retry is answered");
        }
        retried.insert(i, answer);
    }

    if std::env::var_os("CRASH_DEBUG").is_some() {
        for (i, a) in &retried {
            println!("{i}: first={:?} retry={a}", first.get(i));
        }
    }
    // No request twice: each user's write reached the emulator at most once.
    let log = emu.requests();
    let posts = log.iter().filter(|r| r.method == "POST").count();
    let created: Vec<_> = emu
        .state()
        .users()
        .into_iter()
        .filter(|u| u.user_name.starts_with("crash."))
        .collect();
    // A POST the kill cut off shows status 0 (the emulator dropped it with the connection);
    // a second invitation of the same person would show 409.
    assert!(
        log.iter()
            .filter(|r| r.method == "POST")
            .all(|r| r.status == 201 || r.status == 0),
        "an invitation was sent twice: {:?}",
        log.iter()
            .filter(|r| r.method == "POST")
            .collect::<Vec<_>>()
    );
    let answered = log
        .iter()
        .filter(|r| r.method == "POST" && r.status == 201)
        .count();
    assert_eq!(
        answered,
        created.len(),
        "one answered POST per user created"
    );
    assert!(posts >= created.len());
    let mut patches: HashMap<&str, usize> = HashMap::new();
    for r in log
        .iter()
        .filter(|r| r.method == "PATCH" || r.method == "PUT")
    {
        *patches.entry(r.path.as_str()).or_default() += 1;
    }
    assert!(
        patches.values().all(|n| *n == 1),
        "a user was deactivated twice: {patches:?}"
    );

    for (i, (_, _, email)) in writes.iter().enumerate() {
        let answer = &retried[&i];
        // Where the first answer came, the retry gives it again.
        if let Some(first) = first.get(&i) {
            assert_eq!(
                answer, first,
                "write {i} ({email}) answered differently on retry"
            );
        }
        // Every write ends applied, once: queued ones were sent after the restart, unconfirmed
        // ones were found applied by reading (or sent on the second try).
        assert_eq!(
            answer["outcome"], "SUCCESS",
            "write {i} ({email}): {answer}"
        );
        let at_emulator = emu.state().user(email);
        if i < INVITES {
            assert!(at_emulator.is_some(), "{email}: SUCCESS but not created");
        } else {
            assert!(
                at_emulator.is_none_or(|u| !u.active),
                "{email}: still active"
            );
        }
    }
    println!(
        "crash: {} answers before the kill, {sent_before} writes sent before it, {second_tries} found not applied and sent on a second try",
        first.len()
    );

    // The audit log names every write the emulator received, and the chain is intact.
    let store = Store::open(store_url).await.unwrap();
    let rows = store
        .audit_page(&AuditFilter::default(), Window::default(), 10_000)
        .await
        .unwrap();
    for (i, (_, _, email)) in writes.iter().enumerate() {
        let reached = if i < INVITES {
            emu.state().user(email).is_some()
        } else {
            log.iter()
                .any(|r| r.method == "PATCH" && r.path.contains(&email.replace('@', "%40")))
                || log
                    .iter()
                    .any(|r| r.method == "PATCH" && r.path.contains(email.as_str()))
        };
        if !reached {
            continue;
        }
        let named = rows.iter().any(|r| {
            r.record
                .targets
                .iter()
                .any(|t| t.email.as_deref() == Some(email.as_str()))
                && r.record.outcome == "SUCCESS"
        });
        assert!(
            named,
            "{email} reached the emulator, but no audit row says so"
        );
    }
    let verified = store.verify_audit(|_| {}).await.unwrap();
    assert!(verified.broken.is_none(), "{:?}", verified.broken);
    store.close().await;
    let _ = std::fs::remove_dir_all(&dir);
}
