//! Records as JSON and back, so a write's answer can be replayed after a restart exactly as it
//! was given (the idempotency records in the store hold them).

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

use crate::directory::{Directory, GroupRec, Source, UserRec};
use crate::scim::wire::{Group, User};

fn ms(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

fn parts(v: &Value) -> (SystemTime, Source) {
    let at = v["fetchedAtMs"]
        .as_u64()
        .map_or_else(SystemTime::now, |ms| UNIX_EPOCH + Duration::from_millis(ms));
    let source = if v["source"] == "upstream" {
        Source::Upstream
    } else {
        Source::Mirror
    };
    (at, source)
}

fn source_name(s: Source) -> &'static str {
    match s {
        Source::Mirror => "mirror",
        Source::Upstream => "upstream",
    }
}

impl Directory {
    /// A user record as JSON: the resource as the upstream sent it, when and whence.
    pub(crate) fn user_to_json(rec: &UserRec) -> Value {
        json!({
            "resource": rec.resource(),
            "fetchedAtMs": ms(rec.fetched_at),
            "source": source_name(rec.source),
        })
    }

    /// The record [`Directory::user_to_json`] wrote; `None` for anything else.
    pub(crate) fn user_from_json(&self, v: &Value) -> Option<Arc<UserRec>> {
        let user: User = serde_json::from_value(v.get("resource")?.clone()).ok()?;
        let (at, source) = parts(v);
        let key = self.key_rule().key_of(&user).into_string();
        Some(Arc::new(UserRec::new(key, u64::MAX, user, at, source)))
    }

    /// A group record as JSON, members included.
    pub(crate) fn group_to_json(rec: &GroupRec) -> Value {
        json!({
            "resource": rec.resource(),
            "fetchedAtMs": ms(rec.fetched_at),
            "source": source_name(rec.source),
        })
    }

    /// The record [`Directory::group_to_json`] wrote; `None` for anything else.
    pub(crate) fn group_from_json(&self, v: &Value) -> Option<Arc<GroupRec>> {
        let group: Group = serde_json::from_value(v.get("resource")?.clone()).ok()?;
        let (at, source) = parts(v);
        Directory::group_rec(self.key_rule(), group, u64::MAX, at, source).map(Arc::new)
    }
}
