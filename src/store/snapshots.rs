//! Access snapshots: an organization's users, their status and their groups at one moment,
//! stored as one gzipped row of canonical content, hash-chained per organization. Appends
//! take the organization's head row first (a row lock on PostgreSQL, the write lock on
//! SQLite), so snapshots get `seq` 1, 2, 3… and each links the one before it, however many
//! replicas append; a scheduled append checks the newest one's time under that same lock.

use std::io::{Read, Write};

use flate2::Compression;
use flate2::read::GzDecoder;
use flate2::write::GzEncoder;
use ring::digest::{Context, SHA256, digest};
use serde::{Deserialize, Serialize};
use sqlx::Row;
use sqlx::any::AnyRow;

use super::{AuditRecord, Store, StoreError};

/// The previous hash of an organization's first snapshot (as the audit log's first row has).
pub const SNAPSHOT_GENESIS: &str =
    "0000000000000000000000000000000000000000000000000000000000000000";

/// Why a snapshot was taken.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SnapshotTrigger {
    /// By the schedule (`[orgs.reviews] snapshot_every`).
    Schedule,
    /// By `takeSnapshot`.
    Manual,
    /// Frozen by `startAccessReview` as the review's access.
    Review,
}

impl SnapshotTrigger {
    pub fn as_str(self) -> &'static str {
        match self {
            SnapshotTrigger::Schedule => "schedule",
            SnapshotTrigger::Manual => "manual",
            SnapshotTrigger::Review => "review",
        }
    }

    fn parse(s: &str) -> Option<SnapshotTrigger> {
        match s {
            "schedule" => Some(SnapshotTrigger::Schedule),
            "manual" => Some(SnapshotTrigger::Manual),
            "review" => Some(SnapshotTrigger::Review),
            _ => None,
        }
    }
}

/// A snapshot to append.
#[derive(Clone, Debug)]
pub struct NewSnapshot {
    pub org: String,
    pub taken_at_ms: i64,
    pub trigger: SnapshotTrigger,
    /// The API key's name, or `system`.
    pub taken_by: String,
    pub user_count: i64,
    pub group_count: i64,
    /// When the mirror it was taken from was fetched (`None`: it had not loaded yet).
    pub mirror_fetched_at_ms: Option<i64>,
    /// Whether that mirror held every user and group.
    pub complete: bool,
    /// The canonical encoding, uncompressed (see `governance::snapshots::Content`).
    pub content: Vec<u8>,
}

/// A snapshot as stored, without its content.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapshotRow {
    pub org: String,
    /// 1, 2, 3… per organization.
    pub seq: i64,
    pub taken_at_ms: i64,
    pub trigger: SnapshotTrigger,
    pub taken_by: String,
    pub user_count: i64,
    pub group_count: i64,
    pub mirror_fetched_at_ms: Option<i64>,
    pub complete: bool,
    /// SHA-256 of the uncompressed content, hex: equal for equal directories.
    pub content_hash: String,
    /// The hash of the organization's snapshot before this one ([`SNAPSHOT_GENESIS`] first).
    pub previous_hash: String,
    /// SHA-256 over `previous_hash`, the metadata and the uncompressed content, hex.
    pub hash: String,
    /// The content's size uncompressed and as stored (gzip).
    pub content_bytes: i64,
    pub stored_bytes: i64,
}

/// What an append did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Appended {
    Taken(SnapshotRow),
    /// A scheduled append found a snapshot newer than its period allows (another replica's).
    TooSoon {
        newest_ms: i64,
    },
}

/// Where a snapshot chain breaks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SnapshotBreak {
    pub seq: i64,
    pub reason: String,
}

pub(super) const COLUMNS: &str = "org, seq, taken_at_ms, trigger_kind, taken_by, user_count, group_count, mirror_fetched_at_ms, complete, content_hash, previous_hash, hash, content_bytes, stored_bytes";

