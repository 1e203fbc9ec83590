//! Access reviews as GraphQL: `AccessReview` (a `Node`), its items (`AccessReviewItem`), and
//! `Org.accessReviews`. Admin and auditor keys see every review of their organizations; a
//! `reviewer` key sees only the reviews that name it (through `Query.accessReview`).

use async_graphql::{Context, Enum, ID, InputObject, Object, Result, SimpleObject};

use super::grant::time;
use super::{DateTime, Snapshot, store_failed, store_of};
use crate::auth::{Principal, Role};
use crate::directory::SortKey;
use crate::graphql::connection::{PageInfo, page_args};
use crate::graphql::errors::bad_input;
use crate::graphql::ids::{GlobalId, Kind, encode_cursor};
use crate::store::{self, ItemFilter, ReviewItem, ReviewRow};

pub(crate) const WHAT: &str = "access reviews";
/// Reviews, newest first by id.
pub const REVIEW_ORDER: &str = "reviews";
/// A review's items, by number.
pub const REVIEW_ITEM_ORDER: &str = "reviewItems";

/// Where a review is.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum AccessReviewState {
    /// Reviewers are deciding.
    InProgress,
    /// Completed; its revocations are being applied (completing it again resumes them after a
    /// restart).
    Applying,
    Completed,
}

/// A reviewer's decision on an item.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub enum ReviewDecision {
    Keep,
    Revoke,
    DontKnow,
}

/// An item's decision as recorded, or settled on at completion.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReviewItemDecision {
    Keep,
    Revoke,
    DontKnow,
    /// Nobody decided (and, once completed, the review's default left it so).
    NotReviewed,
}

/// What an item's recommendation says.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReviewRecommendation {
    Keep,
    Revoke,
    /// Nothing to go by (no sign-in activity has been imported for the user).
    NoInfo,
}

/// What an item nobody decided becomes at completion.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub enum ReviewDefaultDecision {
    /// Reported as NOT_REVIEWED: never silently kept or removed.
    None,
    Keep,
    Revoke,
    /// The item's recommendation (NO_INFO stays NOT_REVIEWED).
    Recommendation,
}

/// When a decision must carry a justification.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub enum JustificationRequired {
    Never,
    /// For REVOKE decisions.
    Revoke,
    /// When reviewers decide on their own access (a key named by the user's e-mail).
    SelfReview,
    RevokeOrSelfReview,
    Always,
}

/// What applying an item's final decision did.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReviewApplyResult {
    /// The membership was removed upstream.
    Applied,
    /// Nothing to remove: the user or group was gone, or the user no longer a member.
    AppliedButNotFound,
    /// The removal's outcome is unknown even after reading back.
    AppliedUnknownFailure,
    /// A revocation that was not applied (not asked for at completion, or refused upstream).
    NotApplied,
}

macro_rules! same_names {
    ($from:ty => $to:ident { $($v:ident),+ }) => {
        impl From<$from> for $to {
            fn from(v: $from) -> Self {
                match v { $(<$from>::$v => $to::$v),+ }
            }
        }
    };
}

same_names!(store::ReviewState => AccessReviewState { InProgress, Applying, Completed });
same_names!(store::Decision => ReviewItemDecision { Keep, Revoke, DontKnow, NotReviewed });
same_names!(store::ApplyResult => ReviewApplyResult {
    Applied, AppliedButNotFound, AppliedUnknownFailure, NotApplied
});

impl From<ReviewDecision> for store::Decision {
    fn from(d: ReviewDecision) -> Self {
        match d {
            ReviewDecision::Keep => store::Decision::Keep,
            ReviewDecision::Revoke => store::Decision::Revoke,
            ReviewDecision::DontKnow => store::Decision::DontKnow,
        }
    }
}

fn recommendation(s: &str) -> ReviewRecommendation {
    match s {
        "KEEP" => ReviewRecommendation::Keep,
        "REVOKE" => ReviewRecommendation::Revoke,
        _ => ReviewRecommendation::NoInfo,
    }
}

/// Counts of a review's items.
#[derive(SimpleObject, Default)]
pub struct AccessReviewCounts {
    pub total: i64,
    pub keep: i64,
    pub revoke: i64,
    pub dont_know: i64,
    /// Items nobody has decided.
    pub not_reviewed: i64,
    /// Once completed: items whose final decision is REVOKE.
    pub final_revoke: i64,
    pub applied: i64,
    pub applied_but_not_found: i64,
    pub applied_unknown_failure: i64,
    pub not_applied: i64,
}

