//! What the grant scheduler takes from the store: due grants under a lease (a conditional
//! UPDATE, so with several replicas on one PostgreSQL store each due grant is handled by one of
//! them at a time), grants whose expiry warning is due, and the next time anything is due.

use sqlx::Row;

use super::grants::{COLUMNS, STALE_PENDING_MS, grant_event, grant_of};
use super::{Grant, Store, StoreError};

/// One organization's grants not ended yet, for the metrics.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GrantCounts {
    pub org: String,
    /// Active or pending, overdue ones included.
    pub active: i64,
    /// Past their end, not removed yet.
    pub overdue: i64,
    /// The end of the oldest overdue one.
    pub oldest_overdue_ms: Option<i64>,
}

impl Store {
    /// The grants of `ids` that still exist, in order.
    async fn grants_by_id(&self, ids: Vec<String>) -> Result<Vec<Grant>, StoreError> {
        let mut grants = Vec::with_capacity(ids.len());
        for id in ids {
            if let Some(grant) = self.grant(&id).await? {
                grants.push(grant);
            }
        }
        Ok(grants)
    }

    /// Per organization with grants not ended: how many, how many overdue at `now_ms`, and
    /// the oldest overdue end.
    pub async fn grant_counts(&self, now_ms: i64) -> Result<Vec<GrantCounts>, StoreError> {
        let rows = sqlx::query(
            "SELECT org, COUNT(*) AS active, \
             SUM(CASE WHEN expires_ms <= $1 THEN 1 ELSE 0 END) AS overdue, \
             MIN(CASE WHEN expires_ms <= $1 THEN expires_ms END) AS oldest \
             FROM grants WHERE state IN ('active', 'pending') GROUP BY org ORDER BY org",
        )
        .bind(now_ms)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(GrantCounts {
                    org: r.try_get("org")?,
                    active: r.try_get("active")?,
                    overdue: r.try_get::<Option<i64>, _>("overdue")?.unwrap_or(0),
                    oldest_overdue_ms: r.try_get("oldest")?,
                })
            })
            .collect()
    }

    /// Takes up to `limit` active grants due at `now_ms` (ended, and past their next try)
    /// (and pending ones older than two minutes: a stop between the add and its confirmation
    /// leaves one pending, and the membership it may have added still ends on time)
    /// whose lease is free or lapsed, leasing each to this replica until `lease_until_ms`.
    /// Each is taken by one conditional UPDATE: two replicas never both take one.
    pub async fn claim_due_grants(
        &self,
        now_ms: i64,
        lease_until_ms: i64,
        limit: i64,
    ) -> Result<Vec<Grant>, StoreError> {
        let sql = format!(
            "SELECT id FROM grants WHERE (state = 'active' OR (state = 'pending' AND granted_ms <= $2)) AND expires_ms <= $1 AND next_try_ms <= $1 AND lease_until_ms <= $1 ORDER BY expires_ms, id LIMIT {limit}"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(now_ms)
            .bind(now_ms.saturating_sub(STALE_PENDING_MS))
            .fetch_all(self.pool())
            .await?;
        let still = "state IN ('active', 'pending')";
        let taken = self
            .lease_rows(
                "grants",
                still,
                Store::ids_of(&rows)?,
                now_ms,
                lease_until_ms,
            )
            .await?;
        self.grants_by_id(taken).await
    }

    /// Takes one active grant (a revocation's) if no one holds it: `None` when another
    /// replica or the scheduler has it.
    pub async fn claim_grant(
        &self,
        id: &str,
        now_ms: i64,
        lease_until_ms: i64,
    ) -> Result<Option<Grant>, StoreError> {
        let taken = self
            .lease_rows(
                "grants",
                "state = 'active'",
                [id.to_owned()],
                now_ms,
                lease_until_ms,
            )
            .await?;
        match taken.first() {
            Some(id) => self.grant(id).await,
            None => Ok(None),
        }
    }

    /// Takes up to `limit` pending grants older than two minutes (a stopped process left them
    /// between recording the grant and confirming its add) whose lease is free and whose next
    /// try is due, leasing each to this replica until `lease_until_ms`: the scheduler settles
    /// each by reading the group.
    pub async fn claim_stale_pending(
        &self,
        now_ms: i64,
        lease_until_ms: i64,
        limit: i64,
    ) -> Result<Vec<Grant>, StoreError> {
        let sql = format!(
            "SELECT id FROM grants WHERE state = 'pending' AND granted_ms <= $1 AND next_try_ms <= $2 AND lease_until_ms <= $2 ORDER BY granted_ms, id LIMIT {limit}"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(now_ms.saturating_sub(STALE_PENDING_MS))
            .bind(now_ms)
            .fetch_all(self.pool())
            .await?;
        let taken = self
            .lease_rows(
                "grants",
                "state = 'pending'",
                Store::ids_of(&rows)?,
                now_ms,
                lease_until_ms,
            )
            .await?;
        self.grants_by_id(taken).await
    }

    /// Puts a claimed grant back until `next_try_ms` (its settling read failed), lease freed.
    pub async fn defer_grant(&self, id: &str, next_try_ms: i64) -> Result<(), StoreError> {
        let result = sqlx::query(
            "UPDATE grants SET next_try_ms = $1, lease_owner = '', lease_until_ms = 0 WHERE id = $2",
        )
        .bind(next_try_ms)
        .bind(id)
        .execute(self.pool())
        .await;
        self.noted(result).map(|_| ())
    }

    /// Active grants ending after `now_ms` and by `until_ms` with fewer than `warned`
    /// warnings emitted: the candidates for an expiry warning.
    pub async fn grants_to_warn(
        &self,
        now_ms: i64,
        until_ms: i64,
        warned: i64,
    ) -> Result<Vec<(Grant, i64)>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS}, warned FROM grants WHERE state = 'active' AND end_as = 'expired' AND expires_ms > $1 AND expires_ms <= $2 AND warned < $3 ORDER BY expires_ms, id"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(now_ms)
            .bind(until_ms)
            .bind(warned)
            .fetch_all(self.pool())
            .await?;
        rows.iter()
            .map(|r| Ok((grant_of(r)?, r.try_get("warned")?)))
            .collect()
    }

    /// Records that a grant's end passed `warned` warning offsets, with one `grant.expiring`
    /// event (`data`), if it still had `from` (once across replicas). True when this call did.
    pub async fn warn_grant(
        &self,
        id: &str,
        from: i64,
        warned: i64,
        at_ms: i64,
        data: serde_json::Value,
    ) -> Result<bool, StoreError> {
        let result = async {
            let mut tx = self.pool().begin().await?;
            let moved = sqlx::query(
                "UPDATE grants SET warned = $1 WHERE id = $2 AND warned = $3 AND state = 'active'",
            )
            .bind(warned)
            .bind(id)
            .bind(from)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if moved == 1 {
                grant_event(&mut tx, id, "grant.expiring", "system", at_ms, data).await?;
            }
            tx.commit().await?;
            Ok(moved == 1)
        }
        .await;
        self.noted(result)
    }

    /// The earliest time a grant is due (its end or its next try), if any is active: when
    /// the scheduler should look next.
    pub async fn next_grant_due(&self) -> Result<Option<i64>, StoreError> {
        let row = sqlx::query(
            "SELECT MIN(CASE WHEN next_try_ms > expires_ms THEN next_try_ms ELSE expires_ms END) AS due FROM grants WHERE state IN ('active', 'pending')",
        )
        .fetch_one(self.pool())
        .await?;
        Ok(row.try_get("due")?)
    }
}
