//! The durable store: the hash-chained audit log, write intents (the idempotency records),
//! open invitations, time-bound grants, events, webhooks and access snapshots. One small
//! handle over SQLite (the embedded default) or PostgreSQL (for several replicas), one set of
//! migrations embedded in the binary and applied at open.
//!
//! Reads of the directory never touch the store; writes and the audit queries do. Every
//! failure is a [`StoreError`]; the handle remembers whether its last write worked, so
//! `/readyz` can say the store is down and writes can be refused before anything is sent.

mod audit;
mod events;
mod export;
mod feed;
mod grant_schedule;
mod grants;
mod intents;
mod invites;
mod reviews;
mod scratch;
mod snapshot_reads;
mod snapshots;
#[cfg(test)]
mod tests;
mod webhooks;

use std::borrow::Cow;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sqlx::AnyPool;
use sqlx::any::AnyPoolOptions;
use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::{AssertSqlSafe, Executor, SqlSafeStr};

pub use audit::{
    AuditEntry, AuditFilter, AuditRecord, Break, Target, UpstreamCall, Verified, Window,
    canonical_hash,
};
pub use events::{Event, EventPage, NewEvent, Resume};
pub use export::{EXPORT_CHUNK, EXPORT_COLUMNS, ExportFormat, parse_time_bound};
pub use feed::{Follow, FollowError};
pub use grant_schedule::GrantCounts;
pub use grants::{Grant, GrantEvent, GrantFilter, GrantState, NewGrant};
pub use intents::{Begin, IntentKey, IntentMeta, IntentState, Recovered, input_of};
pub use reviews::{
    Applied, ApplyResult, Decision, DecisionIn, ItemFilter, NewReview, NewReviewItem, ReviewItem,
    ReviewRow, ReviewState,
};
pub use scratch::ScratchSchema;
pub use snapshots::{
    Appended, NewSnapshot, SNAPSHOT_GENESIS, SnapshotBreak, SnapshotMetaRef, SnapshotRow,
    SnapshotTrigger, content_hash, snapshot_hash,
};
pub use webhooks::{Delivery, DeliveryFilter, DeliveryState, NewDelivery};

/// Which database a store runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Why the store could not do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The URL names no database this build supports, or cannot be parsed.
    #[error("store url {url}: {reason}")]
    Url { url: String, reason: String },
    /// The database could not be reached, or refused the statement.
    #[error("the store is unavailable: {0}")]
    Unavailable(#[source] sqlx::Error),
    /// The migrations could not be applied.
    #[error("the store's migrations failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// A row the store wrote does not read back as written.
    #[error("the store holds a row it cannot read: {0}")]
    Corrupt(String),
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> StoreError {
        StoreError::Unavailable(e)
    }
}

/// The store. Cheap to clone.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

struct Inner {
    pool: AnyPool,
    backend: Backend,
    shown_url: String,
    /// False after a write failed, true again after one worked.
    writable: AtomicBool,
    /// This replica, as the owner of the intents it records (see `intents.rs`).
    owner: String,
    /// The live tails of the event log (`feed.rs`).
    feeds: feed::Feeds,
}

/// The migrations, in order; each file is applied once, in one transaction.
const MIGRATIONS: &[(i64, &str, &str)] = &[
    (
        1,
        "audit log, write intents, open invitations",
        include_str!("migrations/0001_audit_intents_invites.sql"),
    ),
    (
        2,
        "time-bound group grants and their history",
        include_str!("migrations/0002_grants.sql"),
    ),
    (
        3,
        "directory events and grant expiry warnings",
        include_str!("migrations/0003_events.sql"),
    ),
    (
        4,
        "the webhook outbox",
        include_str!("migrations/0004_webhooks.sql"),
    ),
    (
        5,
        "access snapshots, hash-chained per organization",
        include_str!("migrations/0005_snapshots.sql"),
    ),
    (
        6,
        "access review campaigns and their items",
        include_str!("migrations/0006_reviews.sql"),
    ),
];

impl Store {
    /// Opens the store at `url` (`sqlite://path` creates the file; `postgres://…`), and applies
    /// the migrations it has not seen, as the replica named `scimgate`.
    pub async fn open(url: &str) -> Result<Store, StoreError> {
        Store::open_as(url, "scimgate").await
    }

