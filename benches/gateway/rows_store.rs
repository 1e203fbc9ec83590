//! Rows 9 and 10: what the store adds to a write (updateUser's latency on a gateway whose
//! store is SQLite or PostgreSQL, against the same gateway with its mutations not journaled,
//! in alternating rounds), and the audit export of a large log (time and peak memory of
//! `scimgate audit export`, against a log a tenth of the size).

use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use scimgate::store::{AuditRecord, ScratchSchema, Store, Target, UpstreamCall};
use serde_json::json;

use crate::opts::Opts;
use crate::procs::{BIN, Emulator, Env, Gateway, StoreSpec};
use crate::report::{Line, Report, median, ms};
use crate::rows_cold::{NO_LIMIT, generous};

pub const CHILD_FLAG: &str = "--unjournaled-child";

/// The reference gateway as a child process: `serve`'s assembly over the same configuration,
/// with the mutations' journal taken out (`Gateway::without_journal`).
pub fn child_main(args: &[String]) -> ExitCode {
    let (Some(port), Some(path)) = (args.get(1), args.get(2)) else {
        eprintln!("usage: {CHILD_FLAG} <port> <config.toml>");
        return ExitCode::FAILURE;
    };
    let port: u16 = port.parse().expect("a port");
    let text = std::fs::read_to_string(path).expect("the config file");
    scimgate::scim::install_crypto_provider();
    let runtime = tokio::runtime::Runtime::new().expect("a tokio runtime");
    runtime.block_on(async move {
        let env: Vec<(String, String)> = std::env::vars().collect();
        let config = scimgate::config::Config::from_toml_str(&text, &env, &Default::default())
            .expect("a valid configuration");
        let store = Store::open(&config.store.url).await.expect("the store");
        let mut gateway = scimgate::gateway::Gateway::new(&config, store).expect("the gateway");
        gateway.without_journal(&config.limits);
        gateway.start();
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .expect("bind");
        scimgate::http::serve(listener, gateway.app_state(None), std::future::pending())
            .await
            .expect("serve");
    });
    ExitCode::SUCCESS
}

const UPDATE: &str = "mutation($id: ID!, $g: String) { updateUser(input: { id: $id, givenName: $g }) { outcome userErrors { code } } }";

/// A PostgreSQL schema for the row, when the machine has a server (the URL CI's tests use, or
/// `postgres://root@127.0.0.1:5432/test`).
async fn postgres() -> Option<ScratchSchema> {
    let base = std::env::var("SCIMGATE_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://root@127.0.0.1:5432/test".into());
    ScratchSchema::create(&base, "scimgate_bench").await.ok()
}

fn percentile(samples: &[f64], p: f64) -> f64 {
    let mut v = samples.to_vec();
    v.sort_by(f64::total_cmp);
    v[((v.len() as f64 - 1.0) * p).round() as usize]
}

/// Row 9: updateUser, one at a time (each one PUT upstream), on each gateway in turn.
pub async fn write_latency(env: &Env, o: &Opts, r: &mut Report) {
    let emu = Emulator::start(env, 200, 5, NO_LIMIT).await;
    let state = emu.state().await;
    let users: Vec<String> = state["users"]
        .as_array()
        .expect("users")
        .iter()
        .map(|u| u["userName"].as_str().expect("userName").to_owned())
        .collect();
    let pg = postgres().await;
    let mut gateways = vec![
        (
            "no store",
            Gateway::start_on(env, &emu, &generous(), &StoreSpec::Unjournaled).await,
        ),
        (
            "SQLite",
            Gateway::start_on(env, &emu, &generous(), &StoreSpec::Sqlite).await,
        ),
    ];
    match &pg {
        Some(schema) => gateways.push((
            "PostgreSQL",
            Gateway::start_on(
                env,
                &emu,
                &generous(),
                &StoreSpec::Postgres(schema.url().to_owned()),
            )
            .await,
        )),
        None => r.detail("row 9: no PostgreSQL at 127.0.0.1:5432; its line is skipped"),
    }
    for (_, gw) in &gateways {
        gw.gql.wait_complete(Duration::from_secs(60)).await;
    }
    let (rounds, per_round) = if o.quick { (2, 50) } else { (5, 100) };
    let mut samples: Vec<Vec<f64>> = vec![Vec::new(); gateways.len()];
    let puts_before = emu.stats().await.total;
    let mut sent = 0u64;
    for round in 0..rounds {
        for (g, (_, gw)) in gateways.iter().enumerate() {
            for i in 0..per_round {
                let id = &users[(round * per_round + i) % users.len()];
                let name = format!("Bench{round}{g}{i}");
                let started = Instant::now();
                let data = gw.gql.data(UPDATE, json!({ "id": id, "g": name })).await;
                samples[g].push(started.elapsed().as_secs_f64() * 1e3);
                assert_eq!(data["updateUser"]["outcome"], "SUCCESS", "{data}");
                sent += 1;
            }
        }
    }
    let upstream = emu.stats().await.total - puts_before;
    r.detail(format!(
        "row 9: {sent} updateUser calls in {rounds} rounds of {per_round} per gateway, in turn; {upstream} requests reached the emulator (one PUT each)"
    ));
    let reference = median(&samples[0]);
    for (g, (name, _)) in gateways.iter().enumerate() {
        r.detail(format!(
            "row 9: {name}: p50 {:.2} ms, p99 {:.2} ms over {} calls",
            median(&samples[g]),
            percentile(&samples[g], 0.99),
            samples[g].len()
        ));
        if g == 0 {
            continue;
        }
        let p50 = median(&samples[g]);
        r.push(Line {
            row: "9",
            measure: format!("updateUser p50 latency (one PUT upstream), store on {name}"),
            measured: format!("{p50:.2} ms"),
            reference: format!("{reference:.2} ms (no store)"),
            ratio: Some(p50 / reference),
            target: format!("≤ ref + 2 ms = {:.2} ms", reference + 2.0),
            met: Some(p50 <= reference + 2.0),
        });
    }
    drop(gateways);
    if let Some(schema) = pg {
        schema.drop_schema().await;
    }
}