pub(super) fn row_of(row: &AnyRow) -> Result<SnapshotRow, StoreError> {
    let trigger: String = row.try_get("trigger_kind")?;
    Ok(SnapshotRow {
        org: row.try_get("org")?,
        seq: row.try_get("seq")?,
        taken_at_ms: row.try_get("taken_at_ms")?,
        trigger: SnapshotTrigger::parse(&trigger)
            .ok_or_else(|| StoreError::Corrupt(format!("snapshot trigger {trigger:?}")))?,
        taken_by: row.try_get("taken_by")?,
        user_count: row.try_get("user_count")?,
        group_count: row.try_get("group_count")?,
        mirror_fetched_at_ms: row.try_get("mirror_fetched_at_ms")?,
        complete: row.try_get::<i64, _>("complete")? != 0,
        content_hash: row.try_get("content_hash")?,
        previous_hash: row.try_get("previous_hash")?,
        hash: row.try_get("hash")?,
        content_bytes: row.try_get("content_bytes")?,
        stored_bytes: row.try_get("stored_bytes")?,
    })
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes.iter().fold(String::with_capacity(64), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// SHA-256 of canonical content, hex.
pub fn content_hash(content: &[u8]) -> String {
    hex(digest(&SHA256, content).as_ref())
}

/// A snapshot's hash: SHA-256 over the previous hash, its metadata as a JSON array (every
/// string quoted and escaped, so the parts cannot run into each other) and its content.
pub fn snapshot_hash(
    previous: &str,
    seq: i64,
    row: &SnapshotMetaRef<'_>,
    content: &[u8],
) -> String {
    let meta = serde_json::json!([
        row.org,
        seq,
        row.taken_at_ms,
        row.trigger.as_str(),
        row.taken_by,
        row.user_count,
        row.group_count,
        row.mirror_fetched_at_ms,
        row.complete,
    ]);
    let mut ctx = Context::new(&SHA256);
    ctx.update(previous.as_bytes());
    ctx.update(b"\n");
    ctx.update(meta.to_string().as_bytes());
    ctx.update(b"\n");
    ctx.update(content);
    hex(ctx.finish().as_ref())
}

/// The metadata a snapshot's hash covers.
pub struct SnapshotMetaRef<'a> {
    pub org: &'a str,
    pub taken_at_ms: i64,
    pub trigger: SnapshotTrigger,
    pub taken_by: &'a str,
    pub user_count: i64,
    pub group_count: i64,
    pub mirror_fetched_at_ms: Option<i64>,
    pub complete: bool,
}

impl<'a> From<&'a NewSnapshot> for SnapshotMetaRef<'a> {
    fn from(n: &'a NewSnapshot) -> Self {
        SnapshotMetaRef {
            org: &n.org,
            taken_at_ms: n.taken_at_ms,
            trigger: n.trigger,
            taken_by: &n.taken_by,
            user_count: n.user_count,
            group_count: n.group_count,
            mirror_fetched_at_ms: n.mirror_fetched_at_ms,
            complete: n.complete,
        }
    }
}

impl<'a> From<&'a SnapshotRow> for SnapshotMetaRef<'a> {
    fn from(n: &'a SnapshotRow) -> Self {
        SnapshotMetaRef {
            org: &n.org,
            taken_at_ms: n.taken_at_ms,
            trigger: n.trigger,
            taken_by: &n.taken_by,
            user_count: n.user_count,
            group_count: n.group_count,
            mirror_fetched_at_ms: n.mirror_fetched_at_ms,
            complete: n.complete,
        }
    }
}

fn gzip(content: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut encoder = GzEncoder::new(Vec::with_capacity(content.len() / 4), Compression::new(6));
    encoder.write_all(content)?;
    encoder.finish()
}

pub(super) fn gunzip(stored: &[u8], expected_len: usize) -> std::io::Result<Vec<u8>> {
    let mut out = Vec::with_capacity(expected_len);
    GzDecoder::new(stored).read_to_end(&mut out)?;
    Ok(out)
}

/// Runs `f` off the async workers: compressing or hashing megabytes takes milliseconds.
pub(super) async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    match tokio::task::spawn_blocking(f).await {
        Ok(v) => v,
        Err(e) => std::panic::resume_unwind(e.into_panic()),
    }
}

impl Store {
    /// Appends a snapshot at the head of its organization's chain. With `min_gap_ms` (a
    /// scheduled snapshot's period), nothing is appended when the organization's newest
    /// snapshot is younger than that at `taken_at_ms`: checked under the head's lock, so
    /// replicas take at most one per period. With `audit`, a `system` row for it is appended
    /// to the audit log in the same transaction.
    pub async fn append_snapshot(
        &self,
        new: NewSnapshot,
        min_gap_ms: Option<i64>,
        audit: bool,
    ) -> Result<Appended, StoreError> {
        let (new, stored, chash) = blocking(move || {
            let stored = gzip(&new.content);
            let chash = content_hash(&new.content);
            (new, stored, chash)
        })
        .await;
        let stored = stored.map_err(|e| StoreError::Corrupt(format!("gzip: {e}")))?;
        let result = self
            .append_snapshot_tx(&new, &stored, &chash, min_gap_ms, audit)
            .await;
        match self.noted(result)? {
            Ok(row) => Ok(Appended::Taken(row)),
            Err(newest_ms) => Ok(Appended::TooSoon { newest_ms }),
        }
    }

