//! The store's tests: each runs on a fresh SQLite file, and again on PostgreSQL (in a schema of
//! its own, dropped after) when `SCIMGATE_TEST_POSTGRES_URL` is set.

use super::*;

mod chain;
mod grants;
mod intents;

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
