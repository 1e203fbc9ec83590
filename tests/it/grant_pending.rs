//! Pending grants a stopped process left (recorded, the add perhaps sent, never confirmed) are
//! settled by reading the group two minutes on, never by sending the add again: the member is
//! there → ACTIVE (and it ends on time); not there → FAILED with the reason, nothing granted.

use scimgate::directory::WriteLane;
use scimgate::emulator::Faults;
use scimgate::keys::GroupId;
use scimgate::store::{Grant, GrantState, NewGrant, Resume, now_ms};

use crate::governance_grants::setup;
use crate::mutations::{log_since, members_at_emulator, writes};
use crate::support::TestApp;

const MINUTE: i64 = 60_000;
const HOUR: i64 = 60 * MINUTE;

async fn pending(app: &TestApp, org: &str, user: &str, group: &str, now: i64) -> Grant {
    let new = NewGrant {
        org: org.to_owned(),
        user_key: user.to_owned(),
        user_email: user.to_owned(),
        group_id: group.to_owned(),
        granted_by: "test-admin".into(),
        reason: "debugging".into(),
        granted_ms: now,
        expires_ms: now + HOUR,
        standing: false,
    };
    app.gateway
        .store
        .insert_grant(&new, GrantState::Pending, "requested")
        .await
        .unwrap()
}

async fn kinds(app: &TestApp) -> Vec<(String, String)> {
    let org = app.gateway.dirs.all()[0].org_id().to_string();
    app.gateway
        .store
        .events_page(&org, &[], Resume::After(0), 50)
        .await
        .unwrap()
        .events
        .into_iter()
        .map(|e| (e.kind, e.actor))
        .collect()
}

#[tokio::test]
async fn a_pending_grant_whose_add_arrived_is_confirmed_by_reading_and_still_ends_on_time() {
    let (app, dir, group, _, user) = setup().await;
    let now = now_ms();
    let g = pending(
        &app,
        dir.org_id().as_str(),
        dir.user_key(&user).as_str(),
        &group,
        now,
    )
    .await;
    // The add reached the upstream; the process stopped before recording it.
    dir.add_members(
        &GroupId::new(&group),
        &[dir.user_key(&user)],
        WriteLane::Write,
    )
    .await
    .unwrap();
    let app = app.restart().await;
    let grants = &app.gateway.grants;

    let mark = app.emulator().requests().len();
    assert_eq!(
        grants.run_once(now + MINUTE).await.unwrap().settled,
        0,
        "too young to settle"
    );
    assert!(log_since(&app, mark).is_empty());
    let settled = grants.run_once(now + 2 * MINUTE + 1).await.unwrap();
    assert_eq!((settled.settled, settled.claimed), (1, 0));
    let sent = log_since(&app, mark);
    assert!(
        writes(&sent).is_empty(),
        "settled by reading, the add not sent again: {sent:?}"
    );
    assert_eq!(sent.len(), 1, "one read of the group: {sent:?}");
    let read = app.gateway.store.grant(&g.id).await.unwrap().unwrap();
    assert_eq!(read.state, GrantState::Active);
    let history = app.gateway.store.grant_events(&g.id).await.unwrap();
    assert!(
        history
            .last()
            .unwrap()
            .note
            .contains("found the member there"),
        "{history:?}"
    );
    assert_eq!(
        kinds(&app).await,
        [("grant.granted".to_owned(), "system".to_owned())]
    );

    let ended = grants.run_once(now + HOUR).await.unwrap();
    assert_eq!(ended.removed, 1, "{ended:?}");
    assert!(!members_at_emulator(&app, &group).contains(&user.to_lowercase()));
}

#[tokio::test]
async fn a_pending_grant_whose_add_never_arrived_fails_with_the_reason_and_grants_nothing() {
    let (app, dir, group, _, user) = setup().await;
    let now = now_ms();
    let g = pending(
        &app,
        dir.org_id().as_str(),
        dir.user_key(&user).as_str(),
        &group,
        now,
    )
    .await;
    let grants = &app.gateway.grants;

    // The upstream is down at first: the grant stays pending, tried again after a backoff.
    app.emulator().set_faults(Faults {
        error_rate: 1.0,
        ..Faults::default()
    });
    let first = grants.run_once(now + 3 * MINUTE).await.unwrap();
    assert_eq!(first.settled, 0);
    assert_eq!(
        app.gateway.store.grant(&g.id).await.unwrap().unwrap().state,
        GrantState::Pending
    );
    app.emulator().set_faults(Faults::default());
    let mark = app.emulator().requests().len();
    assert_eq!(
        grants
            .run_once(now + 3 * MINUTE + 10)
            .await
            .unwrap()
            .settled,
        0,
        "backing off"
    );
    assert!(log_since(&app, mark).is_empty());

    let settled = grants.run_once(now + 4 * MINUTE).await.unwrap();
    assert_eq!(settled.settled, 1);
    assert!(writes(&log_since(&app, mark)).is_empty(), "nothing written");
    let read = app.gateway.store.grant(&g.id).await.unwrap().unwrap();
    assert_eq!(read.state, GrantState::Failed);
    assert!(read.last_error.contains("not a member"), "{read:?}");
    assert_eq!(
        kinds(&app).await,
        [("grant.failed".to_owned(), "system".to_owned())]
    );
    // Nothing to end at its time.
    let mark = app.emulator().requests().len();
    assert_eq!(grants.run_once(now + HOUR).await.unwrap().claimed, 0);
    assert!(log_since(&app, mark).is_empty());
    assert!(!members_at_emulator(&app, &group).contains(&user.to_lowercase()));
}
