//! Time-bound grants through the governance layer with injected time: each scheduler step is
//! `run_once(now)`, and every upstream effect is measured at the emulator.

use scimgate::directory::{Directory, WriteLane};
use scimgate::emulator::Faults;
use scimgate::governance::{GrantError, GrantRequest, RunReport};
use scimgate::keys::GroupId;
use scimgate::store::{AuditFilter, Grant, GrantState, NewGrant, Window, now_ms};

use crate::mutations::{group_path, log_since, members_at_emulator, writes};
use crate::support::TestApp;

const HOUR: i64 = 3_600_000;

/// A seeded group with members, one of its members, and a user outside it.
fn pick(dir: &Directory) -> (String, String, String) {
    let snap = dir.snapshot();
    let group = snap
        .groups()
        .iter()
        .find(|g| !g.member_keys.is_empty())
        .expect("a group with members")
        .clone();
    let member = group.member_keys.get(0).to_owned();
    let outsider = snap
        .users()
        .iter()
        .map(|u| u.key().to_owned())
        .find(|k| !group.member_keys.contains(k))
        .expect("a user outside the group");
    (group.id.clone(), member, outsider)
}

pub(crate) async fn grant(
    app: &TestApp,
    dir: &Directory,
    group: &str,
    user: &str,
    expires_ms: i64,
    now: i64,
) -> Result<Grant, GrantError> {
    let key = dir.user_key(user);
    app.gateway
        .grants
        .grant(
            GrantRequest {
                dir,
                user: &key,
                email: user,
                group: &GroupId::new(group),
                granted_by: "test-admin",
                reason: "debugging a dashboard",
                expires_ms,
            },
            now,
        )
        .await
}

pub(crate) async fn setup() -> (TestApp, Directory, String, String, String) {
    let app = TestApp::one(40, 3).await;
    app.warm().await;
    let dir = app.gateway.dirs.all()[0].clone();
    let (group, member, outsider) = pick(&dir);
    (app, dir, group, member, outsider)
}

async fn stored(app: &TestApp, id: &str) -> Grant {
    app.gateway
        .store
        .grant(id)
        .await
        .unwrap()
        .expect("the grant")
}

/// The audit rows of `action`, newest first, as (outcome, input).
async fn audit_rows(app: &TestApp, action: &str) -> Vec<(String, String)> {
    let filter = AuditFilter {
        action: Some(action.into()),
        ..AuditFilter::default()
    };
    let window = Window {
        above: None,
        below: None,
        newest_first: true,
    };
    app.gateway
        .store
        .audit_page(&filter, window, 50)
        .await
        .unwrap()
        .into_iter()
        .map(|e| (e.record.outcome, e.record.input))
        .collect()
}

#[tokio::test]
async fn a_grant_adds_the_member_and_expiry_removes_it_only_once_due() {
    let (app, dir, group, _, user) = setup().await;
    let now = now_ms();
    let mark = app.emulator().requests().len();
    let g = grant(&app, &dir, &group, &user, now + HOUR, now)
        .await
        .unwrap();
    assert_eq!((g.state, g.standing), (GrantState::Active, false));
    let patch = vec![("PATCH".to_owned(), group_path(&app, &group))];
    assert_eq!(writes(&log_since(&app, mark)), patch, "one PATCH adds it");
    assert!(members_at_emulator(&app, &group).contains(&user.to_lowercase()));

    let mark = app.emulator().requests().len();
    let early = app.gateway.grants.run_once(now + HOUR - 1).await.unwrap();
    assert_eq!(
        early,
        RunReport::default(),
        "nothing is due before its time"
    );
    assert!(log_since(&app, mark).is_empty(), "nothing sent before due");

    let report = app.gateway.grants.run_once(now + HOUR).await.unwrap();
    assert_eq!((report.claimed, report.removed), (1, 1));
    assert_eq!(
        writes(&log_since(&app, mark)),
        patch,
        "one PATCH removes it"
    );
    assert!(!members_at_emulator(&app, &group).contains(&user.to_lowercase()));
    let ended = stored(&app, &g.id).await;
    assert_eq!(ended.state, GrantState::Expired);
    assert!(ended.lag_ms.is_some_and(|l| l >= 0), "{ended:?}");
    let states: Vec<_> = app
        .gateway
        .store
        .grant_events(&g.id)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.state)
        .collect();
    assert_eq!(
        states,
        [GrantState::Pending, GrantState::Active, GrantState::Expired]
    );
    let rows = audit_rows(&app, "grant.expire").await;
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0].0, "SUCCESS");
    assert!(rows[0].1.contains("membership removed"), "{rows:?}");

    let again = app.gateway.grants.run_once(now + 2 * HOUR).await.unwrap();
    assert_eq!(again.claimed, 0, "an ended grant is not taken again");
}

