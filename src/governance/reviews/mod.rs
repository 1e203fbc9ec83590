//! Access review campaigns: a review freezes a snapshot of the organization's access and makes
//! one item per membership (user × group) in the groups it covers; its reviewers decide KEEP,
//! REVOKE or DONT_KNOW with a justification; completing it settles every item's final decision
//! (an undecided one gets the review's default) and, when asked, sends the revocations through
//! the critical lane, each audited with the review's id (`apply.rs`).
//!
//! Vocabulary after Microsoft Entra ID's access reviews: decisions, recommendations, apply
//! results (`APPLIED`, `APPLIED_BUT_NOT_FOUND`, `APPLIED_UNKNOWN_FAILURE`, `NOT_APPLIED`).

mod apply;
pub mod export;
#[cfg(test)]
mod tests;

use std::collections::HashSet;
use std::time::Duration;

pub use apply::ApplyReport;

use super::snapshots::{self, Take, UserStatus};
use crate::directory::Directory;
use crate::store::{
    Appended, Decision, DecisionIn, NewReview, NewReviewItem, ReviewItem, ReviewRow, ReviewState,
    SnapshotTrigger, Store, StoreError,
};

/// What an item nobody decided becomes at completion.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DefaultDecision {
    /// Reported as NOT_REVIEWED: never silently kept or removed.
    None,
    Keep,
    Revoke,
    /// The item's recommendation (NO_INFO stays NOT_REVIEWED).
    Recommendation,
}

impl DefaultDecision {
    pub fn as_str(self) -> &'static str {
        match self {
            DefaultDecision::None => "NONE",
            DefaultDecision::Keep => "KEEP",
            DefaultDecision::Revoke => "REVOKE",
            DefaultDecision::Recommendation => "RECOMMENDATION",
        }
    }

    pub fn parse(s: &str) -> Option<DefaultDecision> {
        Some(match s {
            "NONE" => DefaultDecision::None,
            "KEEP" => DefaultDecision::Keep,
            "REVOKE" => DefaultDecision::Revoke,
            "RECOMMENDATION" => DefaultDecision::Recommendation,
            _ => return None,
        })
    }
}

/// When a decision must carry a justification.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JustificationRule {
    Never,
    /// For REVOKE decisions.
    Revoke,
    /// When the reviewer decides on its own access (its key is named by the user's e-mail).
    SelfReview,
    /// For REVOKE decisions and self-review.
    RevokeOrSelfReview,
    Always,
}

impl JustificationRule {
    pub fn as_str(self) -> &'static str {
        match self {
            JustificationRule::Never => "NEVER",
            JustificationRule::Revoke => "REVOKE",
            JustificationRule::SelfReview => "SELF_REVIEW",
            JustificationRule::RevokeOrSelfReview => "REVOKE_OR_SELF_REVIEW",
            JustificationRule::Always => "ALWAYS",
        }
    }

    pub fn parse(s: &str) -> Option<JustificationRule> {
        Some(match s {
            "NEVER" => JustificationRule::Never,
            "REVOKE" => JustificationRule::Revoke,
            "SELF_REVIEW" => JustificationRule::SelfReview,
            "REVOKE_OR_SELF_REVIEW" => JustificationRule::RevokeOrSelfReview,
            "ALWAYS" => JustificationRule::Always,
            _ => return None,
        })
    }

    fn requires(self, decision: Decision, self_review: bool) -> bool {
        let revoke = decision == Decision::Revoke;
        match self {
            JustificationRule::Never => false,
            JustificationRule::Revoke => revoke,
            JustificationRule::SelfReview => self_review,
            JustificationRule::RevokeOrSelfReview => revoke || self_review,
            JustificationRule::Always => true,
        }
    }
}

/// A review to start.
#[derive(Clone, Debug)]
pub struct Start<'a> {
    pub name: &'a str,
    /// Upstream group ids; empty: every group.
    pub group_ids: Vec<String>,
    /// The API key names that may decide.
    pub reviewers: Vec<String>,
    pub due_at_ms: Option<i64>,
    pub default_decision: DefaultDecision,
    pub justification: JustificationRule,
    pub lookback: Duration,
    /// The API key starting it.
    pub by: &'a str,
    pub at_ms: i64,
}

