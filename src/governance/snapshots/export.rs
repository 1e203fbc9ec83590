//! A snapshot as evidence: CSV with one row per user × group (a user in no group gets one row
//! with empty group cells), or JSON with the snapshot's metadata and every user with its
//! groups. Values are written as stored (CSV quoting only), so a row can be checked against
//! the snapshot's content: open the CSV with formulas off, since a name could start with `=`.

use serde_json::json;

use super::content::{Content, UserStatus};
use crate::store::SnapshotRow;

/// The CSV's columns, in order.
pub const CSV_COLUMNS: [&str; 7] = [
    "user_id",
    "email",
    "given_name",
    "family_name",
    "status",
    "group_id",
    "group_name",
];

fn status(s: UserStatus) -> &'static str {
    match s {
        UserStatus::Active => "ACTIVE",
        UserStatus::Invited => "INVITED",
        UserStatus::Deactivated => "DEACTIVATED",
    }
}

fn time(ms: i64) -> String {
    let at =
        std::time::UNIX_EPOCH + std::time::Duration::from_millis(u64::try_from(ms).unwrap_or(0));
    humantime::format_rfc3339_millis(at).to_string()
}

/// The CSV of `content`: a header row, then users by id, each one's groups by id.
pub fn csv(content: &Content) -> Vec<u8> {
    let mut out = csv::Writer::from_writer(Vec::with_capacity(content.users.len() * 120));
    let write = |out: &mut csv::Writer<Vec<u8>>, cells: [&str; 7]| {
        out.write_record(cells).expect("writing to memory");
    };
    write(&mut out, CSV_COLUMNS);
    for u in &content.users {
        let cells = |out: &mut csv::Writer<Vec<u8>>, gid: &str, gname: &str| {
            let row = [
                u.id.as_str(),
                u.email.as_str(),
                u.given_name.as_str(),
                u.family_name.as_str(),
                status(u.status),
                gid,
                gname,
            ];
            write(out, row);
        };
        if u.groups.is_empty() {
            cells(&mut out, "", "");
        }
        for g in content.groups_of(u) {
            cells(&mut out, &g.id, &g.name);
        }
    }
    out.into_inner().expect("writing to memory")
}

/// The JSON of a snapshot: its metadata and every user with its groups.
pub fn json(row: &SnapshotRow, content: &Content) -> Vec<u8> {
    let users: Vec<serde_json::Value> = content
        .users
        .iter()
        .map(|u| {
            json!({
                "id": u.id,
                "email": u.email,
                "givenName": u.given_name,
                "familyName": u.family_name,
                "status": status(u.status),
                "groups": content.groups_of(u).map(|g| json!({ "id": g.id, "name": g.name })).collect::<Vec<_>>(),
            })
        })
        .collect();
    let doc = json!({
        "org": row.org,
        "seq": row.seq,
        "takenAt": time(row.taken_at_ms),
        "trigger": row.trigger.as_str().to_uppercase(),
        "takenBy": row.taken_by,
        "userCount": row.user_count,
        "groupCount": row.group_count,
        "mirrorFetchedAt": row.mirror_fetched_at_ms.map(time),
        "complete": row.complete,
        "hash": row.hash,
        "previousHash": row.previous_hash,
        "contentHash": row.content_hash,
        "groups": content.groups.iter().map(|g| json!({ "id": g.id, "name": g.name })).collect::<Vec<_>>(),
        "users": users,
    });
    serde_json::to_vec(&doc).expect("JSON serializes")
}
