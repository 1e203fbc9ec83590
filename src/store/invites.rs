//! Invitations this gateway sent that are still open, per organization: kept here so a user
//! shows `INVITED` after a restart, as before it.

use sqlx::Row;

use super::{Store, StoreError, now_ms};

impl Store {
    /// Every open invitation of `org`, by user key.
    pub async fn open_invites(&self, org: &str) -> Result<Vec<String>, StoreError> {
        let rows =
            sqlx::query("SELECT user_key FROM open_invites WHERE org = $1 ORDER BY user_key")
                .bind(org)
                .fetch_all(self.pool())
                .await?;
        rows.iter()
            .map(|r| r.try_get("user_key").map_err(StoreError::from))
            .collect()
    }

    pub async fn add_invite(&self, org: &str, user_key: &str) -> Result<(), StoreError> {
        let result = sqlx::query(
            "INSERT INTO open_invites (org, user_key, created_ms) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
        )
        .bind(org)
        .bind(user_key)
        .bind(now_ms())
        .execute(self.pool())
        .await
        .map(|_| ());
        self.noted(result)
    }

    pub async fn remove_invite(&self, org: &str, user_key: &str) -> Result<(), StoreError> {
        let result = sqlx::query("DELETE FROM open_invites WHERE org = $1 AND user_key = $2")
            .bind(org)
            .bind(user_key)
            .execute(self.pool())
            .await
            .map(|_| ());
        self.noted(result)
    }
}
