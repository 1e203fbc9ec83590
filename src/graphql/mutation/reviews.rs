//! Access review mutations: `startAccessReview` (admin keys), `decideReviewItems` and
//! `completeAccessReview` (the review's reviewers and admin keys). Each is journaled and
//! audited like every mutation; completion's revocations are audited one call at a time with
//! the review's id.

use std::time::Duration;

use async_graphql::{Context, ID, InputObject, Object, Result};
use serde::Serialize;

use super::{
    Call, UserError, UserErrorCode, WriteOptions, check_count, journal, org_of, orgs_named, payload,
};
use crate::auth::{Principal, Role};
use crate::directory::{Directories, Directory};
use crate::governance::reviews::{self, DefaultDecision, JustificationRule, ReviewError, Start};
use crate::graphql::guard::RoleGuard;
use crate::graphql::ids::{GlobalId, Kind};
use crate::graphql::types::review::{JustificationRequired, ReviewDecision, ReviewDefaultDecision};
use crate::graphql::types::{AccessReview, DateTime, store_of};
use crate::store::{DecisionIn, ReviewRow, Store, now_ms};

#[derive(Default)]
pub struct ReviewMutation;

/// Input of `startAccessReview`.
#[derive(InputObject, Serialize)]
pub struct StartAccessReviewInput {
    /// The organization (its id or slug); may be left out when the gateway serves one.
    pub org: Option<ID>,
    pub name: String,
    /// The groups to review (Group ids or upstream ids); left out or empty: every group.
    #[graphql(default)]
    pub group_ids: Vec<ID>,
    /// The API key names that may decide (keys of the `reviewer` role, or any other).
    pub reviewers: Vec<String>,
    pub due_at: Option<DateTime>,
    /// What an item nobody decided becomes at completion.
    #[graphql(default_with = "ReviewDefaultDecision::None")]
    pub default_decision: ReviewDefaultDecision,
    /// When a decision needs a justification.
    #[graphql(default_with = "JustificationRequired::Revoke")]
    pub justification_required: JustificationRequired,
    /// How long without sign-in makes a user idle, for recommendations (`30d`, `90days`).
    #[graphql(default_with = "\"30d\".to_owned()")]
    pub recommendation_lookback: String,
    #[graphql(flatten)]
    #[serde(skip)]
    pub options: WriteOptions,
}

/// One decision on one item.
#[derive(InputObject, Serialize)]
pub struct ReviewItemDecisionInput {
    pub item_id: ID,
    pub decision: ReviewDecision,
    #[graphql(default)]
    pub justification: String,
    /// With REVOKE: deactivate the user too, once every group of it in the review is revoked.
    #[graphql(default)]
    pub deactivate_user: bool,
}

/// Input of `decideReviewItems`.
#[derive(InputObject, Serialize)]
pub struct DecideReviewItemsInput {
    pub review_id: ID,
    /// Up to 100 decisions, taken all or none.
    pub decisions: Vec<ReviewItemDecisionInput>,
    #[graphql(flatten)]
    #[serde(skip)]
    pub options: WriteOptions,
}

/// Input of `completeAccessReview`.
#[derive(InputObject, Serialize)]
pub struct CompleteAccessReviewInput {
    pub review_id: ID,
    /// Send the revocations upstream now (member removal in the critical lane; deactivation
    /// where the reviewer asked for it). False: the decisions are only recorded.
    pub apply_revocations: bool,
    #[graphql(flatten)]
    #[serde(skip)]
    pub options: WriteOptions,
}

payload!(
    /// The result of `startAccessReview`.
    StartAccessReviewPayload {
        review: Option<AccessReview>,
    }
);

payload!(
    /// The result of `decideReviewItems`.
    DecideReviewItemsPayload {
        review: Option<AccessReview>,
        /// Decisions recorded.
        decided: i32,
    }
);

payload!(
    /// The result of `completeAccessReview`.
    CompleteAccessReviewPayload {
        review: Option<AccessReview>,
        /// Revocations removed upstream by this call.
        applied: i32,
        /// Revocations with nothing left to remove.
        applied_but_not_found: i32,
        /// Revocations whose outcome is unknown even after reading back.
        applied_unknown_failure: i32,
        /// Revocations refused upstream.
        not_applied: i32,
        /// Users deactivated because every group of theirs was revoked and it was asked.
        deactivated: i32,
    }
);

