//! Row 15: access snapshots at 100,000 users and 50 groups: the time `takeSnapshot` takes and
//! the bytes it stores (against the canonical content uncompressed), the diff of two such
//! snapshots after 50 users left behind the gateway's back, and the CSV export's time and the
//! gateway's resident memory around it.

use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{Value, json};

use crate::opts::Opts;
use crate::procs::{Emulator, Env, Gateway};
use crate::report::{Line, Report, ms};
use crate::rows_cold::{NO_LIMIT, generous};

const TAKE: &str =
    "mutation { takeSnapshot(input: {}) { outcome snapshot { id userCount storedBytes } } }";
const DIFF: &str = "query($from: ID!, $to: ID!) { org { snapshotDiff(from: $from, to: $to, first: 50) { \
    totals { usersRemoved membershipsRevoked } } } }";

async fn take(gw: &Gateway) -> (Duration, Value) {
    let started = Instant::now();
    let data = gw.gql.data(TAKE, json!({})).await;
    let took = started.elapsed();
    let p = &data["takeSnapshot"];
    assert_eq!(p["outcome"], "SUCCESS", "{data}");
    (took, p["snapshot"].clone())
}

fn mb(kib: u64) -> String {
    format!("{:.1} MB", kib as f64 * 1024.0 / 1e6)
}

pub async fn snapshot_rows(env: &Env, o: &Opts, r: &mut Report) {
    let (n, g) = (o.big_users, 50);
    eprintln!("row 15: snapshots of {n} users and {g} groups");
    let emu = Emulator::start(env, n, g, NO_LIMIT).await;
    let gw = Gateway::start(env, &emu, &generous()).await;
    gw.gql
        .wait_complete(Duration::from_secs_f64(o.load_deadline))
        .await;
    let (took, first) = take(&gw).await;
    let stored = first["storedBytes"].as_i64().unwrap_or(0);
    let from = first["id"].as_str().unwrap_or_default().to_owned();

    // 50 users leave straight at the emulator; a refresh sees it; the second snapshot.
    let page = emu
        .scim(Method::GET, "/Users?startIndex=1&itemsPerPage=50", None)
        .await;
    let gone: Vec<String> = page["Resources"]
        .as_array()
        .expect("a user page")
        .iter()
        .filter_map(|u| u["id"].as_str().map(str::to_owned))
        .collect();
    for id in &gone {
        emu.scim(Method::DELETE, &format!("/Users/{id}"), None)
            .await;
    }
    gw.gql
        .data(
            "mutation { refreshDirectory(input: { full: true }) { outcome } }",
            json!({}),
        )
        .await;
    let deadline = Instant::now() + Duration::from_secs_f64(o.load_deadline);
    loop {
        let d = gw
            .gql
            .data("{ org { sync { userCount refreshing } } }", json!({}))
            .await;
        if d["org"]["sync"]["userCount"].as_u64() == Some((n - gone.len()) as u64)
            && d["org"]["sync"]["refreshing"] == false
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the refresh did not see the removals: {d}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (took2, second) = take(&gw).await;
    let to = second["id"].as_str().unwrap_or_default().to_owned();
    let started = Instant::now();
    let diff = gw.gql.data(DIFF, json!({ "from": from, "to": to })).await;
    let diff_took = started.elapsed();
    let removed = diff["org"]["snapshotDiff"]["totals"]["usersRemoved"]
        .as_u64()
        .unwrap_or(0);
    assert_eq!(removed, gone.len() as u64, "{diff}");

    let before = gw.proc.rss_kib();
    // Resets VmHWM to the present resident size, so the peak read after is the export's.
    let reset = std::fs::write(format!("/proc/{}/clear_refs", gw.proc.pid()), "5").is_ok();
    let base = gw.gql.endpoint.trim_end_matches("/graphql").to_owned();
    let mut request = gw
        .gql
        .http
        .get(format!("{base}/export/snapshots/{to}?format=csv"));
    if let Some(key) = &gw.gql.key {
        request = request.bearer_auth(key);
    }
    let started = Instant::now();
    let body = request
        .send()
        .await
        .and_then(|r| r.error_for_status())
        .expect("the export answers")
        .bytes()
        .await
        .expect("its body");
    let export_took = started.elapsed();
    let peak = gw.proc.peak_kib();
    let rows = body.iter().filter(|b| **b == b'\n').count();

    r.push(Line {
        row: "15",
        measure: format!("takeSnapshot, {n} users + {g} groups: time"),
        measured: ms(took),
        reference: format!("{} (the second, after 50 left)", ms(took2)),
        ratio: None,
        target: "reported".into(),
        met: None,
    });
    r.push(Line {
        row: "15b",
        measure: "the same: bytes stored (gzipped canonical content)".into(),
        measured: format!("{:.1} MB", stored as f64 / 1e6),
        reference: format!("{rows} CSV rows"),
        ratio: None,
        target: "a few MB".into(),
        met: Some(stored < 10_000_000),
    });
    r.push(Line {
        row: "15c",
        measure: format!(
            "snapshotDiff of two such snapshots ({removed} users removed): first page"
        ),
        measured: ms(diff_took),
        reference: "—".into(),
        ratio: None,
        target: "reported".into(),
        met: None,
    });
    r.push(Line {
        row: "15d",
        measure: format!("snapshot CSV export, {rows} rows: time"),
        measured: ms(export_took),
        reference: format!("VmRSS before {}", mb(before)),
        ratio: None,
        target: "reported".into(),
        met: None,
    });
    r.push(Line {
        row: "15e",
        measure: if reset {
            "the same: gateway peak memory during the export (VmHWM)".into()
        } else {
            "the same: gateway peak memory (VmHWM since start: it could not be reset)".into()
        },
        measured: mb(peak),
        reference: format!("VmRSS before the export {}", mb(before)),
        ratio: Some(peak as f64 / before.max(1) as f64),
        target: "reported".into(),
        met: None,
    });
    r.detail(format!(
        "row 15: {n} users in {g} groups on the amplitude profile, generous budget; the 50 users \
         were deleted straight at the emulator and a full refresh read the directory again before \
         the second snapshot; the export's body was {:.1} MB",
        body.len() as f64 / 1e6
    ));
}
