//! Grants: the lease that lets one replica at a time take a due grant, transitions with their
//! history, and keyset listing.

use super::*;

fn new_grant(user: &str, expires_ms: i64) -> NewGrant {
    NewGrant {
        org: "acme".into(),
        user_key: user.into(),
        user_email: user.into(),
        group_id: "7".into(),
        granted_by: "ops".into(),
        reason: "debugging".into(),
        granted_ms: 1_000,
        expires_ms,
        standing: false,
    }
}

#[tokio::test]
async fn a_due_grant_is_claimed_once_until_its_lease_lapses() {
    for s in stores("grantlease").await {
        let store = &s.store;
        let due = store
            .insert_grant(
                &new_grant("a@acme.example", 5_000),
                GrantState::Active,
                "granted",
            )
            .await
            .unwrap();
        store
            .insert_grant(
                &new_grant("b@acme.example", 9_000),
                GrantState::Active,
                "granted",
            )
            .await
            .unwrap();
        assert!(
            store
                .claim_due_grants(4_999, 30_000, 10)
                .await
                .unwrap()
                .is_empty(),
            "{}: nothing is due before its time",
            s.label
        );
        let first = store.claim_due_grants(5_000, 35_000, 10).await.unwrap();
        assert_eq!(
            first.iter().map(|g| &g.id).collect::<Vec<_>>(),
            [&due.id],
            "{}",
            s.label
        );
        // A second replica, on another handle to the same store, finds it leased.
        let other = store.clone();
        assert!(
            other
                .claim_due_grants(6_000, 36_000, 10)
                .await
                .unwrap()
                .is_empty(),
            "{}: a leased grant is not taken again",
            s.label
        );
        let again = other.claim_due_grants(35_000, 65_000, 10).await.unwrap();
        assert_eq!(
            again.len(),
            2,
            "{}: a lapsed lease frees it; b is due too",
            s.label
        );
        // Concurrent claims: each grant goes to exactly one of them.
        raw(store, "UPDATE grants SET lease_until_ms = 0").await;
        let (x, y) = tokio::join!(
            store.claim_due_grants(70_000, 100_000, 10),
            other.claim_due_grants(70_000, 100_000, 10)
        );
        assert_eq!(x.unwrap().len() + y.unwrap().len(), 2, "{}", s.label);
        s.done().await;
    }
}

#[tokio::test]
async fn transitions_keep_history_and_listing_pages_newest_first() {
    for s in stores("grantstates").await {
        let store = &s.store;
        let g = store
            .insert_grant(
                &new_grant("a@acme.example", 5_000),
                GrantState::Pending,
                "requested",
            )
            .await
            .unwrap();
        assert!(
            store
                .transition_grant(
                    &g.id,
                    GrantState::Pending,
                    GrantState::Active,
                    1_100,
                    None,
                    "member added",
                    "alice"
                )
                .await
                .unwrap()
        );
        assert!(
            !store
                .transition_grant(
                    &g.id,
                    GrantState::Pending,
                    GrantState::Failed,
                    1_200,
                    None,
                    "late",
                    "alice"
                )
                .await
                .unwrap(),
            "{}: a transition from a state the grant left does nothing",
            s.label
        );
        store
            .grant_retry(&g.id, 5_000, 6_000, "upstream failed")
            .await
            .unwrap();
        let retried = store.grant(&g.id).await.unwrap().unwrap();
        assert_eq!((retried.attempts, retried.next_try_ms), (1, 6_000));
        assert!(retried.overdue(5_500));
        assert!(
            store
                .claim_due_grants(5_500, 9_000, 10)
                .await
                .unwrap()
                .is_empty()
        );
        assert!(
            store
                .transition_grant(
                    &g.id,
                    GrantState::Active,
                    GrantState::Expired,
                    6_050,
                    Some(1_050),
                    "removed",
                    "system"
                )
                .await
                .unwrap()
        );
        let ended = store.grant(&g.id).await.unwrap().unwrap();
        assert_eq!(
            (ended.state, ended.ended_ms, ended.lag_ms),
            (GrantState::Expired, Some(6_050), Some(1_050)),
            "{}",
            s.label
        );
        let history: Vec<_> = store
            .grant_events(&g.id)
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.state)
            .collect();
        assert_eq!(
            history,
            [
                GrantState::Pending,
                GrantState::Active,
                GrantState::Active,
                GrantState::Expired
            ]
        );
        // The same changes in the organization's event log, in order, each with its actor;
        // the refused transition left none.
        let log = store
            .events_page("acme", &[], Resume::After(0), 10)
            .await
            .unwrap();
        let seen: Vec<_> = log
            .events
            .iter()
            .map(|e| (e.seq, e.kind.as_str(), e.actor.as_str(), e.at_ms))
            .collect();
        assert_eq!(
            seen,
            [
                (1, "grant.granted", "alice", 1_100),
                (2, "grant.overdue", "system", 5_000),
                (3, "grant.expired", "system", 6_050),
            ],
            "{}",
            s.label
        );
        let data: serde_json::Value = serde_json::from_str(&log.events[2].data).unwrap();
        assert_eq!(
            (
                data["grant"].as_str(),
                data["email"].as_str(),
                data["lagMs"].as_i64()
            ),
            (Some(g.id.as_str()), Some("a@acme.example"), Some(1_050))
        );
        let mut ids = vec![g.id.clone()];
        for n in 0..4 {
            let mut new = new_grant(&format!("u{n}@acme.example"), 50_000);
            new.granted_ms = 2_000 + n;
            ids.push(
                store
                    .insert_grant(&new, GrantState::Active, "granted")
                    .await
                    .unwrap()
                    .id,
            );
        }
        ids.reverse();
        let filter = GrantFilter {
            org: "acme".into(),
            ..GrantFilter::default()
        };
        let page = store.list_grants(&filter, None, 3).await.unwrap();
        let after = store
            .list_grants(&filter, Some(&page[2].id), 3)
            .await
            .unwrap();
        let seen: Vec<_> = page.iter().chain(&after).map(|g| g.id.clone()).collect();
        assert_eq!(seen, ids, "{}", s.label);
        let active = GrantFilter {
            state: Some(GrantState::Active),
            expiring_before: Some(60_000),
            ..filter.clone()
        };
        assert_eq!(store.count_grants(&active).await.unwrap(), 4, "{}", s.label);
        let others = store
            .active_grants_for("acme", "u1@acme.example", "7", None)
            .await
            .unwrap();
        assert_eq!(others.len(), 1);
        assert!(
            store
                .active_grants_for("acme", "u1@acme.example", "7", Some(&others[0].id))
                .await
                .unwrap()
                .is_empty()
        );
        s.done().await;
    }
}

#[tokio::test]
async fn a_pending_grant_is_claimed_only_once_its_add_cannot_still_be_running() {
    for s in stores("grantpending").await {
        let store = &s.store;
        let mut new = new_grant("a@acme.example", 2_000);
        new.granted_ms = 1_000;
        let g = store
            .insert_grant(&new, GrantState::Pending, "requested")
            .await
            .unwrap();
        assert!(
            store
                .claim_due_grants(3_000, 60_000, 10)
                .await
                .unwrap()
                .is_empty(),
            "{}: its add may still be in flight",
            s.label
        );
        let left = store.claim_due_grants(121_000, 181_000, 10).await.unwrap();
        assert_eq!(
            left.iter().map(|g| &g.id).collect::<Vec<_>>(),
            [&g.id],
            "{}",
            s.label
        );
        assert_eq!(left[0].state, GrantState::Pending);
        s.done().await;
    }
}
