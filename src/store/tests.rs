//! The store's tests: each runs on a fresh SQLite file, and again on PostgreSQL (in a schema of
//! its own, dropped after) when `SCIMGATE_TEST_POSTGRES_URL` is set.

use super::*;

/// One backend's fresh store for one test.
struct Scratch {
    store: Store,
    label: &'static str,
    /// PostgreSQL: the base URL and the schema to drop. SQLite: the file to remove.
    cleanup: Cleanup,
}

enum Cleanup {
    File(std::path::PathBuf),
    Schema { base: String, schema: String },
}

impl Scratch {
    async fn done(self) {
        self.store.close().await;
        match self.cleanup {
            Cleanup::File(path) => {
                for suffix in ["", "-wal", "-shm"] {
                    let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
                }
            }
            Cleanup::Schema { base, schema } => {
                let pool = AnyPoolOptions::new()
                    .max_connections(1)
                    .connect(&base)
                    .await;
                if let Ok(pool) = pool {
                    let drop = format!("DROP SCHEMA IF EXISTS {schema} CASCADE");
                    let _ = sqlx::query(AssertSqlSafe(drop)).execute(&pool).await;
                    pool.close().await;
                }
            }
        }
    }
}

/// A fresh store on every backend this machine has.
async fn stores(name: &str) -> Vec<Scratch> {
    sqlx::any::install_default_drivers();
    let url = fresh_sqlite_url(name);
    let path = std::path::PathBuf::from(url.trim_start_matches("sqlite://"));
    let mut out = vec![Scratch {
        store: Store::open(&url).await.expect("open a sqlite store"),
        label: "sqlite",
        cleanup: Cleanup::File(path),
    }];
    match std::env::var("SCIMGATE_TEST_POSTGRES_URL") {
        Ok(base) if !base.is_empty() => {
            let schema = format!("scimgate_test_{name}_{:08x}", rand::random::<u32>());
            let pool = AnyPoolOptions::new()
                .max_connections(1)
                .connect(&base)
                .await
                .expect("SCIMGATE_TEST_POSTGRES_URL is set but PostgreSQL does not answer");
            sqlx::query(AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
                .execute(&pool)
                .await
                .expect("create a test schema");
            pool.close().await;
            let sep = if base.contains('?') { '&' } else { '?' };
            let url = format!("{base}{sep}options=-c%20search_path%3D{schema}");
            out.push(Scratch {
                store: Store::open(&url).await.expect("open a postgres store"),
                label: "postgres",
                cleanup: Cleanup::Schema { base, schema },
            });
        }
        _ => println!(
            "store test {name}: PostgreSQL skipped (SCIMGATE_TEST_POSTGRES_URL is not set)"
        ),
    }
    out
}

fn record(n: usize) -> AuditRecord {
    AuditRecord {
        at_ms: 0,
        request_id: format!("req-{n}"),
        actor: if n.is_multiple_of(2) {
            "ops"
        } else {
            "hr-sync"
        }
        .into(),
        role: "admin".into(),
        org: if n.is_multiple_of(3) {
            "acme"
        } else {
            "globex"
        }
        .into(),
        action: "deactivateUser".into(),
        targets: vec![Target {
            kind: "User".into(),
            id: format!("u{n}@acme.example"),
            email: Some(format!("u{n}@acme.example")),
        }],
        input: format!(r#"{{"user":"u{n}@acme.example"}}"#),
        outcome: "SUCCESS".into(),
        error_code: String::new(),
        calls: vec![UpstreamCall {
            method: "PATCH".into(),
            path: format!("/scim/1/Users/u{n}"),
            status: Some(200),
            ms: 12,
        }],
    }
}

async fn raw(store: &Store, sql: &str) {
    sqlx::query(AssertSqlSafe(sql.to_owned()))
        .execute(store.pool())
        .await
        .expect(sql);
}

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
        // In flight: the same key and input waits; another input is refused.
        let again = store
            .begin_intent(&meta("{a}"), Some("k1"), day)
            .await
            .unwrap();
        assert_eq!(again, Begin::InFlight, "{}", s.label);
        store.mark_sent(&id).await.unwrap();
        assert_eq!(
            store.intent_state(&id).await.unwrap(),
            Some(IntentState::Sent)
        );
        store
            .finish_intent(
                &id,
                Some(r#"{"outcome":"SUCCESS"}"#),
                &outcome_row("SUCCESS"),
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
            .finish_intent(&id, None, &outcome_row("FAILED"))
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
            .finish_intent(&id, Some("{}"), &outcome_row("SUCCESS"))
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
            Begin::InFlight
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
    let path = url.trim_start_matches("sqlite://");
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{path}{suffix}"));
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
