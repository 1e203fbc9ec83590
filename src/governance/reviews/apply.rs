//! Applying a completed review: every item whose final decision is REVOKE loses its group
//! membership through the critical lane (one PATCH per group and 100 members), each call
//! audited with the review's id and recorded on its items with the upstream's status and time;
//! a user whose reviewer asked for it, and whose every group in the review was revoked, is then
//! deactivated.
//!
//! Crash-safe by its records: an item's request id is stored before its call is sent, so a
//! review resumed after a restart (completing it again) knows which removals may have gone out;
//! such an item whose user is no longer a member counts as applied, one never sent as
//! `APPLIED_BUT_NOT_FOUND`.

use std::collections::{BTreeMap, HashMap};

use super::ReviewError;
use crate::directory::{Directory, WriteError, WriteLane, traced};
use crate::keys::GroupId;
use crate::store::{
    Applied, ApplyResult, AuditRecord, Decision, ItemFilter, ReviewItem, ReviewRow, Store, Target,
    UpstreamCall, now_ms,
};

/// What applying did, item by item.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ApplyReport {
    pub applied: u32,
    pub not_found: u32,
    pub unknown: u32,
    pub not_applied: u32,
    /// Users deactivated because every group of theirs was revoked and it was asked.
    pub deactivated: u32,
}

impl ApplyReport {
    fn count(&mut self, result: ApplyResult, n: u32) {
        match result {
            ApplyResult::Applied => self.applied += n,
            ApplyResult::AppliedButNotFound => self.not_found += n,
            ApplyResult::AppliedUnknownFailure => self.unknown += n,
            ApplyResult::NotApplied => self.not_applied += n,
        }
    }
}

/// Most members one removal names.
const PER_CALL: usize = 100;

fn request_id() -> String {
    format!("rv{:016x}", rand::random::<u64>())
}

/// Every item of the review, by number.
pub(super) async fn all_items(store: &Store, review: &str) -> Result<Vec<ReviewItem>, ReviewError> {
    let mut out = Vec::new();
    let mut after = 0;
    loop {
        let page = store
            .review_items(review, &ItemFilter::default(), after, 1_000)
            .await?;
        let Some(last) = page.last() else {
            return Ok(out);
        };
        after = last.seq;
        out.extend(page);
    }
}

/// The HTTP status of the write among `calls` (the last call that is not a read-back).
fn write_status(calls: &[UpstreamCall]) -> Option<i64> {
    calls
        .iter()
        .rev()
        .find(|c| c.method != "GET")
        .and_then(|c| c.status)
        .map(i64::from)
}

