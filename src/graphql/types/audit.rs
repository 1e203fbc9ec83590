//! The audit log as GraphQL: `Org.auditLog` pages an organization's rows newest first by
//! sequence number, with opaque cursors; each row is an `AuditEntry` (a `Node`).

use std::time::{Duration, UNIX_EPOCH};

use async_graphql::{Context, ID, InputObject, Object, Result, SimpleObject};

use super::{DateTime, store_failed, store_of};
use crate::directory::SortKey;
use crate::graphql::connection::{AUDIT_ORDER, PageInfo, audit_cursor, page_args};
use crate::graphql::errors::bad_input;
use crate::graphql::guard::require_audit;
use crate::graphql::ids::{GlobalId, Kind};
use crate::store::{self, AuditFilter, Window};

/// One row of an organization's audit log: a write attempt through the gateway, or a system
/// action such as a refresh. Rows are hash-chained: `hash` covers `prevHash` and the row.
pub struct AuditEntry {
    // Boxed: a `Node` holds one, and the other nodes are small.
    entry: Box<store::AuditEntry>,
}

/// What a write named: a user or a group.
#[derive(SimpleObject)]
pub struct AuditTarget {
    /// `User` or `Group`.
    pub kind: String,
    /// The global id the input gave, or the e-mail address (lower-cased) for a user named so.
    pub id: String,
    /// The user's e-mail address, when known.
    pub email: Option<String>,
}

/// One request the gateway sent to the organization's SCIM service for a write.
#[derive(SimpleObject)]
#[graphql(name = "UpstreamCall")]
pub struct AuditCall {
    /// The HTTP method.
    pub method: String,
    /// The request's path at the upstream.
    pub path: String,
    /// The HTTP status of the answer; null when none came (a timeout, a lost connection).
    pub status: Option<i32>,
    /// How long the request took, in milliseconds.
    pub duration_ms: i64,
}

/// Which audit rows to show. Every condition is optional; together they must all hold.
#[derive(InputObject, Default)]
pub struct AuditLogFilter {
    /// The API key's name (as configured), or `system`, exactly.
    pub actor: Option<String>,
    /// The mutation's name (`inviteUser`) or the system action (`refresh`), exactly.
    pub action: Option<String>,
    /// A target's global id or e-mail address (case-insensitive), exactly.
    pub target: Option<String>,
    /// `SUCCESS`, `PARTIAL`, `FAILED`, `UNKNOWN`, `REFUSED` or `NOT_SENT`.
    pub outcome: Option<String>,
    /// Rows written at or after this time.
    pub since: Option<DateTime>,
    /// Rows written before this time.
    pub until: Option<DateTime>,
}

/// An edge to an audit row: the row and where it stands.
#[derive(SimpleObject)]
pub struct AuditEntryEdge {
    /// Where this edge stands; pass it as `after` or `before`.
    pub cursor: String,
    /// The audit row.
    pub node: AuditEntry,
}

/// One page of audit rows, newest first.
#[derive(SimpleObject)]
pub struct AuditEntryConnection {
    /// The rows of this page, newest first.
    pub edges: Vec<AuditEntryEdge>,
    /// Where this page stands in the whole log.
    pub page_info: Box<PageInfo>,
}

/// A row of the audit log: a write attempt through the gateway, or a system action.
#[Object]
impl AuditEntry {
    /// The row's global id, for `Query.node`.
    pub async fn id(&self) -> ID {
        let e = &self.entry;
        ID(GlobalId::new(Kind::AuditEntry, &e.record.org, &e.seq.to_string()).encode())
    }

    /// The row's position in the log (over all organizations), from 1.
    async fn seq(&self) -> i64 {
        self.entry.seq
    }

    /// When the row was written.
    async fn at(&self) -> DateTime {
        let ms = u64::try_from(self.entry.record.at_ms).unwrap_or(0);
        DateTime(UNIX_EPOCH + Duration::from_millis(ms))
    }

    /// The id of the HTTP request that made the write (also in the gateway's logs).
    async fn request_id(&self) -> &str {
        &self.entry.record.request_id
    }

    /// The API key's name, or `system`.
    async fn actor(&self) -> &str {
        &self.entry.record.actor
    }

    /// The key's role, or `system`.
    async fn role(&self) -> &str {
        &self.entry.record.role
    }

    /// The mutation's name (`inviteUser`), or a system action (`refresh`).
    async fn action(&self) -> &str {
        &self.entry.record.action
    }

    /// The users and groups the write named.
    async fn targets(&self) -> Vec<AuditTarget> {
        self.entry
            .record
            .targets
            .iter()
            .map(|t| AuditTarget {
                kind: t.kind.clone(),
                id: t.id.clone(),
                email: t.email.clone(),
            })
            .collect()
    }

    /// The input as JSON text, without secrets.
    async fn input(&self) -> &str {
        &self.entry.record.input
    }

    /// `SUCCESS`, `PARTIAL`, `FAILED`, `UNKNOWN`, `REFUSED` or `NOT_SENT`.
    async fn outcome(&self) -> &str {
        &self.entry.record.outcome
    }

    /// The code of the first user error, or null when there was none.
    async fn error_code(&self) -> Option<&str> {
        Some(self.entry.record.error_code.as_str()).filter(|c| !c.is_empty())
    }