fn user_error(e: ReviewError, field: &[&str]) -> UserError {
    use UserErrorCode as C;
    let code = match &e {
        ReviewError::NoReviewers | ReviewError::MirrorIncomplete => C::ReviewNotStarted,
        ReviewError::UnknownGroup(_) | ReviewError::UnknownItem(_) => C::NotFound,
        ReviewError::NotInProgress(_) => C::ReviewNotInProgress,
        ReviewError::NotAReviewer => C::NotAReviewer,
        ReviewError::JustificationRequired(_) => C::JustificationRequired,
        ReviewError::Store(e) => {
            tracing::error!(error = %e, "an access review could not be stored");
            return journal::store_unavailable();
        }
    };
    UserError::new(code, field, e.to_string())
}

fn principal(ctx: &Context<'_>) -> (String, Role) {
    ctx.data_opt::<Principal>()
        .map_or(("unknown".to_owned(), Role::Reviewer), |p| {
            (p.name.clone(), p.role)
        })
}

/// The review `id` names, if the caller may act on it (its organization in scope).
async fn review_of<'a>(
    ctx: &Context<'a>,
    dirs: &'a Directories,
    id: &ID,
) -> Result<(Directory, &'a Store, ReviewRow), UserError> {
    let not_found = || {
        UserError::new(
            UserErrorCode::NotFound,
            &["input", "reviewId"],
            format!("no access review {:?}", id.as_str()),
        )
    };
    let g = GlobalId::decode(id)
        .filter(|g| g.kind == Kind::AccessReview)
        .ok_or_else(not_found)?;
    let dir = dirs.get(&g.org).cloned().ok_or_else(not_found)?;
    let store = store_of(ctx, "access reviews").map_err(|_| journal::store_unavailable())?;
    let row = store
        .review(&g.key)
        .await
        .map_err(|e| user_error(e.into(), &[]))?
        .filter(|r| r.org == g.org.as_str())
        .ok_or_else(not_found)?;
    Ok((dir, store, row))
}

/// May the key act on the review: an admin's, or one of its reviewers.
fn may_act(review: &ReviewRow, name: &str, role: Role) -> Result<(), UserError> {
    if role == Role::Admin || reviews::is_reviewer(review, name) {
        Ok(())
    } else {
        Err(user_error(
            ReviewError::NotAReviewer,
            &["input", "reviewId"],
        ))
    }
}

async fn reread(store: &Store, id: &str) -> Option<AccessReview> {
    store.review(id).await.ok().flatten().map(AccessReview::new)
}

#[Object]
impl ReviewMutation {
    /// Starts an access review: freezes a snapshot of the organization's access (trigger
    /// REVIEW) and makes one item per membership in the groups named (or every group), each
    /// with a recommendation, for the reviewers to decide. Nothing is sent upstream. Admin keys.
    #[graphql(guard = "RoleGuard(Role::Admin)")]
    async fn start_access_review(
        &self,
        ctx: &Context<'_>,
        input: StartAccessReviewInput,
    ) -> Result<StartAccessReviewPayload> {
        let dirs = ctx.data::<Directories>()?;
        let (by, _) = principal(ctx);
        Call::new(
            "startAccessReview",
            &input,
            &input.options,
            orgs_named(dirs, input.org.as_ref(), &input.group_ids),
        )
        .run(ctx, async move {
            let dir = org_of(dirs, input.org.as_ref(), &["input", "org"])?;
            let name = super::check_name(&input.name, &["input", "name"])?;
            check_count(input.group_ids.len(), &["input", "groupIds"])?;
            let mut group_ids = Vec::new();
            for (i, id) in input.group_ids.iter().enumerate() {
                let index = i.to_string();
                let field = ["input", "groupIds", index.as_str()];
                let (_, gid) = super::group_of(dirs, id, Some(&dir), &field)?;
                group_ids.push(gid.into_string());
            }
            let reviewers: Vec<String> = input
                .reviewers
                .iter()
                .map(|r| r.trim().to_owned())
                .filter(|r| !r.is_empty())
                .collect();
            let store =
                store_of(ctx, "access reviews").map_err(|_| journal::store_unavailable())?;
            let lookback_ms = super::grants::duration_of(
                &input.recommendation_lookback,
                &["input", "recommendationLookback"],
            )?;
            let start = Start {
                name: &name,
                group_ids,
                reviewers,
                due_at_ms: input.due_at.map(crate::graphql::types::grant::ms_of),
                default_decision: match input.default_decision {
                    ReviewDefaultDecision::None => DefaultDecision::None,
                    ReviewDefaultDecision::Keep => DefaultDecision::Keep,
                    ReviewDefaultDecision::Revoke => DefaultDecision::Revoke,
                    ReviewDefaultDecision::Recommendation => DefaultDecision::Recommendation,
                },
                justification: match input.justification_required {
                    JustificationRequired::Never => JustificationRule::Never,
                    JustificationRequired::Revoke => JustificationRule::Revoke,
                    JustificationRequired::SelfReview => JustificationRule::SelfReview,
                    JustificationRequired::RevokeOrSelfReview => {
                        JustificationRule::RevokeOrSelfReview
                    }
                    JustificationRequired::Always => JustificationRule::Always,
                },
                lookback: Duration::from_millis(u64::try_from(lookback_ms).unwrap_or(0)),
                by: &by,
                at_ms: now_ms(),
            };
            // Boxed: the snapshot and the items make a large future.
            let row = Box::pin(reviews::start(store, &dir, start))
                .await
                .map_err(|e| user_error(e, &["input"]))?;
            Ok(StartAccessReviewPayload::success(Some(AccessReview::new(
                row,
            ))))
        })
        .await
    }