#[tokio::test]
async fn standing_membership_is_kept_at_expiry() {
    let (app, dir, group, member, _) = setup().await;
    let now = now_ms();
    let mark = app.emulator().requests().len();
    let g = grant(&app, &dir, &group, &member, now + HOUR, now)
        .await
        .unwrap();
    assert!(g.standing);
    let report = app.gateway.grants.run_once(now + HOUR).await.unwrap();
    assert_eq!((report.kept, report.removed), (1, 0));
    assert!(writes(&log_since(&app, mark)).is_empty(), "nothing sent");
    assert!(members_at_emulator(&app, &group).contains(&member.to_lowercase()));
    assert_eq!(stored(&app, &g.id).await.state, GrantState::Expired);
    let rows = audit_rows(&app, "grant.expire").await;
    assert!(rows[0].1.contains("standing access"), "{rows:?}");
}

#[tokio::test]
async fn overlapping_grants_keep_the_membership_until_the_last_one_ends() {
    let (app, dir, group, _, user) = setup().await;
    let now = now_ms();
    let first = grant(&app, &dir, &group, &user, now + HOUR, now)
        .await
        .unwrap();
    let second = grant(&app, &dir, &group, &user, now + 2 * HOUR, now + 10)
        .await
        .unwrap();
    assert!(
        !second.standing,
        "a membership another grant holds is not standing"
    );
    let mark = app.emulator().requests().len();
    let report = app.gateway.grants.run_once(now + HOUR).await.unwrap();
    assert_eq!((report.claimed, report.kept), (1, 1));
    assert!(writes(&log_since(&app, mark)).is_empty());
    assert!(members_at_emulator(&app, &group).contains(&user.to_lowercase()));
    assert_eq!(stored(&app, &first.id).await.state, GrantState::Expired);

    let report = app.gateway.grants.run_once(now + 2 * HOUR).await.unwrap();
    assert_eq!(report.removed, 1);
    assert_eq!(
        writes(&log_since(&app, mark)).len(),
        1,
        "one PATCH at the last end"
    );
    assert!(!members_at_emulator(&app, &group).contains(&user.to_lowercase()));
}

#[tokio::test]
async fn a_member_removed_out_of_band_makes_expiry_a_recorded_no_op() {
    let (app, dir, group, _, user) = setup().await;
    let now = now_ms();
    let g = grant(&app, &dir, &group, &user, now + HOUR, now)
        .await
        .unwrap();
    dir.remove_members(
        &GroupId::new(&group),
        &[dir.user_key(&user)],
        WriteLane::Critical,
    )
    .await
    .unwrap();
    let mark = app.emulator().requests().len();
    let report = app.gateway.grants.run_once(now + HOUR).await.unwrap();
    assert_eq!((report.already_removed, report.removed), (1, 0));
    // The mirror says the member is gone; one read of the group confirms it (the mirror may be
    // behind another replica's write), and nothing is written.
    let sent = log_since(&app, mark);
    assert!(writes(&sent).is_empty(), "no write: {sent:?}");
    assert_eq!(sent.len(), 1, "one read confirms: {sent:?}");
    assert_eq!(stored(&app, &g.id).await.state, GrantState::Expired);
    let rows = audit_rows(&app, "grant.expire").await;
    assert_eq!(rows[0].0, "SUCCESS");
    assert!(rows[0].1.contains("nothing to remove"), "{rows:?}");
}

#[tokio::test]
async fn a_failed_removal_stays_overdue_and_is_retried_after_backoff() {
    let (app, dir, group, _, user) = setup().await;
    let now = now_ms();
    let g = grant(&app, &dir, &group, &user, now + HOUR, now)
        .await
        .unwrap();
    let due = now + HOUR;
    app.emulator().set_faults(Faults {
        error_rate: 1.0,
        ..Faults::default()
    });
    let report = app.gateway.grants.run_once(due).await.unwrap();
    assert_eq!((report.claimed, report.failed), (1, 1));
    let overdue = stored(&app, &g.id).await;
    assert_eq!((overdue.state, overdue.attempts), (GrantState::Active, 1));
    assert!(overdue.overdue(due));
    assert!(!overdue.last_error.is_empty());
    assert!(overdue.next_try_ms >= due + 1_000, "{overdue:?}");
    assert!(members_at_emulator(&app, &group).contains(&user.to_lowercase()));
    let rows = audit_rows(&app, "grant.expire").await;
    assert_eq!(rows[0].0, "FAILED", "{rows:?}");

    app.emulator().set_faults(Faults::default());
    let mark = app.emulator().requests().len();
    let early = app
        .gateway
        .grants
        .run_once(overdue.next_try_ms - 1)
        .await
        .unwrap();
    assert_eq!(early.claimed, 0, "not before its backoff");
    assert!(log_since(&app, mark).is_empty());
    let report = app
        .gateway
        .grants
        .run_once(overdue.next_try_ms)
        .await
        .unwrap();
    assert_eq!(report.removed, 1);
    assert!(!members_at_emulator(&app, &group).contains(&user.to_lowercase()));
    let ended = stored(&app, &g.id).await;
    assert_eq!(ended.state, GrantState::Expired);
    assert!(ended.lag_ms.is_some_and(|l| l >= overdue.next_try_ms - due));
}