    /// The requests the write sent upstream, in order.
    async fn calls(&self) -> Vec<AuditCall> {
        self.entry
            .record
            .calls
            .iter()
            .map(|c| AuditCall {
                method: c.method.clone(),
                path: c.path.clone(),
                status: c.status.map(i32::from),
                duration_ms: i64::try_from(c.ms).unwrap_or(i64::MAX),
            })
            .collect()
    }

    /// The hash of the row before this one (the chain's link).
    async fn prev_hash(&self) -> &str {
        &self.entry.prev_hash
    }

    /// SHA-256 over `prevHash` and this row's content, hex.
    async fn hash(&self) -> &str {
        &self.entry.hash
    }
}

/// A decoded cursor as a sequence number.
pub(crate) fn seq_of(key: Option<SortKey>, name: &str) -> Result<Option<i64>> {
    match key {
        None => Ok(None),
        Some(SortKey::Seq(s)) => i64::try_from(s)
            .map(Some)
            .map_err(|_| bad_input(format!("`{name}` is not a cursor this gateway issued"))),
        Some(SortKey::Text(_)) => Err(bad_input(format!(
            "`{name}` is not a cursor this gateway issued"
        ))),
    }
}

fn filter_of(org: &str, f: Option<AuditLogFilter>) -> AuditFilter {
    let f = f.unwrap_or_default();
    let ms = |t: Option<DateTime>| {
        t.map(|t| {
            t.0.duration_since(UNIX_EPOCH)
                .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        })
    };
    AuditFilter {
        orgs: Some(vec![org.to_owned()]),
        actor: f.actor,
        action: f.action,
        // E-mail targets are stored lower-cased; global ids never hold an `@`.
        target: f
            .target
            .map(|t| if t.contains('@') { t.to_lowercase() } else { t }),
        outcome: f.outcome,
        since_ms: ms(f.since),
        until_ms: ms(f.until),
    }
}

/// `Org.auditLog`: a page of `org`'s rows, newest first. Forward pages (`first`/`after`) walk
/// to older rows; backward ones (`last`/`before`) to newer.
pub async fn log(
    ctx: &Context<'_>,
    org: &str,
    first: Option<i32>,
    after: Option<String>,
    last: Option<i32>,
    before: Option<String>,
    filter: Option<AuditLogFilter>,
) -> Result<AuditEntryConnection> {
    let args = page_args(AUDIT_ORDER, first, after, last, before)?;
    let after = seq_of(args.after, "after")?;
    let before = seq_of(args.before, "before")?;
    let store = store_of(ctx, "the audit log")?;
    let filter = filter_of(org, filter);
    let backward = args.last.is_some();
    let size = args.last.or(args.first).unwrap_or_default();
    // Newest first: rows after a cursor are older (lower numbers), rows before it newer.
    let window = Window {
        below: after,
        above: before,
        newest_first: !backward,
    };
    let limit = i64::try_from(size).unwrap_or(i64::MAX).saturating_add(1);
    let mut rows = store
        .audit_page(&filter, window, limit)
        .await
        .map_err(store_failed("the audit log"))?;
    let more = rows.len() > size;
    rows.truncate(size);
    if backward {
        rows.reverse();
    }
    let filter = &filter;
    let exists = move |window: Window| async move {
        store
            .audit_page(filter, window, 1)
            .await
            .map(|r| !r.is_empty())
            .map_err(store_failed("the audit log"))
    };
    let (has_next_page, has_previous_page) = if backward {
        let older = match before {
            Some(b) => {
                exists(Window {
                    below: Some(b.saturating_add(1)),
                    ..Window::default()
                })
                .await?
            }
            None => false,
        };
        (older, more)
    } else {
        let newer = match after {
            Some(a) => {
                exists(Window {
                    above: Some(a.saturating_sub(1)),
                    ..Window::default()
                })
                .await?
            }
            None => false,
        };
        (more, newer)
    };
    let seq = |e: &store::AuditEntry| u64::try_from(e.seq).unwrap_or(0);
    let page_info = PageInfo::of_seq(
        AUDIT_ORDER,
        has_next_page,
        has_previous_page,
        rows.first().map(seq),
        rows.last().map(seq),
    );
    Ok(AuditEntryConnection {
        page_info: Box::new(page_info),
        edges: rows
            .into_iter()
            .map(|e| AuditEntryEdge {
                cursor: audit_cursor(seq(&e)),
                node: AuditEntry { entry: Box::new(e) },
            })
            .collect(),
    })
}

/// `Query.node` for an audit row of `org` (`key`: its sequence number); only for keys that
/// may read the log.
pub async fn entry(ctx: &Context<'_>, org: &str, key: &str) -> Result<Option<AuditEntry>> {
    require_audit(ctx)?;
    let Ok(seq) = key.parse::<i64>() else {
        return Ok(None);
    };
    let window = Window {
        above: Some(seq.saturating_sub(1)),
        below: Some(seq.saturating_add(1)),
        newest_first: false,
    };
    let rows = store_of(ctx, "the audit log")?
        .audit_page(&filter_of(org, None), window, 1)
        .await
        .map_err(store_failed("the audit log"))?;
    Ok(rows
        .into_iter()
        .next()
        .map(|e| AuditEntry { entry: Box::new(e) }))
}
