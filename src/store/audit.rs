//! The audit log: one append-only row per write attempt and per system action, each holding
//! the SHA-256 of the previous row's hash and its own canonical content, so an edited, deleted
//! or inserted row breaks the chain at that row. Pruning keeps the chain verifiable from the
//! oldest kept row: the head remembers the last pruned row's hash as the anchor.

use ring::digest::{SHA256, digest};
use serde::{Deserialize, Serialize};
use sqlx::Row;
use sqlx::any::AnyRow;

use super::{Arg, Store, StoreError, now_ms};

/// The hash before the first row.
#[cfg(test)]
const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Rows read per round trip when walking the log (export, verify): constant memory.
pub(super) const CHUNK: i64 = 1_000;

/// What a write touched: a user or a group, by key and (for users) e-mail.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Target {
    /// `user` or `group`.
    pub kind: String,
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
}

/// One upstream request a write made.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpstreamCall {
    pub method: String,
    pub path: String,
    /// The HTTP status; `None` when no answer came (a timeout, a lost connection).
    pub status: Option<u16>,
    pub ms: u64,
}

/// A row to append.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditRecord {
    /// Unix milliseconds; 0 means "now" at append.
    pub at_ms: i64,
    pub request_id: String,
    /// The API key's name, or `system`.
    pub actor: String,
    /// The key's role, or `system`.
    pub role: String,
    pub org: String,
    /// The mutation's name (`inviteUser`), or a system action (`refresh`, `intent.recovered`).
    pub action: String,
    pub targets: Vec<Target>,
    /// The input without secrets, as JSON text.
    pub input: String,
    /// `SUCCESS`, `PARTIAL`, `FAILED`, `UNKNOWN`, `REFUSED` or `NOT_SENT`.
    pub outcome: String,
    /// The first user error's code, or empty.
    pub error_code: String,
    pub calls: Vec<UpstreamCall>,
}

/// A row as stored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AuditEntry {
    pub seq: i64,
    #[serde(flatten)]
    pub record: AuditRecord,
    pub prev_hash: String,
    pub hash: String,
}

/// Which rows to read. Every condition is optional; they combine with AND.
#[derive(Clone, Debug, Default)]
pub struct AuditFilter {
    pub orgs: Option<Vec<String>>,
    pub actor: Option<String>,
    pub action: Option<String>,
    /// A target's id or e-mail, exactly.
    pub target: Option<String>,
    pub outcome: Option<String>,
    pub since_ms: Option<i64>,
    pub until_ms: Option<i64>,
}

/// Where a chain breaks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Break {
    /// The first row (or the missing row's number) that does not fit.
    pub seq: i64,
    pub reason: String,
}

/// The result of checking the chain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verified {
    pub rows: u64,
    pub first: Option<i64>,
    pub last: Option<i64>,
    pub broken: Option<Break>,
}

