//! Offboarding first: a deactivation overtakes a background refresh that saturates the budget,
//! measured on the emulator's request log; the refresh then goes on and does not resurrect it.

use std::time::{Duration, Instant};

use scimgate::budget::BudgetConfig;
use serde_json::json;

use super::{assert_success, joined_users, log_since, mutate, user_id, user_path};
use crate::support::{OrgSpec, spawn_app};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_deactivation_overtakes_a_saturating_refresh_within_one_emission_interval() {
    let mut spec = OrgSpec::new("acme", 3_000, 10);
    spec.budget = BudgetConfig {
        background_share: 1.0,
        ..BudgetConfig::new(20, Duration::from_secs(2))
    };
    let app = spawn_app(vec![spec]).await;
    app.warm().await;
    // An early user: its page is read before the deactivation, so the refresh under way holds
    // a copy from before it.
    let victim = joined_users(&app)[3].clone();
    let id = user_id(&app, &victim).await;
    let budget = app
        .data("{ org { budget { emissionIntervalMs } } }", json!({}))
        .await;
    let interval_ms = budget["org"]["budget"]["emissionIntervalMs"]
        .as_f64()
        .expect("emissionIntervalMs");
    assert!(interval_ms > 50.0, "a budget that paces: {interval_ms} ms");

    let dir = app.gateway.dirs.all()[0].clone();
    let mark = app.emulator().requests().len();
    dir.start_refresh();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let gets = log_since(&app, mark)
            .iter()
            .filter(|r| r.method == "GET")
            .count();
        if gets >= 4 {
            break;
        }
        assert!(Instant::now() < deadline, "the refresh never got going");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    let emu = app.emulator();
    let sent_ms = emu.started_at().elapsed().as_millis() as u64;
    let p = mutate(&app, "deactivateUser", json!({ "id": id })).await;
    assert_success(&p);
    assert_eq!(p["user"]["status"], "DEACTIVATED");
    let log = log_since(&app, mark);
    let put = log
        .iter()
        .find(|r| r.method == "PUT")
        .expect("the PUT reached the emulator");
    assert_eq!(super::decoded(&put.path), user_path(&app, &victim));
    let waited = put.t_ms.saturating_sub(sent_ms);
    assert!(
        waited as f64 <= interval_ms + 50.0,
        "the deactivation waited {waited} ms; one emission interval is {interval_ms} ms"
    );
    assert!(app.emulator().state().user(&victim).is_none());

    // The refresh was overtaken, not drained first: it goes on after the PUT.
    dir.refresh().await.expect("the refresh finishes");
    let put_t = put.t_ms;
    let after = log_since(&app, mark)
        .iter()
        .filter(|r| r.method == "GET" && r.t_ms > put_t)
        .count();
    assert!(after > 0, "background GETs continue after the deactivation");

    // Read-your-writes survives the refresh that started before the write, at no upstream cost:
    // the refresh re-applies the removal and remembers the user as gone.
    let calls = app.upstream_calls();
    let data = app
        .data(
            r#"query($e: String!) { org { user(email: $e) { email }
                users(first: 1, filter: { search: $e }) { totalCount } } }"#,
            json!({ "e": victim }),
        )
        .await;
    assert!(data["org"]["user"].is_null(), "not resurrected: {data}");
    assert_eq!(data["org"]["users"]["totalCount"], 0);
    assert_eq!(
        app.upstream_calls(),
        calls,
        "reading the removed user cost an upstream call"
    );
}