    async fn append_snapshot_tx(
        &self,
        new: &NewSnapshot,
        stored: &[u8],
        chash: &str,
        min_gap_ms: Option<i64>,
        audit: bool,
    ) -> Result<Result<SnapshotRow, i64>, sqlx::Error> {
        let mut tx = self.pool().begin().await?;
        sqlx::query(
            "INSERT INTO snapshot_heads (org, seq, hash, taken_at_ms) VALUES ($1, 0, $2, 0) ON CONFLICT (org) DO NOTHING",
        )
        .bind(&new.org)
        .bind(SNAPSHOT_GENESIS)
        .execute(&mut *tx)
        .await?;
        // Taking the head row first orders appenders: no two snapshots share a `seq` or a
        // previous hash.
        let head = sqlx::query(
            "UPDATE snapshot_heads SET seq = seq + 1 WHERE org = $1 RETURNING seq, hash, taken_at_ms",
        )
        .bind(&new.org)
        .fetch_one(&mut *tx)
        .await?;
        let seq: i64 = head.try_get("seq")?;
        let previous: String = head.try_get("hash")?;
        let newest_ms: i64 = head.try_get("taken_at_ms")?;
        if let Some(gap) = min_gap_ms
            && seq > 1
            && new.taken_at_ms.saturating_sub(newest_ms) < gap
        {
            tx.rollback().await?;
            return Ok(Err(newest_ms));
        }
        let hash = snapshot_hash(&previous, seq, &new.into(), &new.content);
        let row = SnapshotRow {
            org: new.org.clone(),
            seq,
            taken_at_ms: new.taken_at_ms,
            trigger: new.trigger,
            taken_by: new.taken_by.clone(),
            user_count: new.user_count,
            group_count: new.group_count,
            mirror_fetched_at_ms: new.mirror_fetched_at_ms,
            complete: new.complete,
            content_hash: chash.to_owned(),
            previous_hash: previous,
            hash,
            content_bytes: i64::try_from(new.content.len()).unwrap_or(i64::MAX),
            stored_bytes: i64::try_from(stored.len()).unwrap_or(i64::MAX),
        };
        sqlx::query(
            "INSERT INTO snapshots (org, seq, taken_at_ms, trigger_kind, taken_by, user_count, group_count, mirror_fetched_at_ms, complete, content_hash, previous_hash, hash, content_bytes, stored_bytes, content) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)",
        )
        .bind(&row.org)
        .bind(row.seq)
        .bind(row.taken_at_ms)
        .bind(row.trigger.as_str())
        .bind(&row.taken_by)
        .bind(row.user_count)
        .bind(row.group_count)
        .bind(row.mirror_fetched_at_ms)
        .bind(i64::from(row.complete))
        .bind(&row.content_hash)
        .bind(&row.previous_hash)
        .bind(&row.hash)
        .bind(row.content_bytes)
        .bind(row.stored_bytes)
        .bind(stored)
        .execute(&mut *tx)
        .await?;
        sqlx::query("UPDATE snapshot_heads SET hash = $1, taken_at_ms = $2 WHERE org = $3")
            .bind(&row.hash)
            .bind(row.taken_at_ms.max(newest_ms))
            .bind(&row.org)
            .execute(&mut *tx)
            .await?;
        if audit {
            let record = AuditRecord {
                // Written now, like every audit row (the snapshot keeps its own time).
                at_ms: 0,
                actor: "system".into(),
                role: "system".into(),
                org: row.org.clone(),
                action: "snapshot.take".into(),
                input: serde_json::json!({
                    "seq": row.seq,
                    "trigger": row.trigger.as_str(),
                    "userCount": row.user_count,
                    "groupCount": row.group_count,
                    "complete": row.complete,
                    "hash": row.hash,
                })
                .to_string(),
                outcome: "SUCCESS".into(),
                ..AuditRecord::default()
            };
            Store::append_in(&mut tx, &record).await?;
        }
        // In the organization's event log too, in the same transaction: subscribers and
        // webhooks learn of it (a review can start from it).
        let event = super::NewEvent {
            org: row.org.clone(),
            kind: "snapshot.taken".into(),
            object_kind: "snapshot".into(),
            object_id: row.seq.to_string(),
            actor: row.taken_by.clone(),
            data: serde_json::json!({
                "seq": row.seq,
                "trigger": row.trigger.as_str(),
                "userCount": row.user_count,
                "groupCount": row.group_count,
                "complete": row.complete,
                "hash": row.hash,
            }),
            at_ms: row.taken_at_ms,
        };
        Store::append_event_in(&mut tx, &event).await?;
        tx.commit().await?;
        Ok(Ok(row))
    }
}