    /// Records decisions on a review's items, all or none, while it is in progress; a later
    /// decision on an item replaces the earlier one. The review's reviewers and admin keys.
    #[graphql(guard = "RoleGuard(Role::Reviewer)")]
    async fn decide_review_items(
        &self,
        ctx: &Context<'_>,
        input: DecideReviewItemsInput,
    ) -> Result<DecideReviewItemsPayload> {
        let dirs = ctx.data::<Directories>()?;
        let (by, role) = principal(ctx);
        Call::new(
            "decideReviewItems",
            &input,
            &input.options,
            orgs_named(dirs, None, [&input.review_id]),
        )
        .run(ctx, async move {
            check_count(input.decisions.len(), &["input", "decisions"])?;
            let (_, store, review) = review_of(ctx, dirs, &input.review_id).await?;
            may_act(&review, &by, role)?;
            let mut decisions = Vec::with_capacity(input.decisions.len());
            for (i, d) in input.decisions.iter().enumerate() {
                let index = i.to_string();
                let field = ["input", "decisions", index.as_str(), "itemId"];
                let seq = GlobalId::decode(&d.item_id)
                    .filter(|g| g.kind == Kind::AccessReviewItem)
                    .and_then(|g| {
                        let (rid, seq) = g.key.rsplit_once(':')?;
                        (rid == review.id).then(|| seq.parse::<i64>().ok())?
                    })
                    .ok_or_else(|| {
                        UserError::new(
                            UserErrorCode::InvalidId,
                            &field,
                            format!("{:?} is not an item of this review", d.item_id.as_str()),
                        )
                    })?;
                if d.justification.chars().count() > 1_000 {
                    return Err(UserError::new(
                        UserErrorCode::InvalidReason,
                        &["input", "decisions", index.as_str(), "justification"],
                        "a justification is at most 1,000 characters",
                    ));
                }
                decisions.push(DecisionIn {
                    seq,
                    decision: d.decision.into(),
                    justification: d.justification.trim().to_owned(),
                    deactivate: d.deactivate_user && d.decision == ReviewDecision::Revoke,
                });
            }
            Box::pin(reviews::decide(
                store,
                &review,
                &by,
                role == Role::Admin,
                &decisions,
                now_ms(),
            ))
            .await
            .map_err(|e| user_error(e, &["input", "decisions"]))?;
            Ok(DecideReviewItemsPayload::success(
                reread(store, &review.id).await,
                decisions.len() as i32,
            ))
        })
        .await
    }

    /// Completes a review: every undecided item gets the review's default decision, and with
    /// `applyRevocations` the REVOKE items are removed upstream through the critical lane (one
    /// audited PATCH per group and 100 members) and users whose reviewer asked for it are
    /// deactivated once all their groups in the review are revoked. Each item records its
    /// apply result, the upstream's status and time, and the request id. Completing a review
    /// left applying (by a restart) resumes it. The review's reviewers and admin keys.
    #[graphql(guard = "RoleGuard(Role::Reviewer)")]
    async fn complete_access_review(
        &self,
        ctx: &Context<'_>,
        input: CompleteAccessReviewInput,
    ) -> Result<CompleteAccessReviewPayload> {
        let dirs = ctx.data::<Directories>()?;
        let (by, role) = principal(ctx);
        Call::new(
            "completeAccessReview",
            &input,
            &input.options,
            orgs_named(dirs, None, [&input.review_id]),
        )
        .run(ctx, async move {
            let (dir, store, review) = review_of(ctx, dirs, &input.review_id).await?;
            may_act(&review, &by, role)?;
            let report =
                reviews::complete(store, &dir, &review, input.apply_revocations, &by, now_ms())
                    .await
                    .map_err(|e| user_error(e, &["input", "reviewId"]))?;
            Ok(CompleteAccessReviewPayload::success(
                reread(store, &review.id).await,
                report.applied as i32,
                report.not_found as i32,
                report.unknown as i32,
                report.not_applied as i32,
                report.deactivated as i32,
            ))
        })
        .await
    }
}
