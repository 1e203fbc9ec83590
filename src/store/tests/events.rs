//! The event log: one gapless sequence per organization under concurrent appends, paging both
//! ways with a kind filter, retention that says what it removed, and expiry warnings that are
//! emitted once however many replicas try.

use super::*;

fn event(org: &str, kind: &str, n: i64) -> NewEvent {
    NewEvent {
        org: org.into(),
        kind: kind.into(),
        object_kind: "grant".into(),
        object_id: format!("g{n}"),
        actor: "system".into(),
        data: serde_json::json!({ "n": n }),
        at_ms: 1_000 + n,
    }
}

#[tokio::test]
async fn each_organization_counts_its_events_without_gaps_under_concurrent_appends() {
    for s in stores("eventseq").await {
        let store = &s.store;
        let appends = (0..40).map(|n| {
            let store = store.clone();
            let org = if n % 2 == 0 { "acme" } else { "globex" };
            async move { store.append_event(&event(org, "grant.granted", n)).await }
        });
        let seqs = futures_util::future::join_all(appends).await;
        assert!(seqs.iter().all(Result::is_ok), "{}: {seqs:?}", s.label);
        for org in ["acme", "globex"] {
            let page = store
                .events_page(org, &[], Resume::After(0), 100)
                .await
                .unwrap();
            let got: Vec<i64> = page.events.iter().map(|e| e.seq).collect();
            assert_eq!(got, (1..=20).collect::<Vec<_>>(), "{} {org}", s.label);
            assert_eq!((page.head, page.pruned_through), (20, 0));
            assert!(page.events.iter().all(|e| e.org == org));
        }
        s.done().await;
    }
}

#[tokio::test]
async fn pages_go_both_ways_filtered_by_kind_and_retention_says_what_it_removed() {
    for s in stores("eventpage").await {
        let store = &s.store;
        for n in 0..6 {
            let kind = if n % 3 == 0 {
                "grant.expiring"
            } else {
                "grant.expired"
            };
            store.append_event(&event("acme", kind, n)).await.unwrap();
        }
        let seqs = |page: &EventPage| page.events.iter().map(|e| e.seq).collect::<Vec<_>>();
        let forward = store
            .events_page("acme", &[], Resume::After(2), 3)
            .await
            .unwrap();
        assert_eq!(seqs(&forward), [3, 4, 5], "{}", s.label);
        let backward = store
            .events_page("acme", &[], Resume::Before(i64::MAX), 2)
            .await
            .unwrap();
        assert_eq!(seqs(&backward), [6, 5], "{}: newest first", s.label);
        let expiring = store
            .events_page("acme", &["grant.expiring".into()], Resume::After(0), 10)
            .await
            .unwrap();
        assert_eq!(seqs(&expiring), [1, 4], "{}", s.label);
        let two = ["grant.expiring".to_owned(), "grant.expired".to_owned()];
        let both = store
            .events_page("acme", &two, Resume::After(0), 10)
            .await
            .unwrap();
        assert_eq!(both.events.len(), 6);
        // Events at 1_000 … 1_005: those before 1_003 go.
        assert_eq!(store.prune_events(1_003).await.unwrap(), 3);
        let kept = store
            .events_page("acme", &[], Resume::After(0), 10)
            .await
            .unwrap();
        assert_eq!(seqs(&kept), [4, 5, 6], "{}", s.label);
        assert_eq!((kept.head, kept.pruned_through), (6, 3));
        let none = store
            .events_page("nobody", &[], Resume::After(0), 10)
            .await
            .unwrap();
        assert_eq!(none, EventPage::default());
        s.done().await;
    }
}

#[tokio::test]
async fn an_expiry_warning_is_recorded_once_however_many_try() {
    for s in stores("eventwarn").await {
        let store = &s.store;
        let new = NewGrant {
            org: "acme".into(),
            user_key: "a@acme.example".into(),
            user_email: "a@acme.example".into(),
            group_id: "7".into(),
            granted_by: "ops".into(),
            reason: "debugging".into(),
            granted_ms: 1_000,
            expires_ms: 10_000,
            standing: false,
        };
        let g = store
            .insert_grant(&new, GrantState::Active, "granted")
            .await
            .unwrap();
        let due = store.grants_to_warn(5_000, 20_000, 2).await.unwrap();
        assert_eq!(due.len(), 1);
        assert_eq!((due[0].0.id.as_str(), due[0].1), (g.id.as_str(), 0));
        let tries = (0..4).map(|_| {
            let store = store.clone();
            let id = g.id.clone();
            async move {
                store
                    .warn_grant(
                        &id,
                        0,
                        1,
                        5_000,
                        serde_json::json!({ "warnBeforeMs": 9_000 }),
                    )
                    .await
            }
        });
        let won = futures_util::future::join_all(tries)
            .await
            .into_iter()
            .filter(|r| matches!(r, Ok(true)))
            .count();
        assert_eq!(won, 1, "{}", s.label);
        let kinds: Vec<String> = store
            .events_page("acme", &[], Resume::After(0), 10)
            .await
            .unwrap()
            .events
            .into_iter()
            .map(|e| e.kind)
            .collect();
        assert_eq!(kinds, ["grant.granted", "grant.expiring"], "{}", s.label);
        // Warned once of two: still a candidate for the second offset, not for the first.
        assert_eq!(
            store.grants_to_warn(5_000, 20_000, 2).await.unwrap()[0].1,
            1
        );
        assert!(
            store
                .grants_to_warn(5_000, 20_000, 1)
                .await
                .unwrap()
                .is_empty()
        );
        // An extension starts the warnings again.
        assert!(
            store
                .reschedule_grant(&g.id, 15_000, GrantState::Expired, 6_000, "longer", "ops")
                .await
                .unwrap()
        );
        assert_eq!(
            store.grants_to_warn(6_000, 20_000, 1).await.unwrap()[0].1,
            0
        );
        assert_eq!(store.next_grant_due().await.unwrap(), Some(15_000));
        s.done().await;
    }
}
