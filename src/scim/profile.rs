//! Dialects of SCIM: Amplitude's and plain RFC 7644. Chosen per organization; everything that
//! differs on the wire between the two is decided here and nowhere else.
//!
//! That includes how users are keyed: on Amplitude ids are e-mail addresses, compared
//! lower-cased. Callers never ask which dialect they speak; they take the profile's
//! [`KeyRule`] (how a user id or e-mail becomes a lookup key, how a user is found by e-mail)
//! and [`Profile::deactivation_removes_user`], and follow them.

use std::fmt;
use std::str::FromStr;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::wire::{PatchOp, PatchOperation, User};
use crate::keys::UserKey;

/// Characters left as they are in a path segment; everything else (including `@` and `+`) is
/// percent-encoded, so an e-mail id always reaches the server intact.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Profile {
    /// Amplitude: `itemsPerPage`, e-mail ids, value-array member removal, `POST /Groups` → 200.
    #[default]
    Amplitude,
    /// RFC 7644: `count`, opaque ids, filter-path member removal, 201 on create.
    Rfc7644,
}

impl Profile {
    /// The query parameter that sets the page size.
    pub(crate) fn page_size_param(self) -> &'static str {
        match self {
            Profile::Amplitude => "itemsPerPage",
            Profile::Rfc7644 => "count",
        }
    }

    /// The largest page the server returns; pagers ask for exactly this.
    pub(crate) fn max_page_size(self) -> u32 {
        100
    }

    /// The content type sent with bodies and asked for in `Accept`.
    pub(crate) fn media_type(self) -> &'static str {
        match self {
            Profile::Amplitude => "application/json",
            Profile::Rfc7644 => "application/scim+json",
        }
    }

    /// Whether user ids are e-mail addresses (and so compared case-insensitively). Known only
    /// to the scim layer: everyone else follows [`Profile::key_rule`].
    pub(super) fn user_id_is_email(self) -> bool {
        matches!(self, Profile::Amplitude)
    }

    /// How this profile's users are keyed and found by e-mail.
    pub(crate) fn key_rule(self) -> KeyRule {
        if self.user_id_is_email() {
            KeyRule::Email
        } else {
            KeyRule::Opaque
        }
    }

    /// Whether `active: false` removes the user from the organization (Amplitude: "removes the
    /// user from the org, or revokes the invite") rather than leaving it listed, deactivated.
    /// A rule of its own, though on Amplitude it comes with e-mail ids.
    pub(crate) fn deactivation_removes_user(self) -> bool {
        matches!(self, Profile::Amplitude)
    }

    /// The default path of the SCIM root below the host, as the emulator serves it.
    pub fn base_path(self) -> &'static str {
        match self {
            Profile::Amplitude => "/scim/1",
            Profile::Rfc7644 => "/scim/v2",
        }
    }

    /// A resource id as a single percent-encoded path segment.
    pub(crate) fn encode_id(id: &str) -> String {
        utf8_percent_encode(id, SEGMENT).to_string()
    }

    /// The PatchOp that adds members (the same in both dialects).
    pub(crate) fn add_members(self, values: &[&str]) -> PatchOp {
        PatchOp::new(vec![PatchOperation {
            op: "add".into(),
            path: Some("members".into()),
            value: Some(json!(
                values
                    .iter()
                    .map(|v| json!({ "value": v }))
                    .collect::<Vec<_>>()
            )),
        }])
    }

    /// The PatchOp that removes members: Amplitude takes a value array, RFC 7644 a filter path
    /// per member (`members[value eq "..."]`).
    pub(crate) fn remove_members(self, values: &[&str]) -> PatchOp {
        match self {
            Profile::Amplitude => PatchOp::new(vec![PatchOperation {
                op: "remove".into(),
                path: Some("members".into()),
                value: Some(json!(
                    values
                        .iter()
                        .map(|v| json!({ "value": v }))
                        .collect::<Vec<_>>()
                )),
            }]),
            Profile::Rfc7644 => PatchOp::new(
                values
                    .iter()
                    .map(|v| PatchOperation {
                        op: "remove".into(),
                        path: Some(format!("members[value eq {}]", quote(v))),
                        value: None,
                    })
                    .collect(),
            ),
        }
    }

    /// The PatchOp that renames a group.
    pub(crate) fn rename_group(self, name: &str) -> PatchOp {
        PatchOp::new(vec![PatchOperation {
            op: "replace".into(),
            path: Some("displayName".into()),
            value: Some(json!(name)),
        }])
    }
}

/// How a profile keys its users: the one place that knows "ids are e-mails, compared
/// lower-cased". Small and `Copy`, so a directory hands it to whatever builds its mirror.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum KeyRule {
    /// Ids are e-mail addresses (Amplitude): the key is the id lower-cased, and a user is found
    /// by e-mail through its id.
    Email,
    /// Ids are opaque (RFC 7644): the key is the id as given; e-mails are another attribute.
    Opaque,
}

