//! The store's tests: each runs on a fresh SQLite file, and again on PostgreSQL (in a schema of
//! its own, dropped after) when `SCIMGATE_TEST_POSTGRES_URL` is set.

use super::*;

mod chain;
mod events;
mod grants;
mod intents;
mod snapshot_size;
mod snapshots;

/// One backend's fresh store for one test.
struct Scratch {
    store: Store,
    label: &'static str,
    /// PostgreSQL: the schema to drop. SQLite: the file to remove.
    cleanup: Cleanup,
}

enum Cleanup {
    File(String),
    Schema(ScratchSchema),
}

impl Scratch {
    async fn done(self) {
        self.store.close().await;
        match self.cleanup {
            Cleanup::File(url) => remove_sqlite_files(&url),
            Cleanup::Schema(schema) => schema.drop_schema().await,
        }
    }
}

/// A fresh store on every backend this machine has.
async fn stores(name: &str) -> Vec<Scratch> {
    let url = fresh_sqlite_url(name);
    let mut out = vec![Scratch {
        store: Store::open(&url).await.expect("open a sqlite store"),
        label: "sqlite",
        cleanup: Cleanup::File(url),
    }];
    match std::env::var("SCIMGATE_TEST_POSTGRES_URL") {
        Ok(base) if !base.is_empty() => {
            let schema = ScratchSchema::create(&base, &format!("scimgate_test_{name}"))
                .await
                .expect("SCIMGATE_TEST_POSTGRES_URL is set but PostgreSQL does not answer");
            out.push(Scratch {
                store: Store::open(schema.url())
                    .await
                    .expect("open a postgres store"),
                label: "postgres",
                cleanup: Cleanup::Schema(schema),
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
