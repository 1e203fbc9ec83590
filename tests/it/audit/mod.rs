//! The audit log's read side: `Org.auditLog` and `node` for admin and auditor keys, the
//! auditor role's limits, `/export/audit`, and `scimgate audit verify | export`.

mod cli;
mod export;
mod log;
mod roles;

use scimgate::store::AuditRecord;
use serde_json::{Value, json};

use crate::support::TestApp;

/// Every field of an audit row.
pub const ENTRY_FIELDS: &str = "id seq at requestId actor role action \
    targets { kind id email } input outcome errorCode \
    calls { method path status durationMs } prevHash hash";

/// `org(id: $org) { auditLog(...) }` with every paging argument and the filter as variables.
pub fn log_query() -> String {
    format!(
        "query($org: ID!, $first: Int, $after: String, $last: Int, $before: String, $filter: AuditLogFilter) {{ \
           org(id: $org) {{ auditLog(first: $first, after: $after, last: $last, before: $before, filter: $filter) {{ \
             edges {{ cursor node {{ {ENTRY_FIELDS} }} }} \
             pageInfo {{ hasNextPage hasPreviousPage startCursor endCursor }} }} }} }}"
    )
}

/// The audit log page of `org` as `key` sees it: the whole response body.
pub async fn log_as(app: &TestApp, key: &str, org: &str, mut args: Value) -> Value {
    args["org"] = json!(org);
    app.query_as(key, &log_query(), args).await
}

/// The admin's page of `acme`'s log, failing on any error: `data.org.auditLog`.
pub async fn log(app: &TestApp, args: Value) -> Value {
    let body = log_as(app, &app.key, "acme", args).await;
    assert!(body.get("errors").is_none(), "unexpected errors: {body:#}");
    body["data"]["org"]["auditLog"].clone()
}

/// The values of `field` of a page's nodes, in order.
pub fn column(page: &Value, field: &str) -> Vec<Value> {
    page["edges"]
        .as_array()
        .unwrap_or_else(|| panic!("no edges in {page:#}"))
        .iter()
        .map(|e| e["node"][field].clone())
        .collect()
}

/// A row as a test writes it straight into the gateway's store.
pub fn record(org: &str, action: &str, actor: &str, at_ms: i64) -> AuditRecord {
    AuditRecord {
        at_ms,
        request_id: format!("req-{action}"),
        actor: actor.into(),
        role: "write".into(),
        org: org.into(),
        action: action.into(),
        input: json!({ "action": action }).to_string(),
        outcome: "SUCCESS".into(),
        ..AuditRecord::default()
    }
}