/// An access review campaign: a frozen snapshot of the organization's access and one item per
/// membership (user × group) in the groups it covers, for its reviewers to decide.
#[derive(Clone)]
pub struct AccessReview {
    pub row: Box<ReviewRow>,
}

impl AccessReview {
    pub fn new(row: ReviewRow) -> AccessReview {
        AccessReview { row: Box::new(row) }
    }
}

#[Object]
impl AccessReview {
    /// The review's global id, for `Query.accessReview`, `Query.node` and the mutations.
    pub async fn id(&self) -> ID {
        ID(GlobalId::new(Kind::AccessReview, &self.row.org, &self.row.id).encode())
    }

    async fn name(&self) -> &str {
        &self.row.name
    }

    async fn state(&self) -> AccessReviewState {
        self.row.state.into()
    }

    async fn created_at(&self) -> DateTime {
        time(self.row.created_at_ms)
    }

    /// The API key that started it.
    async fn created_by(&self) -> &str {
        &self.row.created_by
    }

    async fn due_at(&self) -> Option<DateTime> {
        self.row.due_at_ms.map(time)
    }

    /// The API key names that may decide its items.
    async fn reviewers(&self) -> &[String] {
        &self.row.reviewers
    }

    /// The upstream ids of the groups it covers; empty: every group.
    async fn group_ids(&self) -> &[String] {
        &self.row.group_ids
    }

    async fn default_decision(&self) -> ReviewDefaultDecision {
        match self.row.default_decision.as_str() {
            "KEEP" => ReviewDefaultDecision::Keep,
            "REVOKE" => ReviewDefaultDecision::Revoke,
            "RECOMMENDATION" => ReviewDefaultDecision::Recommendation,
            _ => ReviewDefaultDecision::None,
        }
    }

    async fn justification_required(&self) -> JustificationRequired {
        match self.row.justification_required.as_str() {
            "REVOKE" => JustificationRequired::Revoke,
            "SELF_REVIEW" => JustificationRequired::SelfReview,
            "REVOKE_OR_SELF_REVIEW" => JustificationRequired::RevokeOrSelfReview,
            "ALWAYS" => JustificationRequired::Always,
            _ => JustificationRequired::Never,
        }
    }

    /// How far back sign-in activity counts for recommendations, in days.
    async fn recommendation_lookback_days(&self) -> f64 {
        self.row.lookback_ms as f64 / 86_400_000.0
    }

    async fn completed_at(&self) -> Option<DateTime> {
        self.row.completed_at_ms.map(time)
    }

    async fn completed_by(&self) -> Option<&str> {
        self.row.completed_by.as_deref()
    }

    /// Whether completion applied the revocations upstream.
    async fn apply_revocations(&self) -> bool {
        self.row.apply_revocations
    }

    /// The review page for people: `/reviews/{id}` on this gateway.
    async fn page_path(&self) -> String {
        let id = GlobalId::new(Kind::AccessReview, &self.row.org, &self.row.id).encode();
        format!("/reviews/{id}")
    }

    /// The snapshot the review froze. Admin and auditor keys only (null for a reviewer).
    async fn snapshot(&self, ctx: &Context<'_>) -> Result<Option<Snapshot>> {
        if !ctx
            .data_opt::<Principal>()
            .is_some_and(|p| p.role.reads_audit())
        {
            return Ok(None);
        }
        let row = store_of(ctx, WHAT)?
            .snapshot(&self.row.org, self.row.snapshot_seq)
            .await
            .map_err(store_failed(WHAT))?;
        Ok(row.map(|row| Snapshot { row: Box::new(row) }))
    }

    /// How many items have each decision, and once completed what applying did.
    async fn counts(&self, ctx: &Context<'_>) -> Result<AccessReviewCounts> {
        let store = store_of(ctx, WHAT)?;
        let mut c = AccessReviewCounts {
            total: self.row.item_count,
            ..AccessReviewCounts::default()
        };
        let rows = store
            .review_counts(&self.row.id)
            .await
            .map_err(store_failed(WHAT))?;
        for (decision, final_decision, applied, n) in rows {
            match decision.as_deref() {
                Some("KEEP") => c.keep += n,
                Some("REVOKE") => c.revoke += n,
                Some("DONT_KNOW") => c.dont_know += n,
                _ => c.not_reviewed += n,
            }
            if final_decision.as_deref() == Some("REVOKE") {
                c.final_revoke += n;
            }
            match applied.as_deref() {
                Some("APPLIED") => c.applied += n,
                Some("APPLIED_BUT_NOT_FOUND") => c.applied_but_not_found += n,
                Some("APPLIED_UNKNOWN_FAILURE") => c.applied_unknown_failure += n,
                Some("NOT_APPLIED") => c.not_applied += n,
                _ => {}
            }
        }
        Ok(c)
    }