/// Applies `items` (every item of `review`, final decisions settled).
pub(super) async fn apply(
    store: &Store,
    dir: &Directory,
    review: &ReviewRow,
    mut items: Vec<ReviewItem>,
    by: &str,
) -> Result<ApplyReport, ReviewError> {
    let mut report = ApplyReport::default();
    // What this call applied, by item number, for the deactivations after.
    let mut results: HashMap<i64, ApplyResult> = HashMap::new();
    let mut by_group: BTreeMap<&str, Vec<&ReviewItem>> = BTreeMap::new();
    for item in &items {
        if item.final_decision == Some(Decision::Revoke) && item.apply_result.is_none() {
            by_group.entry(&item.group_id).or_default().push(item);
        }
    }
    for (group, pending) in by_group {
        let mirror = dir.snapshot();
        let is_member = |i: &ReviewItem| {
            !mirror.complete
                || mirror
                    .group(group)
                    .is_some_and(|g| g.member_keys.iter().any(|k| k == i.user_key))
        };
        let (present, gone): (Vec<&ReviewItem>, Vec<&ReviewItem>) =
            pending.into_iter().partition(|i| is_member(i));
        let at = now_ms();
        let settled: Vec<Applied> = gone
            .iter()
            .map(|i| Applied {
                seq: i.seq,
                // Sent before a restart and gone now: that removal did it.
                result: Some(if i.request_id.is_some() {
                    ApplyResult::Applied
                } else {
                    ApplyResult::AppliedButNotFound
                }),
                status: i.apply_status,
                at_ms: at,
                request_id: i.request_id.clone(),
            })
            .collect();
        for a in &settled {
            let result = a.result.expect("set above");
            report.count(result, 1);
            results.insert(a.seq, result);
        }
        store.record_applied(&review.id, &settled, by).await?;
        for chunk in present.chunks(PER_CALL) {
            let rid = request_id();
            let before: Vec<Applied> = chunk
                .iter()
                .map(|i| Applied {
                    seq: i.seq,
                    result: None,
                    status: None,
                    at_ms: now_ms(),
                    request_id: Some(rid.clone()),
                })
                .collect();
            store.record_applied(&review.id, &before, by).await?;
            let keys: Vec<_> = chunk.iter().map(|i| dir.user_key(&i.user_key)).collect();
            let (answer, calls) = traced(
                None,
                Box::pin(dir.remove_members(&GroupId::new(group), &keys, WriteLane::Critical)),
            )
            .await;
            let (result, outcome, code) = match &answer {
                Ok(_) => (ApplyResult::Applied, "SUCCESS", ""),
                Err(WriteError::NotFound) => (ApplyResult::AppliedButNotFound, "SUCCESS", ""),
                Err(WriteError::Unknown { .. }) => (
                    ApplyResult::AppliedUnknownFailure,
                    "UNKNOWN",
                    "OUTCOME_UNKNOWN",
                ),
                Err(_) => (ApplyResult::NotApplied, "FAILED", "UPSTREAM_REJECTED"),
            };
            let status = write_status(&calls);
            let at = now_ms();
            let after: Vec<Applied> = chunk
                .iter()
                .map(|i| Applied {
                    seq: i.seq,
                    result: Some(result),
                    status,
                    at_ms: at,
                    request_id: Some(rid.clone()),
                })
                .collect();
            report.count(result, chunk.len() as u32);
            results.extend(chunk.iter().map(|i| (i.seq, result)));
            let mut targets: Vec<Target> = chunk
                .iter()
                .map(|i| Target {
                    kind: "user".into(),
                    id: i.user_key.clone(),
                    email: Some(i.user_email.clone()),
                })
                .collect();
            targets.push(Target {
                kind: "group".into(),
                id: group.to_owned(),
                email: None,
            });
            let input = serde_json::json!({
                "review": review.id,
                "items": chunk.iter().map(|i| i.seq).collect::<Vec<_>>(),
                "error": answer.as_ref().err().map(ToString::to_string),
            });
            store
                .append_audit(&AuditRecord {
                    request_id: rid.clone(),
                    actor: by.to_owned(),
                    role: "review".into(),
                    org: review.org.clone(),
                    action: "review.revoke".into(),
                    targets,
                    input: input.to_string(),
                    outcome: outcome.into(),
                    error_code: code.into(),
                    calls,
                    ..AuditRecord::default()
                })
                .await?;
            store.record_applied(&review.id, &after, by).await?;
        }
    }
    for item in &mut items {
        if let Some(result) = results.get(&item.seq) {
            item.apply_result = Some(*result);
        }
    }
    report.deactivated = Box::pin(deactivate(store, dir, review, &items, by)).await?;
    Ok(report)
}

/// Deactivates each user whose reviewer asked for it and whose every item in the review was
/// revoked and applied (or found already gone). Returns how many were deactivated.
async fn deactivate(
    store: &Store,
    dir: &Directory,
    review: &ReviewRow,
    items: &[ReviewItem],
    by: &str,
) -> Result<u32, ReviewError> {
    let mut users: HashMap<&str, (bool, bool, &str)> = HashMap::new();
    for i in items {
        let done = i.final_decision == Some(Decision::Revoke)
            && matches!(
                i.apply_result,
                Some(ApplyResult::Applied | ApplyResult::AppliedButNotFound)
            );
        let e = users
            .entry(&i.user_key)
            .or_insert((false, true, &i.user_email));
        e.0 |= i.deactivate;
        e.1 &= done;
    }
    let mut n = 0;
    let mut asked: Vec<(&str, &str)> = users
        .into_iter()
        .filter(|(_, (asked, all, _))| *asked && *all)
        .map(|(k, (_, _, email))| (k, email))
        .collect();
    asked.sort();
    for (key, email) in asked {
        let user = dir.user_key(key);
        if dir.snapshot().user_by_key(user.as_str()).is_none() {
            continue;
        }
        let rid = request_id();
        let (answer, calls) = traced(
            None,
            Box::pin(dir.deactivate_user(&user, WriteLane::Critical)),
        )
        .await;
        let (outcome, code) = match &answer {
            Ok(_) => {
                n += 1;
                ("SUCCESS", "")
            }
            Err(WriteError::Unknown { .. }) => ("UNKNOWN", "OUTCOME_UNKNOWN"),
            Err(_) => ("FAILED", "UPSTREAM_REJECTED"),
        };
        store
            .append_audit(&AuditRecord {
                request_id: rid,
                actor: by.to_owned(),
                role: "review".into(),
                org: review.org.clone(),
                action: "review.deactivate".into(),
                targets: vec![Target {
                    kind: "user".into(),
                    id: key.to_owned(),
                    email: Some(email.to_owned()),
                }],
                input: serde_json::json!({
                    "review": review.id,
                    "error": answer.as_ref().err().map(ToString::to_string),
                })
                .to_string(),
                outcome: outcome.into(),
                error_code: code.into(),
                calls,
                ..AuditRecord::default()
            })
            .await?;
    }
    Ok(n)
}
