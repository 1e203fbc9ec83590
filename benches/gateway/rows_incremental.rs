//! Row 14: an incremental refresh of an RFC 7644 directory (10,000 users, 20 groups) after 50
//! users changed behind the gateway's back, against a full refresh of the same directory in the
//! same run: upstream calls counted at the emulator, and time from asking to the mirror showing
//! the refresh done.

use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::json;

use crate::opts::Opts;
use crate::procs::{Emulator, Env, Gateway};
use crate::report::{Line, Report, ms};
use crate::rows_cold::{NO_LIMIT, generous};

const SYNC: &str = "{ org { sync { lastRefreshAt lastRefreshKind lastRefreshCalls userCount } } }";

/// Asks for a refresh (`full` or not) and waits until one has finished after it; returns its
/// time, its kind and the calls it made as the emulator counted them.
async fn refresh(gw: &Gateway, emu: &Emulator, full: bool) -> (Duration, String, u64) {
    let before = gw.gql.data(SYNC, json!({})).await["org"]["sync"]["lastRefreshAt"].clone();
    let calls_before = emu.stats().await.total;
    let started = Instant::now();
    gw.gql
        .data(
            "mutation($full: Boolean!) { refreshDirectory(input: { full: $full }) { outcome } }",
            json!({ "full": full }),
        )
        .await;
    let deadline = started + Duration::from_secs(120);
    loop {
        let sync = gw.gql.data(SYNC, json!({})).await["org"]["sync"].clone();
        if sync["lastRefreshAt"] != before {
            let took = started.elapsed();
            let kind = sync["lastRefreshKind"].as_str().unwrap_or("?").to_owned();
            return (took, kind, emu.stats().await.total - calls_before);
        }
        assert!(Instant::now() < deadline, "no refresh finished: {sync}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

pub async fn incremental_row(env: &Env, o: &Opts, r: &mut Report) {
    let (n, g, changed) = (if o.quick { 2_000 } else { 10_000 }, 20, 50);
    eprintln!("row 14: incremental refresh of {n} RFC 7644 users with {changed} changed");
    let emu = Emulator::start_profile(env, n, g, NO_LIMIT, "rfc7644").await;
    let gw = Gateway::start(env, &emu, &generous()).await;
    gw.gql.wait_complete(Duration::from_secs(300)).await;

    let (full_took, full_kind, full_calls) = refresh(&gw, &emu, true).await;
    assert_eq!(full_kind, "FULL");

    let page = emu
        .scim(
            Method::GET,
            &format!("/Users?startIndex=1&count={changed}"),
            None,
        )
        .await;
    let ids: Vec<String> = page["Resources"]
        .as_array()
        .expect("a user page")
        .iter()
        .filter_map(|u| u["id"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(ids.len(), changed);
    for id in &ids {
        let op = json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "replace", "path": "name.givenName", "value": "Changed"}]
        });
        emu.scim(Method::PATCH, &format!("/Users/{id}"), Some(op))
            .await;
    }
    let (took, kind, calls) = refresh(&gw, &emu, false).await;
    assert_eq!(kind, "INCREMENTAL");
    let seen = gw
        .gql
        .data(
            "{ org { users(first: 100, filter: { search: \"changed\" }) { totalCount } } }",
            json!({}),
        )
        .await;
    let shown = seen["org"]["users"]["totalCount"].as_u64().unwrap_or(0);
    assert!(
        shown >= changed as u64,
        "the mirror shows the changes: {seen}"
    );

    let least = (changed as u64).div_ceil(100) + 1;
    r.push(Line {
        row: "14",
        measure: format!(
            "incremental refresh, RFC 7644, {n} users, {changed} changed: upstream calls"
        ),
        measured: format!("{calls} calls"),
        reference: format!("{full_calls} (full refresh)"),
        ratio: Some(calls as f64 / full_calls.max(1) as f64),
        target: format!("= {least} (changed pages)"),
        met: Some(calls == least),
    });
    r.push(Line {
        row: "14b",
        measure: format!("incremental refresh, RFC 7644, {n} users, {changed} changed: time"),
        measured: ms(took),
        reference: format!("{} (full refresh)", ms(full_took)),
        ratio: Some(took.as_secs_f64() / full_took.as_secs_f64()),
        target: "< full".into(),
        met: Some(took < full_took),
    });
    r.detail(format!(
        "row 14: asked by refreshDirectory and timed until sync.lastRefreshAt moved (polled every \
         5 ms); generous budget, no upstream latency; the {changed} users were changed by PATCH \
         straight to the emulator before the incremental refresh; the search for their new name \
         found {shown}"
    ));
}