/// The hash of a row: SHA-256 over the previous hash and the row's content as a JSON array of
/// its stored column values (unambiguous: every string is quoted and escaped).
pub fn canonical_hash(prev_hash: &str, seq: i64, r: &AuditRecord) -> String {
    let targets = serde_json::to_string(&r.targets).unwrap_or_default();
    let calls = serde_json::to_string(&r.calls).unwrap_or_default();
    let content = serde_json::json!([
        seq,
        r.at_ms,
        r.request_id,
        r.actor,
        r.role,
        r.org,
        r.action,
        targets,
        r.input,
        r.outcome,
        r.error_code,
        calls
    ]);
    let text = format!("{prev_hash}\n{content}");
    hex(digest(&SHA256, text.as_bytes()).as_ref())
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes.iter().fold(String::with_capacity(64), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

const COLUMNS: &str = "seq, at_ms, request_id, actor, role, org, action, targets, input, outcome, error_code, calls, prev_hash, hash";
const INSERT: &str = "INSERT INTO audit_log (seq, at_ms, request_id, actor, role, org, action, targets, input, outcome, error_code, calls, prev_hash, hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)";

fn entry(row: &AnyRow) -> Result<AuditEntry, StoreError> {
    let json_err = |e: serde_json::Error| StoreError::Corrupt(format!("audit row: {e}"));
    let targets: String = row.try_get("targets")?;
    let calls: String = row.try_get("calls")?;
    Ok(AuditEntry {
        seq: row.try_get("seq")?,
        record: AuditRecord {
            at_ms: row.try_get("at_ms")?,
            request_id: row.try_get("request_id")?,
            actor: row.try_get("actor")?,
            role: row.try_get("role")?,
            org: row.try_get("org")?,
            action: row.try_get("action")?,
            targets: serde_json::from_str(&targets).map_err(json_err)?,
            input: row.try_get("input")?,
            outcome: row.try_get("outcome")?,
            error_code: row.try_get("error_code")?,
            calls: serde_json::from_str(&calls).map_err(json_err)?,
        },
        prev_hash: row.try_get("prev_hash")?,
        hash: row.try_get("hash")?,
    })
}

/// Rows above or below a sequence number, oldest or newest first.
#[derive(Clone, Copy, Debug, Default)]
pub struct Window {
    pub above: Option<i64>,
    pub below: Option<i64>,
    pub newest_first: bool,
}

impl Store {
    /// Appends one row at the head of the chain; returns its sequence number.
    pub async fn append_audit(&self, record: &AuditRecord) -> Result<i64, StoreError> {
        let started = std::time::Instant::now();
        let result = self.append_inner(record).await;
        crate::metrics::store_operation("audit_append", started, result.is_ok());
        self.noted(result)
    }

    async fn append_inner(&self, record: &AuditRecord) -> Result<i64, sqlx::Error> {
        let mut tx = self.pool().begin().await?;
        let seq = Store::append_in(&mut tx, record).await?;
        tx.commit().await?;
        Ok(seq)
    }

    /// Appends inside a caller's transaction (an intent settled with its audit row).
    pub(super) async fn append_in(
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        record: &AuditRecord,
    ) -> Result<i64, sqlx::Error> {
        let mut record = record.clone();
        if record.at_ms == 0 {
            record.at_ms = now_ms();
        }
        // Taking the head row first serialises appenders (a row lock on PostgreSQL, the write
        // lock on SQLite), so two rows never share a sequence number or a previous hash.
        let head =
            sqlx::query("UPDATE audit_head SET seq = seq + 1 WHERE id = 1 RETURNING seq, hash")
                .fetch_one(&mut **tx)
                .await?;
        let seq: i64 = head.try_get("seq")?;
        let prev: String = head.try_get("hash")?;
        let hash = canonical_hash(&prev, seq, &record);
        sqlx::query(INSERT)
            .bind(seq)
            .bind(record.at_ms)
            .bind(&record.request_id)
            .bind(&record.actor)
            .bind(&record.role)
            .bind(&record.org)
            .bind(&record.action)
            .bind(serde_json::to_string(&record.targets).unwrap_or_default())
            .bind(&record.input)
            .bind(&record.outcome)
            .bind(&record.error_code)
            .bind(serde_json::to_string(&record.calls).unwrap_or_default())
            .bind(&prev)
            .bind(&hash)
            .execute(&mut **tx)
            .await?;
        sqlx::query("UPDATE audit_head SET hash = $1 WHERE id = 1")
            .bind(&hash)
            .execute(&mut **tx)
            .await?;
        Ok(seq)
    }

    /// Up to `limit` rows matching `filter` inside `window`.
    pub async fn audit_page(
        &self,
        filter: &AuditFilter,
        window: Window,
        limit: i64,
    ) -> Result<Vec<AuditEntry>, StoreError> {
        let mut sql = format!("SELECT {COLUMNS} FROM audit_log WHERE 1 = 1");
        let mut args: Vec<Arg> = Vec::new();
        let mut cond = |sql: &mut String, template: &str, arg: Arg| {
            args.push(arg);
            sql.push_str(&template.replace('?', &format!("${}", args.len())));
        };
        if let Some(orgs) = &filter.orgs {
            if orgs.is_empty() {
                return Ok(Vec::new());
            }
            sql.push_str(" AND org IN (");
            for (i, org) in orgs.iter().enumerate() {
                if i > 0 {
                    sql.push_str(", ");
                }
                cond(&mut sql, "?", Arg::Text(org.clone()));
            }
            sql.push(')');
        }
        if let Some(actor) = &filter.actor {
            cond(&mut sql, " AND actor = ?", Arg::Text(actor.clone()));
        }
        if let Some(action) = &filter.action {
            cond(&mut sql, " AND action = ?", Arg::Text(action.clone()));
        }
        if let Some(outcome) = &filter.outcome {
            cond(&mut sql, " AND outcome = ?", Arg::Text(outcome.clone()));
        }
        if let Some(target) = &filter.target {
            // Targets are JSON; a quoted, escaped value matches an id or an e-mail exactly.
            let quoted = serde_json::to_string(target).unwrap_or_default();
            let pattern = format!("%{}%", like_escape(&quoted));
            cond(
                &mut sql,
                " AND targets LIKE ? ESCAPE '\\'",
                Arg::Text(pattern),
            );
        }
        if let Some(since) = filter.since_ms {
            cond(&mut sql, " AND at_ms >= ?", Arg::Int(since));
        }
        if let Some(until) = filter.until_ms {
            cond(&mut sql, " AND at_ms < ?", Arg::Int(until));
        }
        if let Some(above) = window.above {
            cond(&mut sql, " AND seq > ?", Arg::Int(above));
        }
        if let Some(below) = window.below {
            cond(&mut sql, " AND seq < ?", Arg::Int(below));
        }
        let order = if window.newest_first { "DESC" } else { "ASC" };
        cond(
            &mut sql,
            &format!(" ORDER BY seq {order} LIMIT ?"),
            Arg::Int(limit.max(0)),
        );
        let rows = super::bound(sql, args).fetch_all(self.pool()).await?;
        rows.iter().map(entry).collect()
    }

    /// Checks the whole chain, oldest kept row to the head, `CHUNK` rows at a time.
    pub async fn verify_audit(
        &self,
        mut progress: impl FnMut(u64),
    ) -> Result<Verified, StoreError> {
        let head =
            sqlx::query("SELECT seq, hash, pruned_through, anchor FROM audit_head WHERE id = 1")
                .fetch_one(self.pool())
                .await?;
        let head_seq: i64 = head.try_get("seq")?;
        let head_hash: String = head.try_get("hash")?;
        let pruned_through: i64 = head.try_get("pruned_through")?;
        let anchor: String = head.try_get("anchor")?;
        let mut expected_seq = pruned_through + 1;
        let mut prev = anchor;
        let mut verified = Verified {
            rows: 0,
            first: None,
            last: None,
            broken: None,
        };
        // Rows appended while this runs are past the head read above: the check stops there.
        let mut window = Window {
            below: Some(head_seq.saturating_add(1)),
            ..Window::default()
        };
        loop {
            let rows = self
                .audit_page(&AuditFilter::default(), window, CHUNK)
                .await?;
            let Some(last) = rows.last() else { break };
            window.above = Some(last.seq);
            for row in &rows {
                verified.first.get_or_insert(row.seq);
                if let Some(reason) = check_row(row, expected_seq, &prev) {
                    verified.broken = Some(Break {
                        seq: if row.seq > expected_seq {
                            expected_seq
                        } else {
                            row.seq
                        },
                        reason,
                    });
                    return Ok(verified);
                }
                verified.rows += 1;
                verified.last = Some(row.seq);
                expected_seq = row.seq + 1;
                prev.clone_from(&row.hash);
            }
            progress(verified.rows);
        }
        if expected_seq - 1 != head_seq || prev != head_hash {
            verified.broken = Some(Break {
                seq: expected_seq,
                reason: format!(
                    "the log ends at row {} but its head says {head_seq}: rows at the end were removed",
                    expected_seq - 1
                ),
            });
        }
        Ok(verified)
    }

    /// Deletes rows older than `before_ms`, keeping the chain verifiable from the oldest kept
    /// row; records the pruning as a row of its own. Returns how many rows went.
    pub async fn prune_audit(&self, before_ms: i64) -> Result<u64, StoreError> {
        let result = self.prune_inner(before_ms).await;
        let pruned = self.noted(result)?;
        if pruned > 0 {
            self.append_audit(&AuditRecord {
                actor: "system".into(),
                role: "system".into(),
                action: "audit.prune".into(),
                input: serde_json::json!({ "before_ms": before_ms, "rows": pruned }).to_string(),
                outcome: "SUCCESS".into(),
                ..AuditRecord::default()
            })
            .await?;
        }
        Ok(pruned)
    }

    async fn prune_inner(&self, before_ms: i64) -> Result<u64, sqlx::Error> {
        let mut tx = self.pool().begin().await?;
        // Only a prefix of the chain goes: the newest row older than the bound, and all before.
        let last = sqlx::query("SELECT seq, hash FROM audit_log WHERE seq = (SELECT MAX(seq) FROM audit_log WHERE at_ms < $1)")
            .bind(before_ms)
            .fetch_optional(&mut *tx)
            .await?;
        let Some(last) = last else {
            return Ok(0);
        };
        let seq: i64 = last.try_get("seq")?;
        let hash: String = last.try_get("hash")?;
        let gone = sqlx::query("DELETE FROM audit_log WHERE seq <= $1")
            .bind(seq)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        sqlx::query("UPDATE audit_head SET pruned_through = $1, anchor = $2 WHERE id = 1")
            .bind(seq)
            .bind(&hash)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(gone)
    }
}

/// Why `row` does not continue the chain, if it does not.
fn check_row(row: &AuditEntry, expected_seq: i64, prev: &str) -> Option<String> {
    if row.seq != expected_seq {
        return Some(format!(
            "row {expected_seq} is missing (the next row is {})",
            row.seq
        ));
    }
    if row.prev_hash != prev {
        return Some(format!(
            "row {} does not follow the row before it (previous hash {} expected, {} stored)",
            row.seq,
            short(prev),
            short(&row.prev_hash)
        ));
    }
    let hash = canonical_hash(&row.prev_hash, row.seq, &row.record);
    if hash != row.hash {
        return Some(format!(
            "row {} was changed after it was written (its content hashes to {}, {} stored)",
            row.seq,
            short(&hash),
            short(&row.hash)
        ));
    }
    None
}

fn short(hash: &str) -> &str {
    &hash[..hash.len().min(12)]
}

/// `%`, `_` and `\` taken literally in a LIKE pattern with `ESCAPE '\'`.
fn like_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
pub(super) fn genesis() -> &'static str {
    GENESIS
}