/// Why a review could not be started, decided or completed.
#[derive(Debug, thiserror::Error)]
pub enum ReviewError {
    #[error("a review needs at least one reviewer")]
    NoReviewers,
    #[error("the organization has no group {0}")]
    UnknownGroup(String),
    #[error("the organization's mirror has not loaded yet; start the review once it has")]
    MirrorIncomplete,
    #[error("this review is {0}; decisions are taken only while it is in progress")]
    NotInProgress(&'static str),
    #[error("this API key is not a reviewer of this review")]
    NotAReviewer,
    #[error("the review has no item {0}")]
    UnknownItem(i64),
    #[error("item {0} needs a justification for this decision")]
    JustificationRequired(i64),
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn state_name(state: ReviewState) -> &'static str {
    match state {
        ReviewState::InProgress => "in progress",
        ReviewState::Applying => "completed and applying",
        ReviewState::Completed => "completed",
    }
}

/// An item's recommendation from what the snapshot shows of its user: a deactivated user's
/// membership should go. Sign-in activity, when imported, will say more; until then an
/// active user's item has no information.
fn recommend(status: UserStatus) -> (&'static str, &'static str) {
    match status {
        UserStatus::Deactivated => ("REVOKE", "the user is deactivated"),
        UserStatus::Invited => (
            "NO_INFO",
            "the user has not accepted the invitation; no sign-in activity has been imported",
        ),
        UserStatus::Active => ("NO_INFO", "no sign-in activity has been imported"),
    }
}

/// Starts a review of `dir`'s organization: takes a snapshot (trigger `review`) and makes one
/// item per membership in the covered groups, as that snapshot records them.
pub async fn start(store: &Store, dir: &Directory, s: Start<'_>) -> Result<ReviewRow, ReviewError> {
    if s.reviewers.is_empty() {
        return Err(ReviewError::NoReviewers);
    }
    let mirror = dir.snapshot();
    if !mirror.complete {
        return Err(ReviewError::MirrorIncomplete);
    }
    for id in &s.group_ids {
        if mirror.group(id).is_none() {
            return Err(ReviewError::UnknownGroup(id.clone()));
        }
    }
    let org = dir.org_id().as_str();
    let content = snapshots::content_now(mirror.clone(), |k| dir.has_open_invite(k)).await;
    let taken = snapshots::take(
        store,
        org,
        mirror,
        |k| dir.has_open_invite(k),
        Take {
            trigger: SnapshotTrigger::Review,
            taken_by: s.by,
            taken_at_ms: s.at_ms,
            min_gap_ms: None,
            audit: false,
        },
    )
    .await?;
    let Appended::Taken(snapshot) = taken else {
        return Err(StoreError::Corrupt("a review's snapshot was refused".into()).into());
    };
    let covered: HashSet<&str> = s.group_ids.iter().map(String::as_str).collect();
    let mut items = Vec::new();
    for user in &content.users {
        let (recommendation, reason) = recommend(user.status);
        let name = format!("{} {}", user.given_name, user.family_name)
            .trim()
            .to_owned();
        for &g in &user.groups {
            let Some(group) = content.groups.get(g as usize) else {
                continue;
            };
            if !covered.is_empty() && !covered.contains(group.id.as_str()) {
                continue;
            }
            items.push(NewReviewItem {
                user_key: user.id.clone(),
                user_email: user.email.clone(),
                user_name: name.clone(),
                user_status: status_name(user.status).to_owned(),
                group_id: group.id.clone(),
                group_name: group.name.clone(),
                recommendation: recommendation.to_owned(),
                recommendation_reason: reason.to_owned(),
            });
        }
    }
    let mut reviewers = s.reviewers.clone();
    reviewers.sort();
    reviewers.dedup();
    let new = NewReview {
        org: org.to_owned(),
        name: s.name.to_owned(),
        snapshot_seq: snapshot.seq,
        created_by: s.by.to_owned(),
        created_at_ms: s.at_ms,
        due_at_ms: s.due_at_ms,
        reviewers,
        group_ids: s.group_ids.clone(),
        default_decision: s.default_decision.as_str().to_owned(),
        justification_required: s.justification.as_str().to_owned(),
        lookback_ms: i64::try_from(s.lookback.as_millis()).unwrap_or(i64::MAX),
    };
    Ok(store.create_review(&new, &items).await?)
}

fn status_name(s: UserStatus) -> &'static str {
    match s {
        UserStatus::Active => "ACTIVE",
        UserStatus::Invited => "INVITED",
        UserStatus::Deactivated => "DEACTIVATED",
    }
}

