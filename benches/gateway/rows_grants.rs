//! Row 11: expiry lateness. 1,000 grants on five groups fall due within one minute while the
//! mirror refreshes without pause (2,000 users: 21 background calls a refresh), at the
//! default Amplitude budget (90 per 60 s, background share 0.5). Lateness is each user's
//! removal in the emulator's membership log minus its grant's due time, placed on the
//! emulator's clock by one direct request; the reference is the budget's emission interval.

use std::time::{Duration, Instant};

use scimgate::store::{GrantState, NewGrant, Store};
use serde_json::json;

use crate::opts::Opts;
use crate::procs::{BudgetSpec, Emulator, Env, Gateway, wall_ms};
use crate::report::{Line, Report};

const USERS: usize = 2_000;
const GROUPS: usize = 10;
const PER_GROUP: usize = 200;
const GRANT_GROUPS: usize = 5;
/// The first grant is due this long after the grants are stored; all within `SPREAD_MS`.
const LEAD_MS: i64 = 20_000;
const SPREAD_MS: i64 = 60_000;

/// Most requests in any sliding window of `window_ms` of the log.
fn max_in_window(times: &[u64], window_ms: u64) -> usize {
    let (mut start, mut most) = (0, 0);
    for (end, t) in times.iter().enumerate() {
        while times[start] + window_ms <= *t {
            start += 1;
        }
        most = most.max(end + 1 - start);
    }
    most
}

pub async fn expiry_lateness(env: &Env, o: &Opts, r: &mut Report) {
    let grants = if o.quick { 200 } else { 1_000 };
    // Amplitude's own limit at the emulator; the gateway's default budget in front of it.
    let emu = Emulator::start(env, USERS, GROUPS, "100/60s").await;
    let state = emu.state().await;
    let groups: Vec<String> = state["groups"]
        .as_array()
        .expect("groups")
        .iter()
        .take(GRANT_GROUPS)
        .map(|g| g["id"].to_string().trim_matches('"').to_owned())
        .collect();
    let pending: Vec<String> = state["pending"]
        .as_array()
        .map(|p| {
            p.iter()
                .filter_map(|e| e.as_str().map(str::to_lowercase))
                .collect()
        })
        .unwrap_or_default();
    let users: Vec<String> = state["users"]
        .as_array()
        .expect("users")
        .iter()
        .map(|u| u["userName"].as_str().expect("userName").to_lowercase())
        .filter(|u| !pending.contains(u))
        .collect();
    assert!(
        users.len() >= GRANT_GROUPS * PER_GROUP,
        "enough joined users"
    );
    // Each grant's user is made a member first, straight at the emulator (one PATCH a group).
    let picked: Vec<(String, String)> = (0..grants)
        .map(|i| {
            let g = i % GRANT_GROUPS;
            (
                groups[g].clone(),
                users[(i / GRANT_GROUPS) + g * PER_GROUP].clone(),
            )
        })
        .collect();
    for group in &groups {
        let value: Vec<_> = picked
            .iter()
            .filter(|(g, _)| g == group)
            .map(|(_, u)| json!({ "value": u }))
            .collect();
        let op = json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{ "op": "add", "path": "members", "value": value }],
        });
        env.http
            .patch(format!("{}/Groups/{group}", emu.scim_base()))
            .bearer_auth(&emu.token)
            .json(&op)
            .send()
            .await
            .and_then(|r| r.error_for_status())
            .expect("members added at the emulator");
    }
    let mut budget = BudgetSpec::new(90, "60s", 0.5);
    // A refresh takes about 28 s at the background share; with a 30 s age the next starts as
    // one ends: the background lane always wants its share.
    budget.max_age = "30s".into();
    let gw = Gateway::start(env, &emu, &budget).await;
    gw.gql.wait_complete(Duration::from_secs(120)).await;
    let interval = Duration::from_secs_f64((60.0 + 2.0) / 90.0);

    // The emulator's clock: one direct request, stamped here before and after.
    let (offset, placement) = emu.clock_offset().await;

    let store = Store::open(&gw.store_url)
        .await
        .expect("the gateway's store");
    let first_due = wall_ms() + LEAD_MS;
    let step = SPREAD_MS / grants as i64;
    let mut due = Vec::with_capacity(grants);
    for (i, (group, user)) in picked.iter().enumerate() {
        let expires_ms = first_due + i as i64 * step;
        let new = NewGrant {
            org: "bench".into(),
            user_key: user.clone(),
            user_email: user.clone(),
            group_id: group.clone(),
            granted_by: "bench".into(),
            reason: "row 11".into(),
            granted_ms: wall_ms(),
            expires_ms,
            standing: false,
        };
        store
            .insert_grant(&new, GrantState::Active, "member added")
            .await
            .expect("a grant stored");
        due.push(expires_ms);
    }
    assert!(
        wall_ms() < first_due,
        "storing the grants took past the first due time"
    );
    store.close().await;

    let deadline = Instant::now() + Duration::from_secs(600);
    let removed = loop {
        let removed: Vec<_> = emu
            .member_changes()
            .await
            .into_iter()
            .filter(|c| !c.added)
            .collect();
        if removed.len() >= grants {
            break removed;
        }
        assert!(
            Instant::now() < deadline,
            "only {} of {grants} removals after 10 minutes",
            removed.len()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    let mut lateness: Vec<i64> = picked
        .iter()
        .zip(&due)
        .map(|((group, user), due)| {
            let at = removed
                .iter()
                .find(|c| &c.member == user && &c.group == group)
                .expect("each granted user removed")
                .t_ms as i64;
            at + offset - due
        })
        .collect();
    lateness.sort_unstable();
    let early = lateness.iter().filter(|l| **l < 0).count();
    let log = emu.requests().await;
    let patches = log.iter().filter(|q| q.method == "PATCH").count() - GRANT_GROUPS;
    let gets = log.iter().filter(|q| q.method == "GET").count();
    let times: Vec<u64> = log.iter().map(|q| q.t_ms).collect();
    let most = max_in_window(&times, 60_000);
    let throttled = log.iter().filter(|q| q.status == 429).count();
    let p50 = lateness[grants / 2];
    let worst = lateness[grants - 1];
    r.detail(format!(
        "row 11: {grants} grants on {GRANT_GROUPS} groups due over {} s under a refresh that never rests ({USERS} users; {gets} GETs in the run), budget 90/60 s; removals in {patches} PATCHes; lateness p50 {p50} ms, p90 {} ms, worst {worst} ms; {early} removals before their due time (clock placement ±{} ms); most requests in any 60 s at the emulator {most} (Amplitude's limit 100), {throttled} answered 429",
        SPREAD_MS / 1_000,
        lateness[grants * 9 / 10],
        placement,
    ));
    let reference = format!("emission interval {} ms", interval.as_millis());
    let ratio = |v: i64| Some(v as f64 / interval.as_secs_f64() / 1_000.0);
    r.push(Line {
        row: "11",
        measure: format!("expiry lateness p50, {grants} grants due in one minute"),
        measured: format!("{:.2} s", p50 as f64 / 1_000.0),
        reference: reference.clone(),
        ratio: ratio(p50),
        target: "≤ 60 s, within budget".into(),
        met: Some(p50 <= 60_000 && most <= 100 && throttled == 0 && early == 0),
    });
    r.push(Line {
        row: "11b",
        measure: "expiry lateness, worst".into(),
        measured: format!("{:.2} s", worst as f64 / 1_000.0),
        reference,
        ratio: ratio(worst),
        target: "≤ 60 s".into(),
        met: Some(worst <= 60_000),
    });
}
