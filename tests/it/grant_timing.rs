//! The scheduler's promise: a removal reaches the upstream within one emission interval plus
//! 1 s of its due time while nothing else waits in the critical lane, even with the write lane
//! saturating the budget. Measured at the emulator (its membership log), on a budget of 20 per
//! 2 s (an emission interval of about 105 ms).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use scimgate::budget::BudgetConfig;
use scimgate::directory::WriteLane;
use scimgate::keys::GroupId;
use scimgate::store::{GrantState, NewGrant, now_ms};

use crate::support::{OrgSpec, spawn_app};

const GRANTS: usize = 8;

#[tokio::test]
async fn a_due_removal_reaches_the_upstream_within_an_emission_interval_and_a_second() {
    let mut spec = OrgSpec::new("acme", 60, 4);
    spec.budget = BudgetConfig::new(20, Duration::from_secs(2));
    let mut app = spawn_app(vec![spec]).await;
    app.warm().await;
    let dir = app.gateway.dirs.all()[0].clone();
    let interval = dir.emission_interval();
    let snap = dir.snapshot();
    let mut groups = snap.groups().to_vec();
    groups.sort_by_key(|g| g.member_keys.len());
    let (target, busy) = (groups[0].clone(), groups[1].clone());
    let outside: Vec<String> = snap
        .users()
        .iter()
        .map(|u| u.key().to_owned())
        .filter(|k| !target.member_keys.contains(k) && !busy.member_keys.contains(k))
        .collect();
    let (users, togglers) = outside.split_at(GRANTS);
    assert!(togglers.len() >= 12, "enough users for the load");
    let keys: Vec<_> = users.iter().map(|u| dir.user_key(u)).collect();
    dir.add_members(&GroupId::new(&target.id), &keys, WriteLane::Write)
        .await
        .unwrap();

    // Due 1.5 s from now, then every 300 ms: each its own removal.
    let (anchor, anchor_ms) = (Instant::now(), now_ms());
    let due: Vec<i64> = (0..GRANTS as i64)
        .map(|i| anchor_ms + 1_500 + i * 300)
        .collect();
    for (user, due) in users.iter().zip(&due) {
        let new = NewGrant {
            org: "acme".into(),
            user_key: user.clone(),
            user_email: user.clone(),
            group_id: target.id.clone(),
            granted_by: "test-admin".into(),
            reason: "timing".into(),
            granted_ms: anchor_ms,
            expires_ms: *due,
            standing: false,
        };
        app.gateway
            .store
            .insert_grant(&new, GrantState::Active, "member added")
            .await
            .unwrap();
    }

    // Twelve writers keep the write lane full: every slot of the budget is taken, and a removal
    // that queued behind them (in their lane) would wait 12 intervals, over the bound.
    let stop = Arc::new(AtomicBool::new(false));
    let mut load = Vec::new();
    for user in togglers.iter().take(12) {
        let (dir, stop) = (dir.clone(), stop.clone());
        let key = [dir.user_key(user)];
        let group = GroupId::new(&busy.id);
        load.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let _ = dir.add_members(&group, &key, WriteLane::Write).await;
                let _ = dir.remove_members(&group, &key, WriteLane::Write).await;
            }
        }));
    }
    let mark = app.emulator().requests().len();
    app.gateway.start_grants();

    let started = app.emulator().started_at().into_std();
    let on_emulator = |ms: i64| {
        let at = anchor + Duration::from_millis(u64::try_from(ms - anchor_ms).unwrap());
        i64::try_from(at.saturating_duration_since(started).as_millis()).unwrap()
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    let removed = loop {
        let removed: Vec<_> = app
            .emulator()
            .member_changes()
            .into_iter()
            .filter(|c| !c.added && c.group == target.id && users.contains(&c.member))
            .collect();
        if removed.len() >= GRANTS {
            break removed;
        }
        assert!(Instant::now() < deadline, "removed so far: {removed:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    stop.store(true, Ordering::Relaxed);
    for task in load {
        task.abort();
    }

    let bound = i64::try_from((interval + Duration::from_secs(1)).as_millis()).unwrap();
    let mut lateness: Vec<i64> = users
        .iter()
        .zip(&due)
        .map(|(user, due)| {
            let times: Vec<_> = removed.iter().filter(|c| &c.member == user).collect();
            assert_eq!(times.len(), 1, "{user} removed {} times", times.len());
            times[0].t_ms as i64 - on_emulator(*due)
        })
        .collect();
    // The write lane really was saturated: the budget's every slot in use meanwhile.
    let log = app.emulator().requests();
    let span = &log[mark..];
    let seconds = (span.last().unwrap().t_ms - span[0].t_ms) as f64 / 1_000.0;
    let rate = span.len() as f64 / seconds;
    let full = 1.0 / interval.as_secs_f64();
    lateness.sort_unstable();
    println!(
        "grant_timing: lateness p50 {} ms, worst {} ms (bound {bound} ms: interval {} ms + 1 s); {rate:.1} requests/s meanwhile (the budget's {full:.1})",
        lateness[GRANTS / 2],
        lateness[GRANTS - 1],
        interval.as_millis()
    );
    assert!(
        rate >= 0.8 * full,
        "the load did not saturate the budget: {rate:.1}/s"
    );
    assert!(
        lateness[0] >= 0,
        "a removal came before its due time: {lateness:?}"
    );
    assert!(
        lateness[GRANTS - 1] <= bound,
        "a removal came later than an emission interval and a second: {lateness:?}"
    );
    let most = crate::crash_grants::max_in_window(&log, 2_000);
    assert!(most <= 20, "{most} requests in one 2 s window");
}
