//! Write intents, invitations, and a store that cannot be written or opened.

use super::*;

fn meta(fingerprint: &str) -> IntentMeta {
    IntentMeta {
        principal: "ops".into(),
        role: "admin".into(),
        orgs: "acme".into(),
        mutation: "createUser".into(),
        request_id: "req-1".into(),
        targets: vec![],
        fingerprint: format!("createUser:{fingerprint}"),
    }
}

fn outcome_row(outcome: &str) -> AuditRecord {
    AuditRecord {
        actor: "ops".into(),
        action: "createUser".into(),
        outcome: outcome.into(),
        ..AuditRecord::default()
    }
}

#[tokio::test]
async fn a_key_replays_its_result_and_refuses_another_input() {
    for s in stores("intents").await {
        let store = &s.store;
        let day = 86_400_000;
        let Begin::Fresh { id } = store
            .begin_intent(&meta("{a}"), Some("k1"), day)
            .await
            .unwrap()
        else {
            panic!("{}: a new key is fresh", s.label)
        };
        assert_eq!(
            store.intent_state(&id).await.unwrap(),
            Some(IntentState::Pending)
        );
        // In flight: this replica's own (the caller knows whether it still runs it); another
        // replica's is in flight.
        let again = store
            .begin_intent(&meta("{a}"), Some("k1"), day)
            .await
            .unwrap();
        assert_eq!(
            again,
            Begin::Mine {
                id: id.clone(),
                was: IntentState::Pending
            },
            "{}",
            s.label
        );
        raw(
            store,
            "UPDATE write_intents SET owner = 'gw-2' WHERE idem_key = 'k1'",
        )
        .await;
        let other = store
            .begin_intent(&meta("{a}"), Some("k1"), day)
            .await
            .unwrap();
        assert_eq!(other, Begin::InFlight, "{}", s.label);
        raw(
            store,
            "UPDATE write_intents SET owner = 'scimgate' WHERE idem_key = 'k1'",
        )
        .await;
        store.mark_sent(&id).await.unwrap();
        // Left behind sent (its settling failed): taken over as unknown, once.
        assert_eq!(
            store
                .claim_stale(&id, IntentState::Sent, "req-2")
                .await
                .unwrap(),
            Some(Begin::Resume {
                id: id.clone(),
                was: IntentState::Unknown
            })
        );
        assert_eq!(
            store
                .claim_stale(&id, IntentState::Pending, "req-3")
                .await
                .unwrap(),
            None,
            "not in that state"
        );
        assert_eq!(
            store.intent_state(&id).await.unwrap(),
            Some(IntentState::Sent)
        );
        store
            .finish_intent(
                &id,
                Some(r#"{"outcome":"SUCCESS"}"#),
                &outcome_row("SUCCESS"),
                &[],
            )
            .await
            .unwrap();
        let replay = store
            .begin_intent(&meta("{a}"), Some("k1"), day)
            .await
            .unwrap();
        assert_eq!(
            replay,
            Begin::Replay {
                result: r#"{"outcome":"SUCCESS"}"#.into()
            },
            "{}",
            s.label
        );
        let reused = store
            .begin_intent(&meta("{b}"), Some("k1"), day)
            .await
            .unwrap();
        assert_eq!(reused, Begin::Reused, "{}", s.label);
        // Another principal's key of the same name is its own.
        let mut other = meta("{b}");
        other.principal = "hr-sync".into();
        assert!(matches!(
            store.begin_intent(&other, Some("k1"), day).await.unwrap(),
            Begin::Fresh { .. }
        ));
        // Without a key every call is fresh; a forgotten result leaves no record.
        let Begin::Fresh { id } = store.begin_intent(&meta("{a}"), None, day).await.unwrap() else {
            panic!()
        };
        store
            .finish_intent(&id, None, &outcome_row("FAILED"), &[])
            .await
            .unwrap();
        assert_eq!(store.intent_state(&id).await.unwrap(), None);
        // An expired record is replaced by a fresh one.
        let Begin::Fresh { id } = store
            .begin_intent(&meta("{c}"), Some("k2"), -1)
            .await
            .unwrap()
        else {
            panic!()
        };
        store
            .finish_intent(&id, Some("{}"), &outcome_row("SUCCESS"), &[])
            .await
            .unwrap();
        assert_eq!(store.expire_intents().await.unwrap(), 1, "{}", s.label);
        assert!(matches!(
            store
                .begin_intent(&meta("{d}"), Some("k2"), day)
                .await
                .unwrap(),
            Begin::Fresh { .. }
        ));
        let v = store.verify_audit(|_| {}).await.unwrap();
        assert_eq!((v.rows, v.broken), (3, None), "{}", s.label);
        s.done().await;
    }
}

#[tokio::test]
async fn a_restart_settles_what_the_stopped_process_left_in_flight() {
    for s in stores("recover").await {
        let store = &s.store;
        let day = 86_400_000;
        let Begin::Fresh { id: queued } = store
            .begin_intent(&meta("{q}"), Some("queued"), day)
            .await
            .unwrap()
        else {
            panic!()
        };
        let Begin::Fresh { id: sent } = store
            .begin_intent(&meta("{s}"), Some("sent"), day)
            .await
            .unwrap()
        else {
            panic!()
        };
        store.mark_sent(&sent).await.unwrap();
        let Begin::Fresh { id: keyless } =
            store.begin_intent(&meta("{n}"), None, day).await.unwrap()
        else {
            panic!()
        };
        let recovered = store.recover_intents().await.unwrap();
        assert_eq!(
            recovered,
            Recovered {
                not_sent: 2,
                unknown: 1
            },
            "{}",
            s.label
        );
        assert_eq!(
            store.intent_state(&queued).await.unwrap(),
            Some(IntentState::NotSent)
        );
        assert_eq!(
            store.intent_state(&sent).await.unwrap(),
            Some(IntentState::Unknown)
        );
        assert_eq!(store.intent_state(&keyless).await.unwrap(), None);
        // Each settled intent is audited.
        let rows = store
            .audit_page(&AuditFilter::default(), Window::default(), 10)
            .await
            .unwrap();
        let codes: Vec<&str> = rows.iter().map(|r| r.record.error_code.as_str()).collect();
        assert_eq!(
            codes
                .iter()
                .filter(|c| **c == "GATEWAY_STOPPED_BEFORE_SENDING")
                .count(),
            2
        );
        assert_eq!(
            codes
                .iter()
                .filter(|c| **c == "GATEWAY_STOPPED_AFTER_SENDING")
                .count(),
            1
        );
        // A retry claims each once; a second concurrent retry waits.
        let resumed = store
            .begin_intent(&meta("{q}"), Some("queued"), day)
            .await
            .unwrap();
        assert_eq!(
            resumed,
            Begin::Resume {
                id: queued.clone(),
                was: IntentState::NotSent
            },
            "{}",
            s.label
        );
        assert_eq!(
            store
                .begin_intent(&meta("{q}"), Some("queued"), day)
                .await
                .unwrap(),
            Begin::Mine {
                id: queued.clone(),
                was: IntentState::Pending
            }
        );
        assert_eq!(
            store
                .begin_intent(&meta("{s}"), Some("sent"), day)
                .await
                .unwrap(),
            Begin::Resume {
                id: sent,
                was: IntentState::Unknown
            }
        );
        // A second start finds the resumed ones in flight again (their new owner stopped too).
        assert_eq!(store.recover_intents().await.unwrap().not_sent, 2);
        // Another replica's intent is not this start's to settle, until it expires.
        assert!(matches!(
            store
                .begin_intent(&meta("{q}"), Some("queued"), day)
                .await
                .unwrap(),
            Begin::Resume { .. }
        ));
        raw(
            store,
            "UPDATE write_intents SET owner = 'gw-2', expires_ms = 0 WHERE idem_key = 'queued'",
        )
        .await;
        assert_eq!(store.recover_intents().await.unwrap(), Recovered::default());
        let before = store.verify_audit(|_| {}).await.unwrap().rows;
        assert!(store.expire_intents().await.unwrap() >= 1, "{}", s.label);
        assert_eq!(store.intent_state(&queued).await.unwrap(), None);
        let after = store.verify_audit(|_| {}).await.unwrap();
        assert_eq!(
            (after.rows, after.broken),
            (before + 1, None),
            "settled and audited"
        );
        s.done().await;
    }
}

#[tokio::test]
async fn open_invitations_are_kept_per_organization() {
    for s in stores("invites").await {
        let store = &s.store;
        store.add_invite("acme", "a@acme.example").await.unwrap();
        store.add_invite("acme", "a@acme.example").await.unwrap();
        store.add_invite("acme", "b@acme.example").await.unwrap();
        store
            .add_invite("globex", "c@globex.example")
            .await
            .unwrap();
        let mut acme = store.open_invites("acme").await.unwrap();
        acme.sort();
        assert_eq!(
            acme,
            vec!["a@acme.example", "b@acme.example"],
            "{}",
            s.label
        );
        store.remove_invite("acme", "a@acme.example").await.unwrap();
        assert_eq!(
            store.open_invites("acme").await.unwrap(),
            vec!["b@acme.example"]
        );
        assert_eq!(
            store.open_invites("globex").await.unwrap(),
            vec!["c@globex.example"]
        );
        s.done().await;
    }
}

#[tokio::test]
async fn a_closed_store_refuses_and_says_it_is_not_writable() {
    for s in stores("closed").await {
        assert!(s.store.writable());
        s.store.close().await;
        let err = s.store.begin_intent(&meta("{a}"), Some("k"), 1000).await;
        assert!(
            matches!(err, Err(StoreError::Unavailable(_))),
            "{}",
            s.label
        );
        assert!(!s.store.writable(), "{}", s.label);
        assert!(!s.store.ping().await);
        s.done().await;
    }
}

#[tokio::test]
async fn a_bad_url_or_an_unreadable_place_is_a_clear_error() {
    let err = Store::open("mysql://root@127.0.0.1/test")
        .await
        .err()
        .unwrap();
    assert!(err.to_string().contains("expected `sqlite://"), "{err}");
    let err = Store::open("sqlite:///nonexistent-dir/x/y.sqlite3")
        .await
        .err()
        .unwrap();
    assert!(matches!(err, StoreError::Unavailable(_)), "{err}");
}

#[test]
fn passwords_are_redacted() {
    assert_eq!(
        redact_url("postgres://app:s3cret@db.internal:5432/scim?sslmode=require"),
        "postgres://app:<redacted>@db.internal:5432/scim?sslmode=require"
    );
    assert_eq!(
        redact_url("postgres://db/scim?user=app&password=s3cret"),
        "postgres://db/scim?user=app&password=<redacted>"
    );
    assert_eq!(
        redact_url("postgres://root@127.0.0.1/test"),
        "postgres://root@127.0.0.1/test"
    );
    assert_eq!(
        redact_url("sqlite://scimgate.sqlite3"),
        "sqlite://scimgate.sqlite3"
    );
}

#[tokio::test]
async fn a_locked_sqlite_file_refuses_writes_after_the_busy_timeout_and_recovers() {
    let url = fresh_sqlite_url("locked");
    let store = Store::open(&url).await.unwrap();
    store.append_audit(&record(1)).await.unwrap();
    // Another process holds the write lock (a backup tool, a second gateway on the same file).
    let other = AnyPoolOptions::new()
        .max_connections(1)
        .connect(&url)
        .await
        .unwrap();
    let mut holder = other.acquire().await.unwrap();
    sqlx::query("BEGIN EXCLUSIVE")
        .execute(&mut *holder)
        .await
        .unwrap();
    let started = std::time::Instant::now();
    let refused = store.begin_intent(&meta("{a}"), Some("k"), 1000).await;
    assert!(
        matches!(refused, Err(StoreError::Unavailable(_))),
        "{refused:?}"
    );
    assert!(
        started.elapsed() >= Duration::from_secs(4),
        "waited out busy_timeout first"
    );
    assert!(!store.writable());
    // Readers are not blocked (WAL): the audit log still reads.
    let rows = store
        .audit_page(&AuditFilter::default(), Window::default(), 10)
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);
    sqlx::query("ROLLBACK").execute(&mut *holder).await.unwrap();
    drop(holder);
    other.close().await;
    assert!(store.ping().await && store.writable());
    assert!(matches!(
        store
            .begin_intent(&meta("{a}"), Some("k"), 1000)
            .await
            .unwrap(),
        Begin::Fresh { .. }
    ));
    store.close().await;
    remove_sqlite_files(&url);
}