    /// [`Store::open`] as the replica `replica`: a start settles only the intents its own
    /// replica left in flight, so replicas sharing a PostgreSQL store need distinct names.
    pub async fn open_as(url: &str, replica: &str) -> Result<Store, StoreError> {
        sqlx::any::install_default_drivers();
        let backend = backend_of(url)?;
        let connect_url = match backend {
            // Created on first start; `mode=rwc` unless the URL says otherwise.
            Backend::Sqlite if !url.contains("mode=") => {
                let sep = if url.contains('?') { '&' } else { '?' };
                format!("{url}{sep}mode=rwc")
            }
            _ => url.to_owned(),
        };
        let options = AnyPoolOptions::new()
            .max_connections(match backend {
                Backend::Sqlite => 4,
                Backend::Postgres => 8,
            })
            .acquire_timeout(Duration::from_secs(5))
            .after_connect(move |conn, _meta| {
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        // WAL: readers (exports, the audit page) never block the writer.
                        // synchronous=NORMAL: a commit survives a crash of the process (the
                        // case the crash test checks); a power loss may lose the last ones.
                        conn.execute("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 5000")
                            .await?;
                    }
                    Ok(())
                })
            });
        let pool = options.connect(&connect_url).await.map_err(|e| match e {
            sqlx::Error::Configuration(c) => StoreError::Url {
                url: redact_url(url),
                reason: c.to_string(),
            },
            other => StoreError::Unavailable(other),
        })?;
        let migrations = MIGRATIONS
            .iter()
            .map(|(version, description, sql)| {
                Migration::new(
                    *version,
                    Cow::Borrowed(*description),
                    MigrationType::Simple,
                    AssertSqlSafe(*sql).into_sql_str(),
                    false,
                )
            })
            .collect();
        Migrator::with_migrations(migrations).run(&pool).await?;
        Ok(Store {
            inner: Arc::new(Inner {
                pool,
                backend,
                shown_url: redact_url(url),
                writable: AtomicBool::new(true),
                owner: replica.to_owned(),
                feeds: feed::Feeds::new(),
            }),
        })
    }

    /// [`Store::open_as`] for a store that must exist already (the `audit` commands): a
    /// SQLite path with no file is an error, not a new empty log that verifies as intact.
    pub async fn open_existing(url: &str, replica: &str) -> Result<Store, StoreError> {
        if backend_of(url)? == Backend::Sqlite {
            let path = url
                .trim_start_matches("sqlite://")
                .trim_start_matches("sqlite:");
            let path = path.split('?').next().unwrap_or(path);
            if !std::path::Path::new(path).exists() {
                return Err(StoreError::Url {
                    url: redact_url(url),
                    reason: "no store file there (check `store.url` and the working directory)"
                        .into(),
                });
            }
        }
        Store::open_as(url, replica).await
    }

    pub fn backend(&self) -> Backend {
        self.inner.backend
    }

    /// The URL with any password replaced, for logs and `check-config`.
    pub fn shown_url(&self) -> &str {
        &self.inner.shown_url
    }

    /// Whether the last write worked (`/readyz`).
    pub fn writable(&self) -> bool {
        self.inner.writable.load(Ordering::Relaxed)
    }

    /// Checks that the store takes a write (a no-op one), and remembers the answer.
    pub async fn ping(&self) -> bool {
        let ok = sqlx::query("UPDATE audit_head SET seq = seq WHERE id = 1")
            .execute(&self.inner.pool)
            .await
            .is_ok();
        self.inner.writable.store(ok, Ordering::Relaxed);
        ok
    }

    /// Closes the pool (tests that take the store away).
    pub async fn close(&self) {
        self.inner.pool.close().await;
    }

    fn pool(&self) -> &AnyPool {
        &self.inner.pool
    }

    /// Notes a write's result for [`Store::writable`], passing it on.
    fn noted<T>(&self, result: Result<T, sqlx::Error>) -> Result<T, StoreError> {
        self.inner.writable.store(result.is_ok(), Ordering::Relaxed);
        if result.is_ok() {
            self.inner.feeds.wrote();
        }
        if let Err(e) = &result {
            tracing::error!(url = %self.inner.shown_url, error = %e, "a store write failed");
        }
        result.map_err(StoreError::Unavailable)
    }
}