    /// The items, by number; `filter` narrows them to one group or one decision.
    async fn items(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        filter: Option<ReviewItemFilter>,
    ) -> Result<AccessReviewItemConnection> {
        let args = page_args(REVIEW_ITEM_ORDER, first, after, None, None)?;
        let after = super::audit::seq_of(args.after, "after")?.unwrap_or(0);
        let size = args.first.unwrap_or_default();
        let f = filter.unwrap_or_default();
        let filter = ItemFilter {
            group_id: f.group_id,
            decision: f.decision.map(|d| match d {
                ReviewItemDecision::Keep => store::Decision::Keep,
                ReviewItemDecision::Revoke => store::Decision::Revoke,
                ReviewItemDecision::DontKnow => store::Decision::DontKnow,
                ReviewItemDecision::NotReviewed => store::Decision::NotReviewed,
            }),
        };
        let limit = i64::try_from(size).unwrap_or(i64::MAX).saturating_add(1);
        let mut rows = store_of(ctx, WHAT)?
            .review_items(&self.row.id, &filter, after, limit)
            .await
            .map_err(store_failed(WHAT))?;
        let more = rows.len() > size;
        rows.truncate(size);
        let seq = |r: &ReviewItem| u64::try_from(r.seq).unwrap_or(0);
        let page_info = PageInfo::of_seq(
            REVIEW_ITEM_ORDER,
            more,
            after > 0,
            rows.first().map(seq),
            rows.last().map(seq),
        );
        let org = self.row.org.clone();
        Ok(AccessReviewItemConnection {
            page_info: Box::new(page_info),
            edges: rows
                .into_iter()
                .map(|r| AccessReviewItemEdge {
                    cursor: encode_cursor(REVIEW_ITEM_ORDER, &SortKey::Seq(seq(&r))),
                    node: AccessReviewItem {
                        org: org.clone(),
                        row: Box::new(r),
                    },
                })
                .collect(),
        })
    }
}

/// Which items of a review to list.
#[derive(InputObject, Default)]
pub struct ReviewItemFilter {
    /// Only items of this group (its upstream id).
    pub group_id: Option<String>,
    /// Only items with this decision (NOT_REVIEWED: undecided ones).
    pub decision: Option<ReviewItemDecision>,
}

/// One decision to take: a user's membership of a group, as the review's snapshot recorded it.
#[derive(Clone)]
pub struct AccessReviewItem {
    pub org: String,
    pub row: Box<ReviewItem>,
}

#[Object]
impl AccessReviewItem {
    /// The item's global id, for `decideReviewItems`.
    async fn id(&self) -> ID {
        let key = format!("{}:{}", self.row.review_id, self.row.seq);
        ID(GlobalId::new(Kind::AccessReviewItem, &self.org, &key).encode())
    }

    /// Its number in the review: 1, 2, 3…
    async fn number(&self) -> i64 {
        self.row.seq
    }

    /// The user's global id (a `User` node while the user exists).
    async fn user_id(&self) -> ID {
        ID(GlobalId::new(Kind::User, &self.org, &self.row.user_key).encode())
    }

    async fn user_email(&self) -> &str {
        &self.row.user_email
    }

    /// Given and family name as the snapshot recorded them ("" for an invitee).
    async fn user_name(&self) -> &str {
        &self.row.user_name
    }

    /// ACTIVE, INVITED or DEACTIVATED, as the snapshot recorded it.
    async fn user_status(&self) -> &str {
        &self.row.user_status
    }

    /// The group's global id.
    async fn group_id(&self) -> ID {
        ID(GlobalId::new(Kind::Group, &self.org, &self.row.group_id).encode())
    }

    async fn group_upstream_id(&self) -> &str {
        &self.row.group_id
    }

    async fn group_name(&self) -> &str {
        &self.row.group_name
    }

    async fn recommendation(&self) -> ReviewRecommendation {
        recommendation(&self.row.recommendation)
    }

    /// Why the recommendation says what it says.
    async fn recommendation_reason(&self) -> &str {
        &self.row.recommendation_reason
    }

    /// The reviewer's decision (NOT_REVIEWED until one is taken).
    async fn decision(&self) -> ReviewItemDecision {
        self.row
            .decision
            .map_or(ReviewItemDecision::NotReviewed, Into::into)
    }

