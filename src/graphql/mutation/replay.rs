//! Payloads as JSON and back: what an idempotency record in the store holds, so a retry after
//! a restart gets the answer the first call got (its objects as they were then, not as they
//! read now: a deactivated Amplitude user no longer reads at all).

use async_graphql::ID;
use serde_json::{Value, json};

use super::{UserError, UserErrorCode, WriteOutcome};
use crate::directory::{Directories, Directory, DirectoryReads};
use crate::graphql::types::{AccessReview, Grant, Group, Org, Snapshot, User, WebhookDelivery};

/// A payload field that can be kept and rebuilt.
pub trait Stored: Sized {
    fn save(&self) -> Value;
    /// `None` when `v` is not what `save` wrote (or names an organization no longer served).
    fn load(v: &Value, dirs: &Directories) -> Option<Self>;
}

impl Stored for bool {
    fn save(&self) -> Value {
        json!(self)
    }
    fn load(v: &Value, _: &Directories) -> Option<Self> {
        v.as_bool()
    }
}

impl Stored for i32 {
    fn save(&self) -> Value {
        json!(self)
    }
    fn load(v: &Value, _: &Directories) -> Option<Self> {
        v.as_i64().and_then(|n| i32::try_from(n).ok())
    }
}

impl Stored for f64 {
    fn save(&self) -> Value {
        json!(self)
    }
    fn load(v: &Value, _: &Directories) -> Option<Self> {
        v.as_f64()
    }
}

impl Stored for String {
    fn save(&self) -> Value {
        json!(self)
    }
    fn load(v: &Value, _: &Directories) -> Option<Self> {
        v.as_str().map(str::to_owned)
    }
}

impl Stored for ID {
    fn save(&self) -> Value {
        json!(self.as_str())
    }
    fn load(v: &Value, _: &Directories) -> Option<Self> {
        v.as_str().map(|s| ID(s.to_owned()))
    }
}

impl<T: Stored> Stored for Option<T> {
    fn save(&self) -> Value {
        self.as_ref().map_or(Value::Null, Stored::save)
    }
    fn load(v: &Value, dirs: &Directories) -> Option<Self> {
        if v.is_null() {
            Some(None)
        } else {
            T::load(v, dirs).map(Some)
        }
    }
}

impl<T: Stored> Stored for Vec<T> {
    fn save(&self) -> Value {
        Value::Array(self.iter().map(Stored::save).collect())
    }
    fn load(v: &Value, dirs: &Directories) -> Option<Self> {
        v.as_array()?.iter().map(|x| T::load(x, dirs)).collect()
    }
}

impl Stored for User {
    fn save(&self) -> Value {
        let dir = self.dir();
        json!({ "org": dir.org_id().as_str(), "rec": Directory::user_to_json(self.rec()) })
    }
    fn load(v: &Value, dirs: &Directories) -> Option<Self> {
        let dir = dirs.get(v["org"].as_str()?)?;
        let rec = dir.user_from_json(&v["rec"])?;
        Some(User::new(dir.clone(), rec))
    }
}

impl Stored for Group {
    fn save(&self) -> Value {
        let dir = self.dir();
        json!({ "org": dir.org_id().as_str(), "rec": Directory::group_to_json(self.rec()) })
    }
    fn load(v: &Value, dirs: &Directories) -> Option<Self> {
        let dir = dirs.get(v["org"].as_str()?)?;
        let rec = dir.group_from_json(&v["rec"])?;
        Some(Group::new(dir.clone(), rec))
    }
}

impl Stored for Org {
    fn save(&self) -> Value {
        json!(self.dir.org_id().as_str())
    }
    fn load(v: &Value, dirs: &Directories) -> Option<Self> {
        let dir = dirs.get(v.as_str()?)?;
        Some(Org {
            dir: dir.clone().into(),
        })
    }
}

/// A GraphQL enum as its name (`SUCCESS`), parsed back the way an input would be.
macro_rules! stored_enum {
    ($($t:ty),*) => {$(
        impl Stored for $t {
            fn save(&self) -> Value {
                json!(async_graphql::Value::from(*self).to_string())
            }
            fn load(v: &Value, _: &Directories) -> Option<Self> {
                let name = async_graphql::Name::new(v.as_str()?);
                async_graphql::InputType::parse(Some(async_graphql::Value::Enum(name))).ok()
            }
        }
    )*};
}
stored_enum!(WriteOutcome, UserErrorCode);

impl Stored for UserError {
    fn save(&self) -> Value {
        json!({
            "code": self.code.save(),
            "field": self.field,
            "message": self.message,
            "retryAfter": self.retry_after,
            "retryAfterMs": self.retry_after_ms,
            "refusedInput": self.refused_input,
        })
    }
    fn load(v: &Value, dirs: &Directories) -> Option<Self> {
        Some(UserError {
            code: UserErrorCode::load(&v["code"], dirs)?,
            field: Option::<Vec<String>>::load(&v["field"], dirs)?,
            message: v["message"].as_str()?.to_owned(),
            retry_after: Option::<i32>::load(&v["retryAfter"], dirs)?,
            retry_after_ms: Option::<i32>::load(&v["retryAfterMs"], dirs)?,
            refused_input: v["refusedInput"].as_bool().unwrap_or(false),
        })
    }
}

impl Stored for Grant {
    fn save(&self) -> Value {
        serde_json::to_value(&*self.row).unwrap_or(Value::Null)
    }
    fn load(v: &Value, _: &Directories) -> Option<Self> {
        let row = serde_json::from_value(v.clone()).ok()?;
        Some(Grant { row: Box::new(row) })
    }
}

impl Stored for WebhookDelivery {
    fn save(&self) -> Value {
        serde_json::to_value(&*self.row).unwrap_or(Value::Null)
    }
    fn load(v: &Value, _: &Directories) -> Option<Self> {
        let row = serde_json::from_value(v.clone()).ok()?;
        Some(WebhookDelivery { row: Box::new(row) })
    }
}

impl Stored for AccessReview {
    fn save(&self) -> Value {
        serde_json::to_value(&*self.row).unwrap_or(Value::Null)
    }
    fn load(v: &Value, _: &Directories) -> Option<Self> {
        serde_json::from_value(v.clone())
            .ok()
            .map(AccessReview::new)
    }
}

impl Stored for Snapshot {
    fn save(&self) -> Value {
        serde_json::to_value(&*self.row).unwrap_or(Value::Null)
    }
    fn load(v: &Value, _: &Directories) -> Option<Self> {
        let row = serde_json::from_value(v.clone()).ok()?;
        Some(Snapshot { row: Box::new(row) })
    }
}