/// Fills a store with `rows` audit rows like a busy organization's.
async fn fill(url: &str, rows: usize) {
    let store = Store::open(url).await.expect("a store");
    for n in 0..rows {
        let email = format!("user{n}@example.com");
        store
            .append_audit(&AuditRecord {
                at_ms: 0,
                request_id: format!("{n:016x}"),
                actor: "hr-sync".into(),
                role: "write".into(),
                org: "bench".into(),
                action: "deactivateUser".into(),
                targets: vec![Target {
                    kind: "User".into(),
                    id: email.clone(),
                    email: Some(email.clone()),
                }],
                input: json!({ "id": email }).to_string(),
                outcome: "SUCCESS".into(),
                error_code: String::new(),
                calls: vec![UpstreamCall {
                    method: "PATCH".into(),
                    path: format!("/scim/1/Users/{email}"),
                    status: Some(200),
                    ms: 41,
                }],
            })
            .await
            .expect("append");
    }
    store.close().await;
}

/// `scimgate audit export` of the store at `url` into a sink: its wall time, peak resident
/// memory (`VmHWM`, polled while it runs) and the bytes it wrote.
fn export(env: &Env, url: &str, format: &str) -> (Duration, u64, u64) {
    let config = env.log_path("export").with_extension("toml");
    std::fs::write(
        &config,
        format!(
            "[store]\nurl = \"{url}\"\n\n[[orgs]]\nid = \"bench\"\nbase_url = \"http://127.0.0.1:9\"\nkey_env = \"BENCH_EXPORT_KEY\"\n"
        ),
    )
    .expect("write the export config");
    let out = env.log_path("export").with_extension(format);
    let started = Instant::now();
    let mut child = Command::new(BIN)
        .args(["audit", "export", "--config"])
        .arg(&config)
        .args(["--format", format])
        .env("BENCH_EXPORT_KEY", "unused")
        .stdout(std::fs::File::create(&out).expect("the export file"))
        .stderr(Stdio::null())
        .spawn()
        .expect("scimgate audit export starts");
    let mut peak = 0;
    loop {
        if let Ok(status) = std::fs::read_to_string(format!("/proc/{}/status", child.id())) {
            let hwm = status
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok());
            peak = peak.max(hwm.unwrap_or(0));
        }
        if let Some(status) = child.try_wait().expect("wait") {
            assert!(status.success(), "audit export failed: {status}");
            break;
        }
        #[expect(
            clippy::disallowed_methods,
            reason = "polling a child's memory between its start and exit; no runtime to block"
        )]
        std::thread::sleep(Duration::from_millis(2));
    }
    let took = started.elapsed();
    let bytes = std::fs::metadata(&out).map_or(0, |m| m.len());
    let _ = std::fs::remove_file(&out);
    (took, peak, bytes)
}

/// Row 10: the export of a 100,000-row log, against one of 10,000 rows (memory must not grow
/// with the log: the export is streamed page by page).
pub async fn audit_export(env: &Env, o: &Opts, r: &mut Report) {
    let big = if o.quick { 20_000 } else { 100_000 };
    let small = big / 10;
    let mut urls = Vec::new();
    for n in [small, big] {
        let url = format!(
            "sqlite://{}",
            env.log_path("audit").with_extension("sqlite3").display()
        );
        let started = Instant::now();
        fill(&url, n).await;
        r.detail(format!(
            "row 10: {n} audit rows appended one by one (each a transaction, as the gateway does) in {:.1} s",
            started.elapsed().as_secs_f64()
        ));
        urls.push((n, url));
    }
    for format in ["csv", "jsonl"] {
        let (small_took, small_peak, _) = export(env, &urls[0].1, format);
        let (took, peak, bytes) = export(env, &urls[1].1, format);
        r.detail(format!(
            "row 10: {format}: {small} rows in {} (peak {} KiB), {big} rows in {} (peak {peak} KiB, {:.1} MB written)",
            ms(small_took),
            small_peak,
            ms(took),
            bytes as f64 / 1e6
        ));
        r.push(Line {
            row: "10",
            measure: format!("`scimgate audit export --format {format}`, {big} rows: time"),
            measured: ms(took),
            reference: format!("{} ({small} rows)", ms(small_took)),
            ratio: Some(took.as_secs_f64() / small_took.as_secs_f64()),
            target: "—".into(),
            met: None,
        });
        r.push(Line {
            row: "10",
            measure: "the same: peak memory (VmHWM)".into(),
            measured: format!("{:.1} MB", peak as f64 / 1024.0),
            reference: format!("{:.1} MB ({small} rows)", small_peak as f64 / 1024.0),
            ratio: Some(peak as f64 / small_peak as f64),
            target: "≤ 1.25 × ref (constant memory)".into(),
            met: Some((peak as f64) <= 1.25 * small_peak as f64),
        });
    }
}
