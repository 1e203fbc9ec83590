//! Access review campaigns as stored: the review, and one item per membership to decide, each
//! with its recommendation, the reviewer's decision, the decision completion settled on, and
//! what applying it did upstream.

use serde::{Deserialize, Serialize};
use sqlx::Row;
use sqlx::any::AnyRow;

use super::{Store, StoreError};

/// Defines a string-coded enum: its variants, their stored names, `as_str` and `parse`.
macro_rules! coded {
    ($(#[$m:meta])* $name:ident { $($(#[$vm:meta])* $v:ident = $s:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
        pub enum $name { $($(#[$vm])* $v),+ }
        impl $name {
            pub fn as_str(self) -> &'static str {
                match self { $($name::$v => $s),+ }
            }
            pub fn parse(s: &str) -> Option<$name> {
                match s { $($s => Some($name::$v),)+ _ => None }
            }
        }
    };
}

coded!(
    /// Where a review is.
    ReviewState {
        /// Reviewers are deciding.
        InProgress = "IN_PROGRESS",
        /// Completed and applying its revocations (a restart resumes by completing again).
        Applying = "APPLYING",
        Completed = "COMPLETED",
    }
);

coded!(
    /// A reviewer's decision, or one settled on at completion.
    Decision {
        Keep = "KEEP",
        Revoke = "REVOKE",
        DontKnow = "DONT_KNOW",
        /// Nobody decided and the review's default left it so.
        NotReviewed = "NOT_REVIEWED",
    }
);

coded!(
    /// What applying an item's final decision did.
    ApplyResult {
        /// Removed upstream.
        Applied = "APPLIED",
        /// Nothing to remove: the user or group was gone, or the user no longer a member.
        AppliedButNotFound = "APPLIED_BUT_NOT_FOUND",
        /// The removal's outcome is unknown even after reading back.
        AppliedUnknownFailure = "APPLIED_UNKNOWN_FAILURE",
        /// A revocation that was not applied (not asked for, or refused upstream).
        NotApplied = "NOT_APPLIED",
    }
);

/// A review to create.
#[derive(Clone, Debug)]
pub struct NewReview {
    pub org: String,
    pub name: String,
    pub snapshot_seq: i64,
    pub created_by: String,
    pub created_at_ms: i64,
    pub due_at_ms: Option<i64>,
    pub reviewers: Vec<String>,
    /// Group ids reviewed; empty: all.
    pub group_ids: Vec<String>,
    /// `NONE`, `KEEP`, `REVOKE` or `RECOMMENDATION`.
    pub default_decision: String,
    /// `NEVER`, `REVOKE`, `SELF_REVIEW` or `ALWAYS`.
    pub justification_required: String,
    pub lookback_ms: i64,
}

/// An item to create: one membership as the snapshot recorded it.
#[derive(Clone, Debug)]
pub struct NewReviewItem {
    pub user_key: String,
    pub user_email: String,
    pub user_name: String,
    pub user_status: String,
    pub group_id: String,
    pub group_name: String,
    /// `KEEP`, `REVOKE` or `NO_INFO`.
    pub recommendation: String,
    pub recommendation_reason: String,
}

/// A review as stored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReviewRow {
    pub id: String,
    pub org: String,
    pub name: String,
    pub state: ReviewState,
    pub snapshot_seq: i64,
    pub created_by: String,
    pub created_at_ms: i64,
    pub due_at_ms: Option<i64>,
    pub reviewers: Vec<String>,
    pub group_ids: Vec<String>,
    pub default_decision: String,
    pub justification_required: String,
    pub lookback_ms: i64,
    pub item_count: i64,
    pub completed_at_ms: Option<i64>,
    pub completed_by: Option<String>,
    pub apply_revocations: bool,
}

/// An item as stored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ReviewItem {
    pub review_id: String,
    pub seq: i64,
    pub user_key: String,
    pub user_email: String,
    pub user_name: String,
    pub user_status: String,
    pub group_id: String,
    pub group_name: String,
    pub recommendation: String,
    pub recommendation_reason: String,
    pub decision: Option<Decision>,
    pub justification: String,
    pub decided_by: Option<String>,
    pub decided_at_ms: Option<i64>,
    /// The reviewer asked for the user's deactivation should every group of it be revoked.
    pub deactivate: bool,
    pub final_decision: Option<Decision>,
    pub apply_result: Option<ApplyResult>,
    /// The upstream's HTTP status for the revoking call, when one was made.
    pub apply_status: Option<i64>,
    pub applied_at_ms: Option<i64>,
    pub applied_by: Option<String>,
    /// The request id of the revoking call (its audit row's).
    pub request_id: Option<String>,
}

/// Which items to list.
#[derive(Clone, Debug, Default)]
pub struct ItemFilter {
    pub group_id: Option<String>,
    /// A decision; `NotReviewed` lists items with none.
    pub decision: Option<Decision>,
}

/// One reviewer's decision on one item.
#[derive(Clone, Debug)]
pub struct DecisionIn {
    pub seq: i64,
    pub decision: Decision,
    pub justification: String,
    pub deactivate: bool,
}

/// What applying one item did.
#[derive(Clone, Debug)]
pub struct Applied {
    pub seq: i64,
    pub result: Option<ApplyResult>,
    pub status: Option<i64>,
    pub at_ms: i64,
    pub request_id: Option<String>,
}

const REVIEW_COLUMNS: &str = "id, org, name, state, snapshot_seq, created_by, created_at_ms, due_at_ms, reviewers, group_ids, default_decision, justification_required, lookback_ms, item_count, completed_at_ms, completed_by, apply_revocations";
const ITEM_COLUMNS: &str = "review_id, seq, user_key, user_email, user_name, user_status, group_id, group_name, recommendation, recommendation_reason, decision, justification, decided_by, decided_at_ms, deactivate, final_decision, apply_result, apply_status, applied_at_ms, applied_by, request_id";

fn corrupt(what: &str, value: &str) -> StoreError {
    StoreError::Corrupt(format!("review {what} {value:?}"))
}

fn list_of(text: &str) -> Result<Vec<String>, StoreError> {
    serde_json::from_str(text).map_err(|_| corrupt("list", text))
}

fn review_of(row: &AnyRow) -> Result<ReviewRow, StoreError> {
    let state: String = row.try_get("state")?;
    Ok(ReviewRow {
        id: row.try_get("id")?,
        org: row.try_get("org")?,
        name: row.try_get("name")?,
        state: ReviewState::parse(&state).ok_or_else(|| corrupt("state", &state))?,
        snapshot_seq: row.try_get("snapshot_seq")?,
        created_by: row.try_get("created_by")?,
        created_at_ms: row.try_get("created_at_ms")?,
        due_at_ms: row.try_get("due_at_ms")?,
        reviewers: list_of(&row.try_get::<String, _>("reviewers")?)?,
        group_ids: list_of(&row.try_get::<String, _>("group_ids")?)?,
        default_decision: row.try_get("default_decision")?,
        justification_required: row.try_get("justification_required")?,
        lookback_ms: row.try_get("lookback_ms")?,
        item_count: row.try_get("item_count")?,
        completed_at_ms: row.try_get("completed_at_ms")?,
        completed_by: row.try_get("completed_by")?,
        apply_revocations: row.try_get::<i64, _>("apply_revocations")? != 0,
    })
}

fn decision_of(row: &AnyRow, column: &str) -> Result<Option<Decision>, StoreError> {
    let text: Option<String> = row.try_get(column)?;
    text.map(|t| Decision::parse(&t).ok_or_else(|| corrupt(column, &t)))
        .transpose()
}

fn item_of(row: &AnyRow) -> Result<ReviewItem, StoreError> {
    let result: Option<String> = row.try_get("apply_result")?;
    Ok(ReviewItem {
        review_id: row.try_get("review_id")?,
        seq: row.try_get("seq")?,
        user_key: row.try_get("user_key")?,
        user_email: row.try_get("user_email")?,
        user_name: row.try_get("user_name")?,
        user_status: row.try_get("user_status")?,
        group_id: row.try_get("group_id")?,
        group_name: row.try_get("group_name")?,
        recommendation: row.try_get("recommendation")?,
        recommendation_reason: row.try_get("recommendation_reason")?,
        decision: decision_of(row, "decision")?,
        justification: row.try_get("justification")?,
        decided_by: row.try_get("decided_by")?,
        decided_at_ms: row.try_get("decided_at_ms")?,
        deactivate: row.try_get::<i64, _>("deactivate")? != 0,
        final_decision: decision_of(row, "final_decision")?,
        apply_result: result
            .map(|r| ApplyResult::parse(&r).ok_or_else(|| corrupt("apply result", &r)))
            .transpose()?,
        apply_status: row.try_get("apply_status")?,
        applied_at_ms: row.try_get("applied_at_ms")?,
        applied_by: row.try_get("applied_by")?,
        request_id: row.try_get("request_id")?,
    })
}

/// Items are inserted this many per statement.
const INSERT_BATCH: usize = 200;

impl Store {
    /// Creates a review and its items in one transaction; returns it as stored.
    pub async fn create_review(
        &self,
        new: &NewReview,
        items: &[NewReviewItem],
    ) -> Result<ReviewRow, StoreError> {
        let id = format!(
            "{:012x}{:08x}",
            new.created_at_ms.max(0),
            rand::random::<u32>()
        );
        let json = |v: &Vec<String>| serde_json::to_string(v).expect("strings serialize");
        let result = async {
            let mut tx = self.pool().begin().await?;
            let sql = format!(
                "INSERT INTO reviews ({REVIEW_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, NULL, NULL, 0)"
            );
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(&id)
                .bind(&new.org)
                .bind(&new.name)
                .bind(ReviewState::InProgress.as_str())
                .bind(new.snapshot_seq)
                .bind(&new.created_by)
                .bind(new.created_at_ms)
                .bind(new.due_at_ms)
                .bind(json(&new.reviewers))
                .bind(json(&new.group_ids))
                .bind(&new.default_decision)
                .bind(&new.justification_required)
                .bind(new.lookback_ms)
                .bind(items.len() as i64)
                .execute(&mut *tx)
                .await?;
            for (b, chunk) in items.chunks(INSERT_BATCH).enumerate() {
                let mut sql = String::from(
                    "INSERT INTO review_items (review_id, seq, user_key, user_email, user_name, user_status, group_id, group_name, recommendation, recommendation_reason) VALUES ",
                );
                for i in 0..chunk.len() {
                    let p = i * 10;
                    if i > 0 {
                        sql.push(',');
                    }
                    sql.push_str(&format!(
                        "(${}, ${}, ${}, ${}, ${}, ${}, ${}, ${}, ${}, ${})",
                        p + 1,
                        p + 2,
                        p + 3,
                        p + 4,
                        p + 5,
                        p + 6,
                        p + 7,
                        p + 8,
                        p + 9,
                        p + 10
                    ));
                }
                let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
                for (i, item) in chunk.iter().enumerate() {
                    let seq = (b * INSERT_BATCH + i + 1) as i64;
                    q = q
                        .bind(&id)
                        .bind(seq)
                        .bind(&item.user_key)
                        .bind(&item.user_email)
                        .bind(&item.user_name)
                        .bind(&item.user_status)
                        .bind(&item.group_id)
                        .bind(&item.group_name)
                        .bind(&item.recommendation)
                        .bind(&item.recommendation_reason);
                }
                q.execute(&mut *tx).await?;
            }
            tx.commit().await
        }
        .await;
        self.noted(result)?;
        self.review(&id)
            .await?
            .ok_or_else(|| StoreError::Corrupt(format!("review {id} does not read back")))
    }

    pub async fn review(&self, id: &str) -> Result<Option<ReviewRow>, StoreError> {
        let sql = format!("SELECT {REVIEW_COLUMNS} FROM reviews WHERE id = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id)
            .fetch_optional(self.pool())
            .await?;
        row.as_ref().map(review_of).transpose()
    }

    /// Up to `limit` reviews of `org`, newest first, older than the review `before` (its id:
    /// the keyset cursor).
    pub async fn reviews_page(
        &self,
        org: &str,
        before: Option<&str>,
        limit: i64,
    ) -> Result<Vec<ReviewRow>, StoreError> {
        let sql = format!(
            "SELECT {REVIEW_COLUMNS} FROM reviews WHERE org = $1 AND id < $2 ORDER BY id DESC LIMIT {}",
            limit.max(0)
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(org)
            .bind(before.unwrap_or("~"))
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(review_of).collect()
    }

    /// The items of review `id` with these numbers (those that exist), in one query.
    pub async fn review_items_numbered(
        &self,
        id: &str,
        seqs: &[i64],
    ) -> Result<Vec<ReviewItem>, StoreError> {
        if seqs.is_empty() {
            return Ok(Vec::new());
        }
        let marks: Vec<String> = (0..seqs.len()).map(|i| format!("${}", i + 2)).collect();
        let sql = format!(
            "SELECT {ITEM_COLUMNS} FROM review_items WHERE review_id = $1 AND seq IN ({})",
            marks.join(", ")
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id);
        for seq in seqs {
            q = q.bind(*seq);
        }
        let rows = q.fetch_all(self.pool()).await?;
        rows.iter().map(item_of).collect()
    }

    /// Up to `limit` items of review `id` matching `filter`, by number, after item `after`.
    pub async fn review_items(
        &self,
        id: &str,
        filter: &ItemFilter,
        after: i64,
        limit: i64,
    ) -> Result<Vec<ReviewItem>, StoreError> {
        let mut sql =
            format!("SELECT {ITEM_COLUMNS} FROM review_items WHERE review_id = $1 AND seq > $2");
        if filter.group_id.is_some() {
            sql.push_str(" AND group_id = $3");
        }
        match filter.decision {
            Some(Decision::NotReviewed) => sql.push_str(" AND decision IS NULL"),
            Some(d) => sql.push_str(&format!(" AND decision = '{}'", d.as_str())),
            None => {}
        }
        sql.push_str(&format!(" ORDER BY seq LIMIT {}", limit.max(0)));
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id).bind(after);
        if let Some(group) = &filter.group_id {
            q = q.bind(group);
        }
        let rows = q.fetch_all(self.pool()).await?;
        rows.iter().map(item_of).collect()
    }

    /// How many items of review `id` there are of each (decision, final decision, apply
    /// result), the values as stored (`None`: not set); one query for every count a review shows.
    #[allow(clippy::type_complexity)]
    pub async fn review_counts(
        &self,
        id: &str,
    ) -> Result<Vec<(Option<String>, Option<String>, Option<String>, i64)>, StoreError> {
        let rows = sqlx::query(
            "SELECT decision, final_decision, apply_result, COUNT(*) AS n FROM review_items \
             WHERE review_id = $1 GROUP BY decision, final_decision, apply_result",
        )
        .bind(id)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok((
                    r.try_get("decision")?,
                    r.try_get("final_decision")?,
                    r.try_get("apply_result")?,
                    r.try_get("n")?,
                ))
            })
            .collect()
    }

    /// Records decisions by `by` at `at_ms` on review `id`, in one transaction, while the
    /// review is in progress; false if it is not (nothing recorded).
    pub async fn decide_review_items(
        &self,
        id: &str,
        decisions: &[DecisionIn],
        by: &str,
        at_ms: i64,
    ) -> Result<bool, StoreError> {
        let result = async {
            let mut tx = self.pool().begin().await?;
            let open = sqlx::query("UPDATE reviews SET state = state WHERE id = $1 AND state = $2")
                .bind(id)
                .bind(ReviewState::InProgress.as_str())
                .execute(&mut *tx)
                .await?
                .rows_affected()
                == 1;
            if !open {
                return Ok(false);
            }
            for d in decisions {
                sqlx::query(
                    "UPDATE review_items SET decision = $1, justification = $2, decided_by = $3, decided_at_ms = $4, deactivate = $5 WHERE review_id = $6 AND seq = $7",
                )
                .bind(d.decision.as_str())
                .bind(&d.justification)
                .bind(by)
                .bind(at_ms)
                .bind(i64::from(d.deactivate))
                .bind(id)
                .bind(d.seq)
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await.map(|_| true)
        }
        .await;
        self.noted(result)
    }

    /// Completes review `id`: every item's final decision (`finals`, by number), the state
    /// (`Applying` when revocations are to be applied, else `Completed`), who and when. Only
    /// from `InProgress`; false otherwise (nothing changed).
    pub async fn complete_review(
        &self,
        id: &str,
        finals: &[(i64, Decision)],
        apply: bool,
        by: &str,
        at_ms: i64,
    ) -> Result<bool, StoreError> {
        let state = if apply {
            ReviewState::Applying
        } else {
            ReviewState::Completed
        };
        let result = async {
            let mut tx = self.pool().begin().await?;
            let moved = sqlx::query(
                "UPDATE reviews SET state = $1, completed_at_ms = $2, completed_by = $3, apply_revocations = $4 WHERE id = $5 AND state = $6",
            )
            .bind(state.as_str())
            .bind(at_ms)
            .bind(by)
            .bind(i64::from(apply))
            .bind(id)
            .bind(ReviewState::InProgress.as_str())
            .execute(&mut *tx)
            .await?
            .rows_affected()
                == 1;
            if !moved {
                return Ok(false);
            }
            for (seq, decision) in finals {
                sqlx::query(
                    "UPDATE review_items SET final_decision = $1 WHERE review_id = $2 AND seq = $3",
                )
                .bind(decision.as_str())
                .bind(id)
                .bind(seq)
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await.map(|_| true)
        }
        .await;
        self.noted(result)
    }

    /// Records what applying items did (by `by`).
    pub async fn record_applied(
        &self,
        id: &str,
        applied: &[Applied],
        by: &str,
    ) -> Result<(), StoreError> {
        let result = async {
            let mut tx = self.pool().begin().await?;
            for a in applied {
                sqlx::query(
                    "UPDATE review_items SET apply_result = $1, apply_status = $2, applied_at_ms = $3, applied_by = $4, request_id = $5 WHERE review_id = $6 AND seq = $7",
                )
                .bind(a.result.map(ApplyResult::as_str))
                .bind(a.status)
                .bind(a.at_ms)
                .bind(by)
                .bind(&a.request_id)
                .bind(id)
                .bind(a.seq)
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await
        }
        .await;
        self.noted(result)
    }

    /// Marks an applying review completed.
    pub async fn finish_review(&self, id: &str) -> Result<(), StoreError> {
        let result = sqlx::query("UPDATE reviews SET state = $1 WHERE id = $2 AND state = $3")
            .bind(ReviewState::Completed.as_str())
            .bind(id)
            .bind(ReviewState::Applying.as_str())
            .execute(self.pool())
            .await;
        self.noted(result).map(|_| ())
    }
}
