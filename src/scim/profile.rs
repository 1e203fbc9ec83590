//! Dialects of SCIM: Amplitude's and plain RFC 7644. Chosen per organization; everything that
//! differs on the wire between the two is decided here and nowhere else.

use std::fmt;
use std::str::FromStr;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::wire::{PatchOp, PatchOperation};

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

    /// Whether user ids are e-mail addresses (and so compared case-insensitively).
    pub(crate) fn user_id_is_email(self) -> bool {
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
