//! The audit chain: appends, filters, tampering, pruning, verification while rows arrive.

use super::*;

#[tokio::test]
async fn appended_rows_chain_and_verify() {
    for s in stores("append").await {
        let store = &s.store;
        let clean = store.verify_audit(|_| {}).await.unwrap();
        assert_eq!((clean.rows, clean.broken.clone()), (0, None), "{}", s.label);
        for n in 1..=25 {
            assert_eq!(store.append_audit(&record(n)).await.unwrap(), n as i64);
        }
        let first = store
            .audit_page(&AuditFilter::default(), Window::default(), 1)
            .await
            .unwrap();
        assert_eq!(first[0].prev_hash, audit::genesis(), "{}", s.label);
        assert_eq!(first[0].record.targets, record(1).targets);
        let v = store.verify_audit(|_| {}).await.unwrap();
        assert_eq!(
            (v.rows, v.first, v.last),
            (25, Some(1), Some(25)),
            "{}",
            s.label
        );
        assert!(v.broken.is_none(), "{}: {:?}", s.label, v.broken);

        // Filters and windows.
        let acme = AuditFilter {
            orgs: Some(vec!["acme".into()]),
            actor: Some("ops".into()),
            ..AuditFilter::default()
        };
        let rows = store
            .audit_page(&acme, Window::default(), 100)
            .await
            .unwrap();
        let seqs: Vec<i64> = rows.iter().map(|r| r.seq).collect();
        assert_eq!(seqs, vec![6, 12, 18, 24], "{}", s.label);
        let newest = Window {
            below: Some(24),
            newest_first: true,
            ..Window::default()
        };
        let rows = store.audit_page(&acme, newest, 2).await.unwrap();
        assert_eq!(rows.iter().map(|r| r.seq).collect::<Vec<_>>(), vec![18, 12]);
        let by_target = AuditFilter {
            target: Some("u7@acme.example".into()),
            ..AuditFilter::default()
        };
        let rows = store
            .audit_page(&by_target, Window::default(), 100)
            .await
            .unwrap();
        assert_eq!(
            rows.iter().map(|r| r.seq).collect::<Vec<_>>(),
            vec![7],
            "{}",
            s.label
        );
        // `%` and `_` are literal: no row's target contains them.
        let wild = AuditFilter {
            target: Some("u_@acme.example".into()),
            ..AuditFilter::default()
        };
        assert!(
            store
                .audit_page(&wild, Window::default(), 100)
                .await
                .unwrap()
                .is_empty()
        );
        s.done().await;
    }
}

#[tokio::test]
async fn concurrent_appends_never_share_a_place_in_the_chain() {
    for s in stores("concurrent").await {
        let tasks: Vec<_> = (0..40)
            .map(|n| {
                let store = s.store.clone();
                tokio::spawn(async move { store.append_audit(&record(n)).await.unwrap() })
            })
            .collect();
        let mut seqs = Vec::new();
        for t in tasks {
            seqs.push(t.await.unwrap());
        }
        seqs.sort_unstable();
        assert_eq!(seqs, (1..=40).collect::<Vec<i64>>(), "{}", s.label);
        let v = s.store.verify_audit(|_| {}).await.unwrap();
        assert!(v.broken.is_none() && v.rows == 40, "{}: {v:?}", s.label);
        s.done().await;
    }
}

#[tokio::test]
async fn an_edited_or_deleted_row_breaks_the_chain_at_that_row() {
    for s in stores("tamper").await {
        let store = &s.store;
        for n in 1..=10 {
            store.append_audit(&record(n)).await.unwrap();
        }
        raw(store, "UPDATE audit_log SET actor = 'nobody' WHERE seq = 4").await;
        let v = store.verify_audit(|_| {}).await.unwrap();
        let b = v.broken.expect("an edited row is found");
        assert_eq!(b.seq, 4, "{}", s.label);
        assert!(b.reason.contains("row 4 was changed"), "{}", b.reason);
        assert_eq!(v.rows, 3);
        raw(store, "UPDATE audit_log SET actor = 'ops' WHERE seq = 4").await;
        assert!(store.verify_audit(|_| {}).await.unwrap().broken.is_none());

        raw(store, "DELETE FROM audit_log WHERE seq = 7").await;
        let b = store.verify_audit(|_| {}).await.unwrap().broken.unwrap();
        assert_eq!(b.seq, 7, "{}", s.label);
        assert!(b.reason.contains("row 7 is missing"), "{}", b.reason);

        // Rebuilding a row with a fresh hash does not hide it: the next row names the old one.
        raw(store, "DELETE FROM audit_log WHERE seq >= 8").await;
        let b = store.verify_audit(|_| {}).await.unwrap().broken.unwrap();
        assert_eq!(b.seq, 7, "{}: {}", s.label, b.reason);
        assert!(
            b.reason.contains("rows at the end were removed"),
            "{}",
            b.reason
        );
        s.done().await;
    }
}

#[tokio::test]
async fn pruning_keeps_the_chain_verifiable_from_the_oldest_kept_row() {
    for s in stores("prune").await {
        let store = &s.store;
        let now = now_ms();
        for n in 1..=12 {
            let mut r = record(n);
            // Rows 1..=8 are a year and more old.
            r.at_ms = if n <= 8 {
                now - 400 * 86_400_000 + n as i64
            } else {
                now
            };
            store.append_audit(&r).await.unwrap();
        }
        let gone = store.prune_audit(now - 300 * 86_400_000).await.unwrap();
        assert_eq!(gone, 8, "{}", s.label);
        let v = store.verify_audit(|_| {}).await.unwrap();
        assert!(v.broken.is_none(), "{}: {:?}", s.label, v.broken);
        assert_eq!(
            (v.first, v.last, v.rows),
            (Some(9), Some(13), 5),
            "{}",
            s.label
        );
        let newest = store
            .audit_page(
                &AuditFilter::default(),
                Window {
                    newest_first: true,
                    ..Window::default()
                },
                1,
            )
            .await
            .unwrap();
        assert_eq!(newest[0].record.action, "audit.prune");
        assert!(newest[0].record.input.contains("\"rows\":8"));
        // Nothing older is left: a second prune is a no-op and appends nothing.
        assert_eq!(store.prune_audit(now - 300 * 86_400_000).await.unwrap(), 0);
        // Deleting the oldest kept row is still found.
        raw(store, "DELETE FROM audit_log WHERE seq = 9").await;
        let b = store.verify_audit(|_| {}).await.unwrap().broken.unwrap();
        assert_eq!(b.seq, 9, "{}: {}", s.label, b.reason);
        s.done().await;
    }
}

#[tokio::test]
async fn verifying_while_rows_are_appended_checks_up_to_the_head_it_read() {
    for s in stores("verify_live").await {
        for n in 1..=(audit::CHUNK as usize + 50) {
            s.store.append_audit(&record(n)).await.unwrap();
        }
        let writer = {
            let store = s.store.clone();
            tokio::spawn(async move {
                for n in 0..200 {
                    store.append_audit(&record(n)).await.unwrap();
                }
            })
        };
        let v = s.store.verify_audit(|_| {}).await.unwrap();
        writer.await.unwrap();
        assert!(v.broken.is_none(), "{}: {:?}", s.label, v.broken);
        assert!(v.rows >= audit::CHUNK as u64 + 50, "{}", s.label);
        s.done().await;
    }
}
