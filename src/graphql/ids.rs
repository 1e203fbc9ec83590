//! Opaque global ids (`node(id)`) and cursors. Both are base64url of a small tagged text, so a
//! client can store them but not build or read them; anything that does not decode is refused.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};

use crate::directory::SortKey;
use crate::keys::OrgId;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Org,
    User,
    Group,
    /// A row of an organization's audit log; the key is its sequence number.
    AuditEntry,
    /// A time-bound group grant; the key is the grant's id in the store.
    Grant,
    /// An access snapshot; the key is its sequence number in its organization.
    Snapshot,
    /// An access review; the key is the review's id in the store.
    AccessReview,
    /// An item of an access review; the key is `<review id>:<item number>`.
    AccessReviewItem,
}

impl Kind {
    fn tag(self) -> &'static str {
        match self {
            Kind::Org => "Org",
            Kind::User => "User",
            Kind::Group => "Group",
            Kind::AuditEntry => "AuditEntry",
            Kind::Grant => "Grant",
            Kind::Snapshot => "Snapshot",
            Kind::AccessReview => "AccessReview",
            Kind::AccessReviewItem => "AccessReviewItem",
        }
    }
}

/// A decoded global id: the type, the organization and the key within it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GlobalId {
    pub kind: Kind,
    /// The organization as the id names it: one a key may see only if `Directories::get`
    /// finds it among the request's.
    pub org: OrgId,
    pub key: String,
}

impl GlobalId {
    pub fn new(kind: Kind, org: &str, key: &str) -> GlobalId {
        GlobalId {
            kind,
            org: OrgId::new(org),
            key: key.to_owned(),
        }
    }

    pub fn encode(&self) -> String {
        let json = serde_json::to_string(&(1, self.kind.tag(), self.org.as_str(), &self.key))
            .expect("strings serialize");
        URL_SAFE_NO_PAD.encode(json)
    }

    pub fn decode(id: &str) -> Option<GlobalId> {
        let bytes = URL_SAFE_NO_PAD.decode(id.trim()).ok()?;
        let (version, tag, org, key): (u8, String, String, String) =
            serde_json::from_slice(&bytes).ok()?;
        let kind = match (version, tag.as_str()) {
            (1, "Org") => Kind::Org,
            (1, "User") => Kind::User,
            (1, "Group") => Kind::Group,
            (1, "AuditEntry") => Kind::AuditEntry,
            (1, "Grant") => Kind::Grant,
            (1, "Snapshot") => Kind::Snapshot,
            (1, "AccessReview") => Kind::AccessReview,
            (1, "AccessReviewItem") => Kind::AccessReviewItem,
            _ => return None,
        };
        Some(GlobalId {
            kind,
            org: OrgId::new(&org),
            key,
        })
    }
}

/// A cursor: which order it belongs to and the item's sort key in it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct CursorBody {
    v: u8,
    o: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    s: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    k: Option<Vec<String>>,
}

pub fn encode_cursor(order: &str, key: &SortKey) -> String {
    let body = match key {
        SortKey::Seq(s) => CursorBody {
            v: 1,
            o: order.to_owned(),
            s: Some(*s),
            k: None,
        },
        SortKey::Text(k) => CursorBody {
            v: 1,
            o: order.to_owned(),
            s: None,
            k: Some(k.clone()),
        },
    };
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(&body).expect("cursor serializes"))
}

/// The sort key in `cursor`, if it is a cursor of `order`.
pub fn decode_cursor(cursor: &str, order: &str) -> Result<SortKey, CursorError> {
    let bytes = URL_SAFE_NO_PAD
        .decode(cursor.trim())
        .map_err(|_| CursorError::Invalid)?;
    let body: CursorBody = serde_json::from_slice(&bytes).map_err(|_| CursorError::Invalid)?;
    if body.v != 1 {
        return Err(CursorError::Invalid);
    }
    if body.o != order {
        return Err(CursorError::OtherOrder { cursor: body.o });
    }
    match (body.s, body.k) {
        (Some(s), None) => Ok(SortKey::Seq(s)),
        (None, Some(k)) => Ok(SortKey::Text(k)),
        _ => Err(CursorError::Invalid),
    }
}

#[derive(Debug, PartialEq)]
pub enum CursorError {
    Invalid,
    OtherOrder { cursor: String },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn global_ids_round_trip_and_forgeries_do_not_decode() {
        let id = GlobalId::new(Kind::User, "acme", "ada+ops@example.com");
        assert_eq!(GlobalId::decode(&id.encode()), Some(id));
        assert_eq!(GlobalId::decode("not-an-id"), None);
        assert_eq!(
            GlobalId::decode(&URL_SAFE_NO_PAD.encode(r#"[1,"Secret","a","b"]"#)),
            None
        );
        assert_eq!(
            GlobalId::decode(&URL_SAFE_NO_PAD.encode(r#"[2,"User","a","b"]"#)),
            None
        );
    }

    #[test]
    fn cursors_belong_to_their_order() {
        let key = SortKey::Text(vec![
            "ada@example.com".into(),
            "".into(),
            "ada@example.com".into(),
        ]);
        let c = encode_cursor("users:EMAIL", &key);
        assert_eq!(decode_cursor(&c, "users:EMAIL"), Ok(key));
        assert_eq!(
            decode_cursor(&c, "users:FAMILY_NAME"),
            Err(CursorError::OtherOrder {
                cursor: "users:EMAIL".into()
            })
        );
        assert_eq!(
            decode_cursor("%%%", "users:EMAIL"),
            Err(CursorError::Invalid)
        );
        let seq = encode_cursor("users:DIRECTORY", &SortKey::Seq(7));
        assert_eq!(decode_cursor(&seq, "users:DIRECTORY"), Ok(SortKey::Seq(7)));
    }
}
