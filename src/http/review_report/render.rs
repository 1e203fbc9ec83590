//! The report's HTML: one document, its style inline, every value escaped.

use std::fmt::Write as _;
use std::time::{Duration, UNIX_EPOCH};

use super::Report;
use crate::governance::snapshots::ChangeKind;
use crate::http::review_page::escape;
use crate::store::{ApplyResult, Decision, ReviewItem, SnapshotRow};

/// At most this many changes are listed one by one (the totals count them all).
const CHANGES_LISTED: usize = 2_000;

const STYLE: &str = "
body { font: 12px/1.4 system-ui, sans-serif; color: #111; margin: 2em; }
h1 { font-size: 1.6em; margin: 0; } h2 { font-size: 1.2em; margin: 1.6em 0 .4em; border-bottom: 1px solid #999; }
table { border-collapse: collapse; width: 100%; margin: .4em 0; }
th, td { border: 1px solid #bbb; padding: .2em .4em; text-align: left; vertical-align: top; }
th { background: #eee; } td.num { text-align: right; } code { font-size: .95em; word-break: break-all; }
dl { display: grid; grid-template-columns: max-content auto; gap: .15em 1em; } dt { font-weight: 600; } dd { margin: 0; }
.ok { color: #060; } .bad { color: #a00; font-weight: 600; } .muted { color: #666; }
@page { size: A4; margin: 14mm; }
@media print {
  body { margin: 0; font-size: 10px; }
  thead { display: table-header-group; }
  tr { break-inside: avoid; page-break-inside: avoid; }
  h2 { break-after: avoid; page-break-after: avoid; }
  th { background: #eee !important; -webkit-print-color-adjust: exact; print-color-adjust: exact; }
}
";

fn time(ms: i64) -> String {
    let t = UNIX_EPOCH + Duration::from_millis(u64::try_from(ms).unwrap_or(0));
    humantime::format_rfc3339_millis(t).to_string()
}

fn opt_time(ms: Option<i64>) -> String {
    ms.map_or_else(|| "—".to_owned(), time)
}

fn age(ms: i64) -> String {
    let secs = u64::try_from(ms.max(0) / 1000).unwrap_or(0);
    humantime::format_duration(Duration::from_secs(secs)).to_string()
}

fn decision(d: Option<Decision>) -> &'static str {
    d.map_or("NOT_REVIEWED", Decision::as_str)
}

fn kind(k: ChangeKind) -> &'static str {
    match k {
        ChangeKind::UserAdded => "user added",
        ChangeKind::UserRemoved => "user removed",
        ChangeKind::UserDeactivated => "user deactivated",
        ChangeKind::UserReactivated => "user reactivated",
        ChangeKind::UserInvited => "user invited",
        ChangeKind::MembershipGranted => "membership granted",
        ChangeKind::MembershipRevoked => "membership revoked",
    }
}

/// Writes `<tr>` with each cell escaped.
fn row(out: &mut String, cells: &[&str]) {
    out.push_str("<tr>");
    for c in cells {
        let _ = write!(out, "<td>{}</td>", escape(c));
    }
    out.push_str("</tr>\n");
}

fn head(out: &mut String, cells: &[&str]) {
    out.push_str("<thead><tr>");
    for c in cells {
        let _ = write!(out, "<th>{}</th>", escape(c));
    }
    out.push_str("</tr></thead>\n");
}

fn field(out: &mut String, name: &str, value: &str) {
    let _ = write!(out, "<dt>{}</dt><dd>{}</dd>", escape(name), escape(value));
}

fn counts(out: &mut String, items: &[ReviewItem]) {
    let count = |f: &dyn Fn(&ReviewItem) -> bool| items.iter().filter(|i| f(i)).count().to_string();
    let by = |d: Decision| count(&|i: &ReviewItem| i.decision == Some(d));
    let applied = |a: ApplyResult| count(&|i: &ReviewItem| i.apply_result == Some(a));
    out.push_str("<h2 id=\"summary\">Summary</h2>\n<table class=\"counts\">");
    head(out, &["Items", "Count"]);
    let lines: [(&str, String); 10] = [
        ("Total", items.len().to_string()),
        ("Keep", by(Decision::Keep)),
        ("Revoke", by(Decision::Revoke)),
        ("Don't know", by(Decision::DontKnow)),
        (
            "Not reviewed",
            count(&|i: &ReviewItem| i.decision.is_none()),
        ),
        (
            "Final decision revoke",
            count(&|i: &ReviewItem| i.final_decision == Some(Decision::Revoke)),
        ),
        ("Applied", applied(ApplyResult::Applied)),
        (
            "Applied but not found",
            applied(ApplyResult::AppliedButNotFound),
        ),
        (
            "Applied, unknown failure",
            applied(ApplyResult::AppliedUnknownFailure),
        ),
        ("Not applied", applied(ApplyResult::NotApplied)),
    ];
    for (name, n) in &lines {
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td class=\"num\" data-count=\"{}\">{}</td></tr>",
            escape(name),
            escape(&name.to_lowercase().replace([' ', ',', '\''], "-")),
            escape(n)
        );
    }
    out.push_str("</table>\n");
}

fn changes(out: &mut String, r: &Report) {
    out.push_str("<h2 id=\"changes\">Changes since the previous review</h2>\n");
    let (Some((prev, prev_snap)), Some(diff)) = (&r.previous, &r.diff) else {
        out.push_str(
            "<p class=\"none\">None: this is the organization's first access review.</p>\n",
        );
        return;
    };
    let _ = writeln!(
        out,
        "<p>From the snapshot of review “{}” (snapshot {}, taken {}) to this review's.</p>",
        escape(&prev.name),
        prev.snapshot_seq,
        escape(&opt_time(prev_snap.as_ref().map(|s| s.taken_at_ms)))
    );
    let t = &diff.totals;
    out.push_str("<table>");
    head(
        out,
        &[
            "Users added",
            "Users removed",
            "Deactivated",
            "Reactivated",
            "Invited",
            "Memberships granted",
            "Memberships revoked",
        ],
    );
    row(
        out,
        &[
            &t.users_added.to_string(),
            &t.users_removed.to_string(),
            &t.users_deactivated.to_string(),
            &t.users_reactivated.to_string(),
            &t.users_invited.to_string(),
            &t.memberships_granted.to_string(),
            &t.memberships_revoked.to_string(),
        ],
    );
    out.push_str("</table>\n");
    if diff.changes.is_empty() {
        out.push_str("<p class=\"none\">No changes.</p>\n");
        return;
    }
    out.push_str("<table class=\"changes\">");
    head(out, &["Change", "User", "Group"]);
    for c in diff.changes.iter().take(CHANGES_LISTED) {
        let group = match (&c.group_name, &c.group_id) {
            (Some(name), Some(id)) => format!("{name} ({id})"),
            _ => String::new(),
        };
        row(out, &[kind(c.kind), &c.email, &group]);
    }
    out.push_str("</table>\n");
    if diff.changes.len() > CHANGES_LISTED {
        let _ = writeln!(
            out,
            "<p class=\"muted\">… and {} more changes (see the snapshot diff export).</p>",
            diff.changes.len() - CHANGES_LISTED
        );
    }
}

fn decisions(out: &mut String, items: &[ReviewItem]) {
    out.push_str("<h2 id=\"decisions\">Decisions</h2>\n<table class=\"decisions\">");
    head(
        out,
        &[
            "#",
            "User",
            "Group",
            "Recommendation",
            "Decision",
            "Final",
            "Reviewer",
            "Decided at",
            "Justification",
            "Apply result",
            "Applied at",
            "Request id",
        ],
    );
    for i in items {
        let user = if i.user_name.is_empty() {
            i.user_email.clone()
        } else {
            format!("{} <{}>", i.user_name, i.user_email)
        };
        let recommendation = if i.recommendation_reason.is_empty() {
            i.recommendation.clone()
        } else {
            format!("{} ({})", i.recommendation, i.recommendation_reason)
        };
        let applied = match (i.apply_result, i.apply_status) {
            (Some(a), Some(s)) => format!("{} (HTTP {s})", a.as_str()),
            (Some(a), None) => a.as_str().to_owned(),
            (None, _) => "—".to_owned(),
        };
        row(
            out,
            &[
                &i.seq.to_string(),
                &user,
                &format!("{} ({})", i.group_name, i.group_id),
                &recommendation,
                decision(i.decision),
                i.final_decision.map_or("—", Decision::as_str),
                i.decided_by.as_deref().unwrap_or("—"),
                &opt_time(i.decided_at_ms),
                &i.justification,
                &applied,
                &opt_time(i.applied_at_ms),
                i.request_id.as_deref().unwrap_or("—"),
            ],
        );
    }
    out.push_str("</table>\n");
}

fn chain(out: &mut String, chain: &[SnapshotRow]) {
    out.push_str("<h2 id=\"chain\">Chain of snapshot hashes</h2>\n");
    out.push_str(
        "<p>Each snapshot's hash covers the previous snapshot's hash, its metadata and its content; \
         a link holds when a snapshot's previous hash is the hash of the one before it.</p>\n<table class=\"chain\">",
    );
    head(
        out,
        &[
            "Snapshot",
            "Taken at",
            "Trigger",
            "Previous hash",
            "Hash",
            "Link",
        ],
    );
    let mut before: Option<&SnapshotRow> = None;
    for s in chain {
        let link = match before {
            Some(b) if b.seq + 1 == s.seq && b.hash == s.previous_hash => {
                "<span class=\"ok\">holds</span>"
            }
            Some(b) if b.seq + 1 == s.seq => "<span class=\"bad\">BROKEN</span>",
            _ => "<span class=\"muted\">—</span>",
        };
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td><code>{}</code></td><td><code>{}</code></td><td>{link}</td></tr>",
            s.seq,
            escape(&time(s.taken_at_ms)),
            escape(s.trigger.as_str()),
            escape(&s.previous_hash),
            escape(&s.hash),
        );
        before = Some(s);
    }
    out.push_str("</table>\n");
}

/// The whole document.
pub(crate) fn html(r: &Report) -> String {
    let v = &r.review;
    let mut out = String::with_capacity(4_096 + r.items.len() * 400);
    let _ = write!(
        out,
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>Access review report: {}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n",
        escape(&v.name)
    );
    let _ = writeln!(
        out,
        "<h1>Access review report: {}</h1>\n<dl class=\"header\">",
        escape(&v.name)
    );
    field(&mut out, "Organization", &v.org);
    field(&mut out, "Review", &v.name);
    field(&mut out, "Review id", &v.id);
    field(&mut out, "State", v.state.as_str());
    field(
        &mut out,
        "Created",
        &format!("{} by {}", time(v.created_at_ms), v.created_by),
    );
    field(&mut out, "Due", &opt_time(v.due_at_ms));
    let completed = match (&v.completed_at_ms, &v.completed_by) {
        (Some(at), Some(by)) => format!("{} by {by}", time(*at)),
        (Some(at), None) => time(*at),
        _ => "not completed".to_owned(),
    };
    field(&mut out, "Completed", &completed);
    field(
        &mut out,
        "Revocations applied",
        if v.apply_revocations { "yes" } else { "no" },
    );
    field(&mut out, "Reviewers", &v.reviewers.join(", "));
    field(&mut out, "Generated at", &time(r.generated_at_ms));
    field(&mut out, "Gateway version", r.version);
    match &r.snapshot {
        Some(s) => {
            field(
                &mut out,
                "Snapshot",
                &format!(
                    "{} (taken {}, {} users, {} groups{})",
                    s.seq,
                    time(s.taken_at_ms),
                    s.user_count,
                    s.group_count,
                    if s.complete {
                        ""
                    } else {
                        ", mirror incomplete"
                    }
                ),
            );
            field(&mut out, "Snapshot hash", &s.hash);
            field(&mut out, "Previous hash", &s.previous_hash);
            let mirror_age = s
                .mirror_fetched_at_ms
                .map_or_else(|| "unknown".to_owned(), |f| age(s.taken_at_ms - f));
            field(&mut out, "Mirror's age when taken", &mirror_age);
        }
        None => field(&mut out, "Snapshot", "pruned (no longer kept)"),
    }
    out.push_str("</dl>\n");
    counts(&mut out, &r.items);
    changes(&mut out, r);
    decisions(&mut out, &r.items);
    chain(&mut out, &r.chain);
    out.push_str("</body>\n</html>\n");
    out
}
