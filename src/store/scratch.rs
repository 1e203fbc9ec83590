//! A PostgreSQL schema of its own for one test or benchmark run: the store URL that uses it
//! (its `search_path` set in the connection options), and its removal after.

use sqlx::AssertSqlSafe;
use sqlx::any::AnyPoolOptions;

use super::StoreError;

/// A schema created on a PostgreSQL server; [`ScratchSchema::drop_schema`] removes it.
pub struct ScratchSchema {
    base: String,
    schema: String,
    url: String,
}

impl ScratchSchema {
    /// Creates `<prefix>_<random>` on the server at `base`.
    pub async fn create(base: &str, prefix: &str) -> Result<ScratchSchema, StoreError> {
        let schema = format!("{prefix}_{:08x}", rand::random::<u32>());
        run(base, &format!("CREATE SCHEMA {schema}")).await?;
        let sep = if base.contains('?') { '&' } else { '?' };
        Ok(ScratchSchema {
            url: format!("{base}{sep}options=-c%20search_path%3D{schema}"),
            base: base.to_owned(),
            schema,
        })
    }

    /// The store URL whose tables live in this schema.
    pub fn url(&self) -> &str {
        &self.url
    }

    pub async fn drop_schema(self) {
        let _ = run(
            &self.base,
            &format!("DROP SCHEMA IF EXISTS {} CASCADE", self.schema),
        )
        .await;
    }
}

async fn run(url: &str, sql: &str) -> Result<(), StoreError> {
    sqlx::any::install_default_drivers();
    let pool = AnyPoolOptions::new()
        .max_connections(1)
        .acquire_timeout(std::time::Duration::from_secs(5))
        .connect(url)
        .await?;
    let result = sqlx::query(AssertSqlSafe(sql.to_owned()))
        .execute(&pool)
        .await;
    pool.close().await;
    result.map(|_| ()).map_err(StoreError::from)
}
