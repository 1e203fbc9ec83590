//! SCIM 2.0 wire types (RFC 7643/7644) as Amplitude and generic servers send them.
//! Parsing is lenient where Amplitude is inconsistent; unknown fields are ignored.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer, de};
use serde_json::Value;

pub(crate) const USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
pub(crate) const GROUP_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
pub(crate) const LIST_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
pub(crate) const PATCH_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
pub(crate) const ERROR_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:Error";

/// A resource id. Amplitude sends group ids as JSON numbers in some responses and as strings in
/// others; both parse to the same value, which is always written back as a string.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ResourceId(pub String);

impl ResourceId {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ResourceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<&str> for ResourceId {
    fn from(s: &str) -> Self {
        ResourceId(s.to_owned())
    }
}

impl From<String> for ResourceId {
    fn from(s: String) -> Self {
        ResourceId(s)
    }
}

impl Serialize for ResourceId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for ResourceId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match Value::deserialize(d)? {
            Value::String(s) => Ok(ResourceId(s)),
            Value::Number(n) => Ok(ResourceId(n.to_string())),
            other => Err(de::Error::custom(format!(
                "expected a string or a number as id, got {other}"
            ))),
        }
    }
}

/// A non-negative integer sent either as a JSON number or as a string (`"400"`).
fn lenient_u64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    match Option::<Value>::deserialize(d)? {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n
            .as_u64()
            .map(Some)
            .ok_or_else(|| de::Error::custom("expected a non-negative integer")),
        Some(Value::String(s)) => s
            .trim()
            .parse()
            .map(Some)
            .map_err(|_| de::Error::custom("expected an integer")),
        Some(other) => Err(de::Error::custom(format!(
            "expected an integer, got {other}"
        ))),
    }
}

/// A string sent either as a JSON string or a number (SCIM error `status`).
fn lenient_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    match Option::<Value>::deserialize(d)? {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(Value::Number(n)) => Ok(Some(n.to_string())),
        Some(other) => Ok(Some(other.to_string())),
    }
}

fn default_true() -> bool {
    true
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Name {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) given_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub family_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) formatted: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct Email {
    pub(crate) value: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) primary: Option<bool>,
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub(crate) kind: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Meta {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) resource_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) created: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) last_modified: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) location: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) version: Option<String>,
}

/// A group as listed on a user (`User.groups`). Amplitude ignores it on writes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct GroupRef {
    pub(crate) value: ResourceId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) display: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct User {
    #[serde(default)]
    pub(crate) schemas: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub user_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<Name>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    #[serde(default = "default_true")]
    pub active: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) emails: Vec<Email>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) groups: Option<Vec<GroupRef>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) external_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) meta: Option<Box<Meta>>,
}

impl User {
    /// A new user as written by a client: `userName` and the primary e-mail are the address.
    pub fn new(email: &str, given_name: &str, family_name: &str) -> User {
        User {
            schemas: vec![USER_SCHEMA.to_owned()],
            id: None,
            user_name: email.to_owned(),
            name: Some(Name {
                given_name: Some(given_name.to_owned()),
                family_name: Some(family_name.to_owned()),
                formatted: None,
            }),
            display_name: None,
            active: true,
            emails: vec![Email {
                value: email.to_owned(),
                primary: Some(true),
                kind: None,
            }],
            groups: None,
            external_id: None,
            meta: None,
        }
    }

    /// The primary e-mail, else the first one, else `userName`.
    pub fn email(&self) -> &str {
        self.emails
            .iter()
            .find(|e| e.primary == Some(true))
            .or_else(|| self.emails.first())
            .map(|e| e.value.as_str())
            .unwrap_or(&self.user_name)
    }

    pub fn given_name(&self) -> Option<&str> {
        self.name.as_ref()?.given_name.as_deref()
    }