#[tokio::test]
async fn the_audit_commands_never_create_a_store() {
    let url = fresh_sqlite_url("missing");
    let err = Store::open_existing(&url, "x")
        .await
        .err()
        .expect("refused");
    assert!(err.to_string().contains("no store file there"), "{err}");
    assert!(!std::path::Path::new(url.trim_start_matches("sqlite://")).exists());
}

#[tokio::test]
async fn a_full_disk_refuses_writes_and_they_work_again_when_there_is_room() {
    // SQLite's page limit fails a write with the error a full disk gives (SQLITE_FULL).
    let url = fresh_sqlite_url("full");
    let store = Store::open(&url).await.unwrap();
    let limit = |pages: i64| {
        let store = store.clone();
        async move {
            let mut held = Vec::new();
            for _ in 0..4 {
                let mut conn = store.pool().acquire().await.unwrap();
                sqlx::query(AssertSqlSafe(format!("PRAGMA max_page_count = {pages}")))
                    .execute(&mut *conn)
                    .await
                    .unwrap();
                held.push(conn);
            }
        }
    };
    let used: i64 = sqlx::query_scalar("PRAGMA page_count")
        .fetch_one(store.pool())
        .await
        .unwrap();
    limit(used + 2).await;
    let mut refused = None;
    for n in 0..2_000 {
        let mut r = record(n);
        r.input = "x".repeat(2_000);
        if let Err(e) = store.append_audit(&r).await {
            refused = Some(e);
            break;
        }
    }
    let refused = refused.expect("the limit is reached");
    assert!(refused.to_string().contains("full"), "{refused}");
    assert!(matches!(refused, StoreError::Unavailable(_)), "{refused}");
    assert!(!store.writable(), "readiness says so");
    let v = store.verify_audit(|_| {}).await.unwrap();
    assert!(
        v.broken.is_none(),
        "a refused append leaves no half row: {:?}",
        v.broken
    );
    limit(1_000_000).await;
    assert!(store.ping().await);
    assert!(matches!(
        store
            .begin_intent(&meta("{a}"), Some("k"), 1000)
            .await
            .unwrap(),
        Begin::Fresh { .. }
    ));
    store.close().await;
    remove_sqlite_files(&url);
}