#[tokio::test]
async fn a_revocation_removes_the_member_at_once() {
    let (app, dir, group, _, user) = setup().await;
    let now = now_ms();
    let g = grant(&app, &dir, &group, &user, now + HOUR, now)
        .await
        .unwrap();
    let mark = app.emulator().requests().len();
    let revoked = app
        .gateway
        .grants
        .revoke(&g.id, "test-admin", now + 1_000)
        .await
        .unwrap();
    assert_eq!(revoked.state, GrantState::Revoked);
    assert_eq!(writes(&log_since(&app, mark)).len(), 1, "one PATCH");
    assert!(!members_at_emulator(&app, &group).contains(&user.to_lowercase()));
    assert_eq!(audit_rows(&app, "grant.revoke").await.len(), 1);
    let again = app
        .gateway
        .grants
        .revoke(&g.id, "test-admin", now + 2_000)
        .await;
    assert!(matches!(
        again,
        Err(GrantError::NotActive(GrantState::Revoked))
    ));
}

#[tokio::test]
async fn a_grant_longer_than_the_maximum_is_refused_before_anything_is_sent() {
    let (app, dir, group, _, user) = setup().await;
    let now = now_ms();
    let mark = app.emulator().requests().len();
    let refused = grant(&app, &dir, &group, &user, now + 7 * 24 * HOUR + 1, now).await;
    assert!(
        matches!(refused, Err(GrantError::TooLong { .. })),
        "{refused:?}"
    );
    assert!(log_since(&app, mark).is_empty());
    assert!(
        grant(&app, &dir, &group, &user, now + 7 * 24 * HOUR, now)
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn a_grant_due_while_the_gateway_was_stopped_is_removed_on_the_first_step() {
    let (app, dir, group, _, user) = setup().await;
    let now = now_ms();
    let g = grant(&app, &dir, &group, &user, now + HOUR, now)
        .await
        .unwrap();
    let app = app.restart().await;
    let mark = app.emulator().requests().len();
    let report = app.gateway.grants.run_once(now + 2 * HOUR).await.unwrap();
    assert_eq!(report.removed, 1);
    assert_eq!(writes(&log_since(&app, mark)).len(), 1, "one PATCH");
    assert!(!members_at_emulator(&app, &group).contains(&user.to_lowercase()));
    assert_eq!(stored(&app, &g.id).await.state, GrantState::Expired);
}

#[tokio::test]
async fn a_grant_a_stop_left_pending_still_ends_on_time() {
    let (app, dir, group, _, user) = setup().await;
    let now = now_ms();
    // A process stopped after its add reached the upstream and before it recorded `active`.
    let new = NewGrant {
        org: dir.org_id().to_string(),
        user_key: dir.user_key(&user).as_str().to_owned(),
        user_email: user.clone(),
        group_id: group.clone(),
        granted_by: "test-admin".into(),
        reason: "debugging".into(),
        granted_ms: now,
        expires_ms: now + HOUR,
        standing: false,
    };
    let g = app
        .gateway
        .store
        .insert_grant(&new, GrantState::Pending, "requested")
        .await
        .unwrap();
    dir.add_members(
        &GroupId::new(&group),
        &[dir.user_key(&user)],
        WriteLane::Write,
    )
    .await
    .unwrap();
    let app = app.restart().await;
    assert!(stored(&app, &g.id).await.overdue(now + HOUR));
    let mark = app.emulator().requests().len();
    let report = app.gateway.grants.run_once(now + HOUR).await.unwrap();
    assert_eq!(report.removed, 1, "{report:?}");
    assert_eq!(writes(&log_since(&app, mark)).len(), 1, "one PATCH");
    assert!(!members_at_emulator(&app, &group).contains(&user.to_lowercase()));
    assert_eq!(stored(&app, &g.id).await.state, GrantState::Expired);
}

#[tokio::test]
async fn the_started_scheduler_ends_a_grant_already_due_at_once() {
    let (mut app, dir, group, _, user) = setup().await;
    let now = now_ms();
    dir.add_members(
        &GroupId::new(&group),
        &[dir.user_key(&user)],
        WriteLane::Write,
    )
    .await
    .unwrap();
    let new = NewGrant {
        org: dir.org_id().to_string(),
        user_key: dir.user_key(&user).as_str().to_owned(),
        user_email: user.clone(),
        group_id: group.clone(),
        granted_by: "test-admin".into(),
        reason: "debugging".into(),
        granted_ms: now - 2 * HOUR,
        expires_ms: now - HOUR,
        standing: false,
    };
    let g = app
        .gateway
        .store
        .insert_grant(&new, GrantState::Active, "member added")
        .await
        .unwrap();
    app.gateway.start_grants();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while stored(&app, &g.id).await.state != GrantState::Expired {
        assert!(
            std::time::Instant::now() < deadline,
            "the loop's first step ends it"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(!members_at_emulator(&app, &group).contains(&user.to_lowercase()));
}