    pub fn family_name(&self) -> Option<&str> {
        self.name.as_ref()?.family_name.as_deref()
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Member {
    pub value: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) display: Option<String>,
}

impl Member {
    pub(crate) fn new(value: &str) -> Member {
        Member {
            value: value.to_owned(),
            display: None,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Group {
    #[serde(default)]
    pub(crate) schemas: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<ResourceId>,
    pub display_name: String,
    #[serde(default)]
    pub members: Vec<Member>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) external_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) meta: Option<Meta>,
}

impl Group {
    pub(crate) fn new(display_name: &str, members: Vec<Member>) -> Group {
        Group {
            schemas: vec![GROUP_SCHEMA.to_owned()],
            id: None,
            display_name: display_name.to_owned(),
            members,
            external_id: None,
            meta: None,
        }
    }
}

/// `ListResponse`. `itemsPerPage` is kept as sent: Amplitude echoes the requested page size, not
/// the number of resources returned, so a pager must never use it as a count.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListResponse<T> {
    #[serde(default)]
    pub(crate) schemas: Vec<String>,
    #[serde(default, deserialize_with = "lenient_u64")]
    pub(crate) total_results: Option<u64>,
    #[serde(default, deserialize_with = "lenient_u64")]
    pub(crate) start_index: Option<u64>,
    #[serde(default, deserialize_with = "lenient_u64")]
    pub(crate) items_per_page: Option<u64>,
    #[serde(rename = "Resources", default = "Vec::new")]
    pub(crate) resources: Vec<T>,
}

impl<T> ListResponse<T> {
    pub(crate) fn new(
        resources: Vec<T>,
        total: u64,
        start_index: u64,
        items_per_page: u64,
    ) -> Self {
        ListResponse {
            schemas: vec![LIST_SCHEMA.to_owned()],
            total_results: Some(total),
            start_index: Some(start_index),
            items_per_page: Some(items_per_page),
            resources,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct PatchOperation {
    pub(crate) op: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) value: Option<Value>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct PatchOp {
    #[serde(default)]
    pub(crate) schemas: Vec<String>,
    #[serde(rename = "Operations")]
    pub(crate) operations: Vec<PatchOperation>,
}

impl PatchOp {
    pub(crate) fn new(operations: Vec<PatchOperation>) -> PatchOp {
        PatchOp {
            schemas: vec![PATCH_SCHEMA.to_owned()],
            operations,
        }
    }
}

/// The SCIM error message (RFC 7644 §3.12). `status` arrives as a string or a number.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ScimErrorBody {
    #[serde(default)]
    pub(crate) schemas: Vec<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    pub status: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) scim_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) detail: Option<String>,
}

impl ScimErrorBody {
    pub(crate) fn new(status: u16, scim_type: Option<&str>, detail: &str) -> ScimErrorBody {
        ScimErrorBody {
            schemas: vec![ERROR_SCHEMA.to_owned()],
            status: Some(status.to_string()),
            scim_type: scim_type.map(str::to_owned),
            detail: Some(detail.to_owned()),
        }
    }
}

/// An upstream error body: a SCIM error when it parses as one, else the text as received
/// (truncated), kept for logs only and never shown to GraphQL clients.
#[derive(Clone, Debug, PartialEq)]
pub enum ErrorBody {
    Scim(ScimErrorBody),
    Text(String),
}

impl ErrorBody {
    const MAX_TEXT: usize = 512;

    pub(crate) fn parse(text: &str) -> ErrorBody {
        match serde_json::from_str::<ScimErrorBody>(text) {
            Ok(body)
                if body.detail.is_some() || body.scim_type.is_some() || body.status.is_some() =>
            {
                ErrorBody::Scim(body)
            }
            _ => {
                let mut end = text.len().min(Self::MAX_TEXT);
                while !text.is_char_boundary(end) {
                    end -= 1;
                }
                ErrorBody::Text(text[..end].to_owned())
            }
        }
    }

    pub fn scim_type(&self) -> Option<&str> {
        match self {
            ErrorBody::Scim(b) => b.scim_type.as_deref(),
            ErrorBody::Text(_) => None,
        }
    }
}