fn backend_of(url: &str) -> Result<Backend, StoreError> {
    if url.starts_with("sqlite:") {
        Ok(Backend::Sqlite)
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(Backend::Postgres)
    } else {
        Err(StoreError::Url {
            url: redact_url(url),
            reason: "expected `sqlite://<file>` or `postgres://<user>@<host>/<database>`".into(),
        })
    }
}

/// `postgres://user:secret@host/db` → `postgres://user:<redacted>@host/db`; a `password=`
/// parameter likewise. Anything without a password is shown as it is.
pub fn redact_url(url: &str) -> String {
    let mut shown = url.to_owned();
    if let Some(scheme_end) = shown.find("://") {
        let rest_start = scheme_end + 3;
        let authority_end = shown[rest_start..]
            .find(['/', '?'])
            .map_or(shown.len(), |i| rest_start + i);
        if let Some(at) = shown[rest_start..authority_end].rfind('@') {
            let userinfo = &shown[rest_start..rest_start + at];
            if let Some(colon) = userinfo.find(':') {
                let from = rest_start + colon + 1;
                shown.replace_range(from..rest_start + at, "<redacted>");
            }
        }
    }
    if let Some(q) = shown.find('?') {
        let (base, query) = shown.split_at(q + 1);
        let query: Vec<String> = query
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some((k, _)) if k.eq_ignore_ascii_case("password") => format!("{k}=<redacted>"),
                _ => pair.to_owned(),
            })
            .collect();
        shown = format!("{base}{}", query.join("&"));
    }
    shown
}

/// Now, in Unix milliseconds: the store's clock (rows carry wall time for auditors).
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// A value for a placeholder of a query built at run time (filters).
pub(crate) enum Arg {
    Text(String),
    Int(i64),
}

/// `sql` with `args` bound to `$1`, `$2`, ... in order.
fn bound(
    sql: String,
    args: Vec<Arg>,
) -> sqlx::query::Query<'static, sqlx::Any, sqlx::any::AnyArguments> {
    args.into_iter()
        .fold(sqlx::query(AssertSqlSafe(sql)), |query, arg| match arg {
            Arg::Text(s) => query.bind(s),
            Arg::Int(i) => query.bind(i),
        })
}

/// Removes a SQLite store's file with its `-wal` and `-shm` companions; nothing for any
/// other URL (the demo's and the tests' stores, which live as long as they do).
pub fn remove_sqlite_files(url: &str) {
    if let Some(path) = url.strip_prefix("sqlite://") {
        let path = path.split('?').next().unwrap_or(path);
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{path}{suffix}"));
        }
    }
}

/// `sqlite://<temp dir>/scimgate-<name>-<pid>-<random>.sqlite3`: a fresh file (demo, tests).
pub fn fresh_sqlite_url(name: &str) -> String {
    let path = std::env::temp_dir().join(format!(
        "scimgate-{name}-{}-{:08x}.sqlite3",
        std::process::id(),
        rand::random::<u32>()
    ));
    format!("sqlite://{}", path.display())
}

impl Store {
    /// Leases to this replica, until `lease_until_ms`, each row of `table` named in `ids` that
    /// still matches `still` and whose lease is free at `now_ms`: one conditional UPDATE a
    /// row, so two replicas never both take one. The ids it took, in order.
    async fn lease_rows(
        &self,
        table: &str,
        still: &str,
        ids: impl IntoIterator<Item = String>,
        now_ms: i64,
        lease_until_ms: i64,
    ) -> Result<Vec<String>, StoreError> {
        let sql = format!(
            "UPDATE {table} SET lease_owner = $1, lease_until_ms = $2 WHERE id = $3 AND {still} AND lease_until_ms <= $4"
        );
        let mut taken = Vec::new();
        for id in ids {
            let result = sqlx::query(AssertSqlSafe(sql.as_str()))
                .bind(&self.inner.owner)
                .bind(lease_until_ms)
                .bind(&id)
                .bind(now_ms)
                .execute(self.pool())
                .await;
            if self.noted(result)?.rows_affected() == 1 {
                taken.push(id);
            }
        }
        Ok(taken)
    }

    /// The `id` column of `rows`.
    fn ids_of(rows: &[sqlx::any::AnyRow]) -> Result<Vec<String>, StoreError> {
        use sqlx::Row as _;
        rows.iter()
            .map(|r| r.try_get::<String, _>("id").map_err(StoreError::from))
            .collect()
    }
}
