//! A review as evidence: a header block (organization, review, period, generated at, the
//! snapshot's hash and the mirror's age when it was taken, gateway version), then one row per
//! item — review and item ids, principal, group, recommendation, decision, justification,
//! reviewer and decision time, the final decision, who applied it and when, the apply result,
//! the upstream's status and confirmation time, and the request id of the revoking call.
//!
//! CSV puts the header block first as `# key,value` lines (read with `comment='#'` or skip
//! them), then the column row; JSON Lines puts it on the first line (`{"header": {...}}`), then
//! one item per line. Both are written a page of items at a time.

use serde_json::{Value, json};

use crate::store::{ReviewItem, ReviewRow, SnapshotRow};

/// The CSV's columns, in order.
pub const COLUMNS: [&str; 19] = [
    "review_id",
    "item_id",
    "user_id",
    "user_email",
    "user_name",
    "group_id",
    "group_name",
    "recommendation",
    "decision",
    "justification",
    "reviewer",
    "decided_at",
    "final_decision",
    "applied_by",
    "applied_at",
    "apply_result",
    "upstream_status",
    "upstream_confirmed_at",
    "request_id",
];

fn time(ms: i64) -> String {
    let at =
        std::time::UNIX_EPOCH + std::time::Duration::from_millis(u64::try_from(ms).unwrap_or(0));
    humantime::format_rfc3339_millis(at).to_string()
}

fn opt_time(ms: Option<i64>) -> String {
    ms.map(time).unwrap_or_default()
}

/// The header block's fields, in order.
pub fn header(
    review: &ReviewRow,
    snapshot: Option<&SnapshotRow>,
    now_ms: i64,
) -> Vec<(&'static str, String)> {
    let age = snapshot.and_then(|s| s.mirror_fetched_at_ms.map(|f| (s.taken_at_ms - f) / 1_000));
    vec![
        ("document", "scimgate access review evidence".to_owned()),
        ("organization", review.org.clone()),
        ("review", review.name.clone()),
        ("review_id", review.id.clone()),
        ("state", review.state.as_str().to_owned()),
        ("reviewers", review.reviewers.join(" ")),
        ("period_start", time(review.created_at_ms)),
        ("period_end", opt_time(review.completed_at_ms)),
        ("due_at", opt_time(review.due_at_ms)),
        ("generated_at", time(now_ms)),
        ("snapshot_seq", review.snapshot_seq.to_string()),
        (
            "snapshot_hash",
            snapshot.map(|s| s.hash.clone()).unwrap_or_default(),
        ),
        (
            "snapshot_previous_hash",
            snapshot
                .map(|s| s.previous_hash.clone())
                .unwrap_or_default(),
        ),
        (
            "snapshot_taken_at",
            snapshot.map(|s| time(s.taken_at_ms)).unwrap_or_default(),
        ),
        (
            "mirror_age_seconds_at_snapshot",
            age.map(|a| a.to_string()).unwrap_or_default(),
        ),
        ("items", review.item_count.to_string()),
        ("gateway_version", env!("CARGO_PKG_VERSION").to_owned()),
    ]
}

fn cells(review: &ReviewRow, i: &ReviewItem) -> [String; 19] {
    let decision = i.decision.map_or("NOT_REVIEWED", |d| d.as_str());
    [
        review.id.clone(),
        i.seq.to_string(),
        i.user_key.clone(),
        i.user_email.clone(),
        i.user_name.clone(),
        i.group_id.clone(),
        i.group_name.clone(),
        i.recommendation.clone(),
        decision.to_owned(),
        i.justification.clone(),
        i.decided_by.clone().unwrap_or_default(),
        opt_time(i.decided_at_ms),
        i.final_decision
            .map(|d| d.as_str().to_owned())
            .unwrap_or_default(),
        i.applied_by.clone().unwrap_or_default(),
        opt_time(review.completed_at_ms.filter(|_| i.applied_by.is_some())),
        i.apply_result
            .map(|r| r.as_str().to_owned())
            .unwrap_or_default(),
        i.apply_status.map(|s| s.to_string()).unwrap_or_default(),
        opt_time(i.applied_at_ms.filter(|_| i.apply_result.is_some())),
        i.request_id.clone().unwrap_or_default(),
    ]
}

/// The CSV's header block and column row.
pub fn csv_head(header: &[(&'static str, String)]) -> Vec<u8> {
    let mut out = csv::WriterBuilder::new()
        .flexible(true)
        .from_writer(Vec::new());
    for (k, v) in header {
        out.write_record([format!("# {k}").as_str(), v.as_str()])
            .expect("writing to memory");
    }
    out.write_record(COLUMNS).expect("writing to memory");
    out.into_inner().expect("writing to memory")
}

/// CSV rows of `items`.
pub fn csv_rows(review: &ReviewRow, items: &[ReviewItem]) -> Vec<u8> {
    let mut out = csv::Writer::from_writer(Vec::with_capacity(items.len() * 200));
    for i in items {
        out.write_record(cells(review, i))
            .expect("writing to memory");
    }
    out.into_inner().expect("writing to memory")
}

/// The JSON Lines header line.
pub fn json_head(header: &[(&'static str, String)]) -> Vec<u8> {
    let fields: serde_json::Map<String, Value> = header
        .iter()
        .map(|(k, v)| ((*k).to_owned(), Value::String(v.clone())))
        .collect();
    let mut line = serde_json::to_vec(&json!({ "header": fields })).expect("JSON serializes");
    line.push(b'\n');
    line
}

/// JSON Lines of `items`, one object per item keyed by the CSV's column names.
pub fn json_rows(review: &ReviewRow, items: &[ReviewItem]) -> Vec<u8> {
    let mut out = Vec::with_capacity(items.len() * 400);
    for i in items {
        let row: serde_json::Map<String, Value> = COLUMNS
            .iter()
            .zip(cells(review, i))
            .map(|(k, v)| ((*k).to_owned(), Value::String(v)))
            .collect();
        serde_json::to_writer(&mut out, &row).expect("JSON serializes");
        out.push(b'\n');
    }
    out
}