    async fn justification(&self) -> &str {
        &self.row.justification
    }

    /// The API key that decided.
    async fn decided_by(&self) -> Option<&str> {
        self.row.decided_by.as_deref()
    }

    async fn decided_at(&self) -> Option<DateTime> {
        self.row.decided_at_ms.map(time)
    }

    /// Whether the reviewer asked for the user's deactivation once every group of it in the
    /// review is revoked.
    async fn deactivate_user(&self) -> bool {
        self.row.deactivate
    }

    /// The decision completion settled on (null before completion).
    async fn final_decision(&self) -> Option<ReviewItemDecision> {
        self.row.final_decision.map(Into::into)
    }

    /// What applying it did (null: nothing to apply, or not yet applied).
    async fn apply_result(&self) -> Option<ReviewApplyResult> {
        self.row.apply_result.map(Into::into)
    }

    /// The upstream's HTTP status for the revoking call.
    async fn apply_status(&self) -> Option<i64> {
        self.row.apply_status
    }

    /// When the upstream confirmed the revocation (or it was found already done).
    async fn applied_at(&self) -> Option<DateTime> {
        self.row.applied_at_ms.map(time)
    }

    /// The API key that completed the review and so applied it.
    async fn applied_by(&self) -> Option<&str> {
        self.row.applied_by.as_deref()
    }

    /// The request id of the revoking call (its audit row's `requestId`).
    async fn request_id(&self) -> Option<&str> {
        self.row.request_id.as_deref()
    }
}

#[derive(SimpleObject)]
pub struct AccessReviewItemEdge {
    pub cursor: String,
    pub node: AccessReviewItem,
}

/// A forward page of a review's items.
#[derive(SimpleObject)]
pub struct AccessReviewItemConnection {
    pub edges: Vec<AccessReviewItemEdge>,
    pub page_info: Box<PageInfo>,
}

#[derive(SimpleObject)]
pub struct AccessReviewEdge {
    pub cursor: String,
    pub node: AccessReview,
}

/// A forward page of reviews, newest first.
#[derive(SimpleObject)]
pub struct AccessReviewConnection {
    pub edges: Vec<AccessReviewEdge>,
    pub page_info: Box<PageInfo>,
}

/// `Org.accessReviews`: a forward page of `org`'s reviews, newest first.
pub async fn list(
    ctx: &Context<'_>,
    org: &str,
    first: Option<i32>,
    after: Option<String>,
) -> Result<AccessReviewConnection> {
    let args = page_args(REVIEW_ORDER, first, after, None, None)?;
    let after = match args.after {
        None => None,
        Some(SortKey::Text(mut k)) if k.len() == 1 => k.pop(),
        Some(_) => return Err(bad_input("`after` is not a cursor this gateway issued")),
    };
    let size = args.first.unwrap_or_default();
    let limit = i64::try_from(size).unwrap_or(i64::MAX).saturating_add(1);
    let mut rows = store_of(ctx, WHAT)?
        .reviews_page(org, after.as_deref(), limit)
        .await
        .map_err(store_failed(WHAT))?;
    let more = rows.len() > size;
    rows.truncate(size);
    let page_info = PageInfo::of_ids(
        REVIEW_ORDER,
        more,
        after.is_some(),
        rows.first().map(|r| r.id.clone()),
        rows.last().map(|r| r.id.clone()),
    );
    Ok(AccessReviewConnection {
        page_info: Box::new(page_info),
        edges: rows
            .into_iter()
            .map(|r| AccessReviewEdge {
                cursor: encode_cursor(REVIEW_ORDER, &SortKey::Text(vec![r.id.clone()])),
                node: AccessReview::new(r),
            })
            .collect(),
    })
}

/// The review `key` of `org` if the caller may see it: an admin's or auditor's key (whose
/// scope the organization is in, checked by the caller), or a reviewer it names.
pub async fn visible(ctx: &Context<'_>, org: &str, key: &str) -> Result<Option<AccessReview>> {
    let Some(principal) = ctx.data_opt::<Principal>() else {
        return Ok(None);
    };
    let row = store_of(ctx, WHAT)?
        .review(key)
        .await
        .map_err(store_failed(WHAT))?;
    Ok(row
        .filter(|r| r.org == org)
        .filter(|r| {
            principal.role.reads_audit()
                || (principal.role == Role::Reviewer
                    && crate::governance::reviews::is_reviewer(r, &principal.name))
        })
        .map(AccessReview::new))
}
