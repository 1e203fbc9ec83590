//! Reading access snapshots back: one, a page, how many, the newest's time, the content
//! (checked against its hash); the chain's check; and retention.

use sqlx::Row;

use super::snapshots::{
    COLUMNS, SnapshotBreak, SnapshotRow, blocking, content_hash, gunzip, row_of, snapshot_hash,
};
use super::{Store, StoreError};

impl Store {
    /// One snapshot of `org`, without its content.
    pub async fn snapshot(&self, org: &str, seq: i64) -> Result<Option<SnapshotRow>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM snapshots WHERE org = $1 AND seq = $2");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(org)
            .bind(seq)
            .fetch_optional(self.pool())
            .await?;
        row.as_ref().map(row_of).transpose()
    }

    /// Up to `limit` snapshots of `org` with `seq` strictly between `above` and `below`,
    /// newest or oldest first.
    pub async fn snapshots_page(
        &self,
        org: &str,
        above: Option<i64>,
        below: Option<i64>,
        newest_first: bool,
        limit: i64,
    ) -> Result<Vec<SnapshotRow>, StoreError> {
        let order = if newest_first { "DESC" } else { "ASC" };
        let sql = format!(
            "SELECT {COLUMNS} FROM snapshots WHERE org = $1 AND seq > $2 AND seq < $3 ORDER BY seq {order} LIMIT {}",
            limit.max(0)
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(org)
            .bind(above.unwrap_or(i64::MIN))
            .bind(below.unwrap_or(i64::MAX))
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(row_of).collect()
    }

    /// How many snapshots of `org` are kept.
    pub async fn count_snapshots(&self, org: &str) -> Result<i64, StoreError> {
        Ok(
            sqlx::query("SELECT COUNT(*) AS n FROM snapshots WHERE org = $1")
                .bind(org)
                .fetch_one(self.pool())
                .await?
                .try_get("n")?,
        )
    }

    /// The organizations that have taken snapshots, by id.
    pub async fn snapshot_orgs(&self) -> Result<Vec<String>, StoreError> {
        let rows = sqlx::query("SELECT org FROM snapshot_heads WHERE seq > 0 ORDER BY org")
            .fetch_all(self.pool())
            .await?;
        Ok(rows
            .iter()
            .map(|r| r.try_get("org"))
            .collect::<Result<_, _>>()?)
    }

    /// When `org`'s newest snapshot was taken (kept or pruned since), if it has one.
    pub async fn newest_snapshot_ms(&self, org: &str) -> Result<Option<i64>, StoreError> {
        let row = sqlx::query("SELECT seq, taken_at_ms FROM snapshot_heads WHERE org = $1")
            .bind(org)
            .fetch_optional(self.pool())
            .await?;
        match row {
            Some(r) if r.try_get::<i64, _>("seq")? > 0 => Ok(Some(r.try_get("taken_at_ms")?)),
            _ => Ok(None),
        }
    }

    /// The uncompressed canonical content of a snapshot, checked against its content hash
    /// (`Corrupt` when it does not match).
    pub async fn snapshot_content(
        &self,
        org: &str,
        seq: i64,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        let row = sqlx::query(
            "SELECT content, content_hash, content_bytes FROM snapshots WHERE org = $1 AND seq = $2",
        )
        .bind(org)
        .bind(seq)
        .fetch_optional(self.pool())
        .await?;
        let Some(row) = row else { return Ok(None) };
        let stored: Vec<u8> = row.try_get("content")?;
        let expected: String = row.try_get("content_hash")?;
        let len: i64 = row.try_get("content_bytes")?;
        let content = blocking(move || {
            let content = gunzip(&stored, usize::try_from(len).unwrap_or(0))
                .map_err(|e| StoreError::Corrupt(format!("snapshot content: {e}")))?;
            if content_hash(&content) != expected {
                return Err(StoreError::Corrupt(
                    "a snapshot's content does not match its content hash".into(),
                ));
            }
            Ok(content)
        })
        .await?;
        Ok(Some(content))
    }

    /// Walks `org`'s kept snapshots oldest first, checking each one's content against its
    /// hashes and its link to the one before; the first that does not fit, if any. The
    /// oldest kept snapshot's previous hash is taken as it is (older ones may be pruned).
    pub async fn verify_snapshots(&self, org: &str) -> Result<Option<SnapshotBreak>, StoreError> {
        let mut previous: Option<SnapshotRow> = None;
        loop {
            let above = previous.as_ref().map(|p| p.seq);
            let rows = self.snapshots_page(org, above, None, false, 1).await?;
            let Some(row) = rows.into_iter().next() else {
                return Ok(None);
            };
            let broken = |reason: String| {
                Ok(Some(SnapshotBreak {
                    seq: row.seq,
                    reason,
                }))
            };
            if let Some(p) = &previous
                && (row.seq != p.seq + 1 || row.previous_hash != p.hash)
            {
                return broken(format!(
                    "snapshot {} does not follow snapshot {} (missing, or its previous hash differs)",
                    row.seq, p.seq
                ));
            }
            let content = match self.snapshot_content(org, row.seq).await {
                Ok(Some(c)) => c,
                Ok(None) => return broken("removed while being checked".into()),
                Err(StoreError::Corrupt(reason)) => return broken(reason),
                Err(e) => return Err(e),
            };
            if snapshot_hash(&row.previous_hash, row.seq, &(&row).into(), &content) != row.hash {
                return broken(format!(
                    "snapshot {} was changed after it was taken (its metadata or content hash to another value)",
                    row.seq
                ));
            }
            previous = Some(row);
        }
    }

    /// Removes `org`'s snapshots taken before `before_ms`; how many went. The head keeps the
    /// chain going (the next snapshot still links the newest one, kept or not).
    pub async fn prune_snapshots(&self, org: &str, before_ms: i64) -> Result<u64, StoreError> {
        // A review's snapshot is its evidence: kept as long as the review.
        let result = sqlx::query(
            "DELETE FROM snapshots WHERE org = $1 AND taken_at_ms < $2 \
             AND seq NOT IN (SELECT snapshot_seq FROM reviews WHERE org = $1)",
        )
        .bind(org)
        .bind(before_ms)
        .execute(self.pool())
        .await
        .map(|r| r.rows_affected());
        self.noted(result)
    }
}