/// How a user is found by e-mail.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum EmailLookup {
    /// The e-mail is the id: read the user by its key; no separate e-mail index is needed.
    ById,
    /// The e-mail is the `userName`: a filter upstream, an e-mail index in the mirror.
    ByUserName,
}

impl KeyRule {
    /// The lookup key of a user id, or of an e-mail given as one.
    pub(crate) fn key(self, id_or_email: &str) -> UserKey {
        UserKey::new(match self {
            KeyRule::Email => id_or_email.to_lowercase(),
            KeyRule::Opaque => id_or_email.to_owned(),
        })
    }

    /// The lookup key of a user as the upstream shows it: its id, else its `userName`.
    pub(crate) fn key_of(self, user: &User) -> UserKey {
        self.key(user.id.as_deref().unwrap_or(&user.user_name))
    }

    /// How a user is found by e-mail under this rule.
    pub(crate) fn email_lookup(self) -> EmailLookup {
        match self {
            KeyRule::Email => EmailLookup::ById,
            KeyRule::Opaque => EmailLookup::ByUserName,
        }
    }
}

/// A SCIM filter string literal.
pub(crate) fn quote(s: &str) -> String {
    serde_json::to_string(s).expect("a string always serializes")
}

impl fmt::Display for Profile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Profile::Amplitude => "amplitude",
            Profile::Rfc7644 => "rfc7644",
        })
    }
}

impl FromStr for Profile {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "amplitude" => Ok(Profile::Amplitude),
            "rfc7644" | "rfc" => Ok(Profile::Rfc7644),
            other => Err(format!(
                "unknown SCIM profile {other:?} (expected amplitude or rfc7644)"
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    #[test]
    fn amplitude_keys_users_by_lower_cased_email_and_rfc7644_by_opaque_id() {
        let mut with_id = User::new("Ada@Example.com", "Ada", "Lovelace");
        with_id.id = Some("Id-7".into());
        let without_id = User::new("Ada@Example.com", "Ada", "Lovelace");
        // (profile, key of an id, key of a user with an id, without one, e-mail lookup)
        let table = [
            (
                Profile::Amplitude,
                "ada@example.com",
                "id-7",
                "ada@example.com",
                EmailLookup::ById,
            ),
            (
                Profile::Rfc7644,
                "Ada@Example.com",
                "Id-7",
                "Ada@Example.com",
                EmailLookup::ByUserName,
            ),
        ];
        for (profile, key, key_with_id, key_without_id, lookup) in table {
            let rule = profile.key_rule();
            assert_eq!(rule.key("Ada@Example.com").as_str(), key, "{profile}");
            assert_eq!(rule.key_of(&with_id).as_str(), key_with_id, "{profile}");
            assert_eq!(
                rule.key_of(&without_id).as_str(),
                key_without_id,
                "{profile}"
            );
            assert_eq!(rule.email_lookup(), lookup, "{profile}");
        }
    }

    #[test]
    fn deactivation_removes_the_user_on_amplitude_only() {
        assert!(Profile::Amplitude.deactivation_removes_user());
        assert!(!Profile::Rfc7644.deactivation_removes_user());
    }

    /// Lines of the sources outside the scim layer that contain `needle`.
    fn outside_the_scim_layer(needle: &str) -> Vec<String> {
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut found = Vec::new();
        let mut dirs = vec![src.clone()];
        while let Some(dir) = dirs.pop() {
            for entry in std::fs::read_dir(&dir).expect("src is readable") {
                let path = entry.expect("src is readable").path();
                if path == src.join("scim") {
                    continue;
                }
                if path.is_dir() {
                    dirs.push(path);
                } else if path.extension().is_some_and(|e| e == "rs") {
                    let text = std::fs::read_to_string(&path).expect("source is UTF-8");
                    for (n, line) in text.lines().enumerate() {
                        if line.contains(needle) {
                            found.push(format!("{}:{}", path.display(), n + 1));
                        }
                    }
                }
            }
        }
        found
    }

    /// The id rule is the profile's: code outside the scim layer follows `key_rule` and never
    /// branches on the dialect's id kind itself.
    #[test]
    fn the_id_rule_is_asked_only_inside_the_scim_layer() {
        // Built from pieces, so this file's own text does not match.
        let leaks = outside_the_scim_layer(&["user_id", "_is_email"].concat());
        assert!(
            leaks.is_empty(),
            "follow Profile::key_rule instead of asking the id kind: {leaks:?}"
        );
    }

    /// A `UserKey` comes from the key rule only, so no caller compares ids its own way.
    #[test]
    fn user_keys_are_built_only_by_the_key_rule() {
        let leaks = outside_the_scim_layer(&["UserKey", "::new("].concat());
        assert!(
            leaks.is_empty(),
            "build keys with Directory::user_key: {leaks:?}"
        );
    }
}