/// Whether the key named `name` may decide on `review`'s items.
pub fn is_reviewer(review: &ReviewRow, name: &str) -> bool {
    review.reviewers.iter().any(|r| r == name)
}

/// Whether deciding on `item` is its user's own access: the key's name is the user's e-mail.
pub fn self_review(item: &ReviewItem, key_name: &str) -> bool {
    item.user_email.eq_ignore_ascii_case(key_name)
}

/// Records `decisions` by the key `by` (a reviewer of the review, or `admin`), all or none:
/// every item must exist and carry the justification the review requires.
pub async fn decide(
    store: &Store,
    review: &ReviewRow,
    by: &str,
    admin: bool,
    decisions: &[DecisionIn],
    at_ms: i64,
) -> Result<(), ReviewError> {
    if !admin && !is_reviewer(review, by) {
        return Err(ReviewError::NotAReviewer);
    }
    if review.state != ReviewState::InProgress {
        return Err(ReviewError::NotInProgress(state_name(review.state)));
    }
    let rule = JustificationRule::parse(&review.justification_required)
        .unwrap_or(JustificationRule::Never);
    let seqs: Vec<i64> = decisions.iter().map(|d| d.seq).collect();
    let items: std::collections::HashMap<i64, ReviewItem> = store
        .review_items_numbered(&review.id, &seqs)
        .await?
        .into_iter()
        .map(|i| (i.seq, i))
        .collect();
    for d in decisions {
        let item = items.get(&d.seq).ok_or(ReviewError::UnknownItem(d.seq))?;
        if d.justification.trim().is_empty() && rule.requires(d.decision, self_review(item, by)) {
            return Err(ReviewError::JustificationRequired(d.seq));
        }
    }
    if !store
        .decide_review_items(&review.id, decisions, by, at_ms)
        .await?
    {
        return Err(ReviewError::NotInProgress("no longer in progress"));
    }
    Ok(())
}

/// The decision completion settles on for `item` under `default`.
pub fn final_decision(item: &ReviewItem, default: DefaultDecision) -> Decision {
    if let Some(d) = item.decision {
        return d;
    }
    match default {
        DefaultDecision::None => Decision::NotReviewed,
        DefaultDecision::Keep => Decision::Keep,
        DefaultDecision::Revoke => Decision::Revoke,
        DefaultDecision::Recommendation => match item.recommendation.as_str() {
            "KEEP" => Decision::Keep,
            "REVOKE" => Decision::Revoke,
            _ => Decision::NotReviewed,
        },
    }
}

/// Completes `review` (by the key `by`): settles every item's final decision, and with
/// `apply_revocations` sends the revocations (see `apply.rs`). Completing a review already
/// applying resumes its revocations (after a restart); a completed one is refused.
pub async fn complete(
    store: &Store,
    dir: &Directory,
    review: &ReviewRow,
    apply_revocations: bool,
    by: &str,
    at_ms: i64,
) -> Result<ApplyReport, ReviewError> {
    if review.state == ReviewState::Completed {
        return Err(ReviewError::NotInProgress("completed"));
    }
    let mut items = apply::all_items(store, &review.id).await?;
    if review.state == ReviewState::InProgress {
        let default =
            DefaultDecision::parse(&review.default_decision).unwrap_or(DefaultDecision::None);
        for item in &mut items {
            item.final_decision = Some(final_decision(item, default));
        }
        let finals: Vec<(i64, Decision)> = items
            .iter()
            .filter_map(|i| Some((i.seq, i.final_decision?)))
            .collect();
        if !store
            .complete_review(&review.id, &finals, apply_revocations, by, at_ms)
            .await?
        {
            return Err(ReviewError::NotInProgress("no longer in progress"));
        }
        if !apply_revocations {
            return Ok(ApplyReport::default());
        }
    }
    // Applying (now, or resumed after a restart): the items as completion settled them.
    let report = Box::pin(apply::apply(store, dir, review, items, by)).await?;
    store.finish_review(&review.id).await?;
    Ok(report)
}
