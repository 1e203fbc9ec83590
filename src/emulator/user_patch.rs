//! A PatchOp on a user (RFC 7644 §3.5.2), applied to a copy of what it may change and written
//! back only when every operation succeeded. Amplitude (where switched on) patches names and
//! `active`; RFC 7644 also `userName`, `externalId` and `emails`, and can remove `active`.

use serde_json::{Map, Value};

use super::errors::ScimError;
use super::store::{Directory, UserRec};
use crate::scim::wire::{self, Email};

/// The attributes a user PatchOp may change.
pub(crate) struct UserPatch {
    rfc: bool,
    given: Option<String>,
    family: Option<String>,
    active: bool,
    active_unset: bool,
    user_name: String,
    external_id: Option<String>,
    emails: Vec<Email>,
}

impl UserPatch {
    pub(crate) fn new(rec: &UserRec, rfc: bool) -> UserPatch {
        UserPatch {
            rfc,
            given: rec.given.clone(),
            family: rec.family.clone(),
            active: rec.active,
            active_unset: rec.active_unset,
            user_name: rec.email.clone(),
            external_id: rec.external_id.clone(),
            emails: rec.emails.clone(),
        }
    }

    pub(crate) fn apply(&mut self, op: &wire::PatchOperation) -> Result<(), ScimError> {
        let path = op.path.as_deref().map(|p| attr_path(p.trim()));
        let verb = op.op.to_ascii_lowercase();
        match verb.as_str() {
            "replace" | "add" => {
                let append = verb == "add";
                match (path.as_deref(), &op.value) {
                    (_, None) => Err(ScimError::invalid_value("a value is required")),
                    (None, Some(Value::Object(obj))) => obj
                        .iter()
                        .try_for_each(|(k, v)| self.set(&attr_path(k), v, append)),
                    (None, Some(_)) => Err(ScimError::invalid_value(
                        "a pathless operation needs an object value",
                    )),
                    (Some(p), Some(v)) => self.set(p, v, append),
                }
            }
            "remove" => self.remove(path.as_deref()),
            other => Err(ScimError::invalid_syntax(format!(
                "unknown PatchOp op {other:?}"
            ))),
        }
    }

    fn remove(&mut self, path: Option<&str>) -> Result<(), ScimError> {
        match path {
            Some("name.givenname") => self.given = None,
            Some("name.familyname") => self.family = None,
            Some("name") if self.rfc => (self.given, self.family) = (None, None),
            Some("active") if self.rfc => (self.active, self.active_unset) = (true, true),
            Some("externalid") if self.rfc => self.external_id = None,
            Some("emails") if self.rfc => self.emails.clear(),
            Some("username") if self.rfc => {
                return Err(ScimError::bad_request(
                    "mutability",
                    "userName is required and cannot be removed",
                ));
            }
            Some(p) => return Err(ScimError::invalid_path(format!("cannot remove {p}"))),
            None => return Err(ScimError::bad_request("noTarget", "remove needs a path")),
        }
        Ok(())
    }

    fn set(&mut self, path: &str, v: &Value, append: bool) -> Result<(), ScimError> {
        let text = |v: &Value| {
            v.as_str()
                .map(str::to_owned)
                .ok_or_else(|| ScimError::invalid_value(format!("{path} must be a string")))
        };
        match path {
            "active" => {
                self.active = v
                    .as_bool()
                    .ok_or_else(|| ScimError::invalid_value("active must be a boolean"))?;
                self.active_unset = false;
            }
            "name.givenname" => self.given = Some(text(v)?),
            "name.familyname" => self.family = Some(text(v)?),
            "name" => {
                let obj: &Map<String, Value> = v
                    .as_object()
                    .ok_or_else(|| ScimError::invalid_value("name must be an object"))?;
                for (k, v) in obj {
                    self.set(&format!("name.{}", k.to_ascii_lowercase()), v, append)?;
                }
            }
            "username" if self.rfc => {
                let name = text(v)?;
                if name.trim().is_empty() {
                    return Err(ScimError::invalid_value("userName must not be empty"));
                }
                self.user_name = name.trim().to_owned();
            }
            "externalid" if self.rfc => self.external_id = Some(text(v)?),
            "emails" if self.rfc => {
                let new = parse_emails(v)?;
                if !append {
                    self.emails.clear();
                }
                // §3.5.2: a value set primary makes every other value not primary.
                if new.iter().any(|e| e.primary == Some(true)) {
                    for e in &mut self.emails {
                        e.primary = e.primary.map(|_| false);
                    }
                }
                for e in new {
                    self.emails
                        .retain(|old| !old.value.eq_ignore_ascii_case(&e.value));
                    self.emails.push(e);
                }
            }
            // Read-only or immutable here; identity providers resend them.
            "schemas" | "id" | "meta" | "username" | "name.formatted" => {}
            other => {
                return Err(ScimError::invalid_path(format!(
                    "attribute {other} cannot be patched"
                )));
            }
        }
        Ok(())
    }

    /// Writes the result to the directory (the user may leave it when deactivated on Amplitude).
    pub(crate) fn write(self, dir: &mut Directory, seq: u64, now: &str) -> Result<(), ScimError> {
        if self.rfc {
            dir.rename_user(seq, &self.user_name)?;
            if let Some(user) = dir.user_mut(seq) {
                user.external_id = self.external_id;
                user.emails = self.emails;
                user.active_unset = self.active_unset;
            }
        }
        dir.update_user(seq, self.given, self.family, self.active, now);
        Ok(())
    }
}

/// A path lower-cased, without the User schema's URN prefix.
fn attr_path(p: &str) -> String {
    let p = p
        .strip_prefix(wire::USER_SCHEMA)
        .and_then(|rest| rest.strip_prefix(':'))
        .unwrap_or(p);
    p.to_ascii_lowercase()
}

/// `emails` as sent: an array of `{value, primary, type}`, or one such object.
pub(crate) fn parse_emails(v: &Value) -> Result<Vec<Email>, ScimError> {
    let items = match v {
        Value::Array(items) => items.clone(),
        Value::Object(_) => vec![v.clone()],
        Value::Null => Vec::new(),
        _ => {
            return Err(ScimError::invalid_value(
                "emails must be an array of objects",
            ));
        }
    };
    items
        .into_iter()
        .map(|i| {
            serde_json::from_value::<Email>(i)
                .map_err(|e| ScimError::invalid_value(format!("invalid email: {e}")))
        })
        .collect()
}
