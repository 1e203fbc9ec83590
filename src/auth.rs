//! Who may ask what: client API keys (stored only as SHA-256 hashes), their roles and the
//! organizations each may reach. The HTTP edge turns a bearer key into a `Principal`.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::str::FromStr;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};

use crate::keys::OrgId;

/// What a key may do. `Read`, `Write` and `Admin` each include the roles before them, so a
/// check is `role >= needed`. `Auditor` comes before them and includes none of them: it reads
/// the audit log (as `Admin` does, see [`Role::reads_audit`]) and nothing else. `Reviewer`
/// comes first: it reaches only the access reviews that name it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// The access reviews that name it, and nothing else: the items to decide, its decisions,
    /// completing them (`Query.accessReview`, `decideReviewItems`, `completeAccessReview`).
    Reviewer,
    /// The audit log of its organizations, and nothing else.
    Auditor,
    /// Queries.
    Read,
    /// Queries and mutations.
    Write,
    /// Everything, including refreshes and budget controls.
    Admin,
}

impl Role {
    /// Whether this role may read the audit log: the auditor's one right, and the admin's.
    pub fn reads_audit(self) -> bool {
        matches!(self, Role::Auditor | Role::Admin)
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Role::Reviewer => "reviewer",
            Role::Auditor => "auditor",
            Role::Read => "read",
            Role::Write => "write",
            Role::Admin => "admin",
        })
    }
}

impl FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "read" => Ok(Role::Read),
            "write" => Ok(Role::Write),
            "admin" => Ok(Role::Admin),
            "auditor" => Ok(Role::Auditor),
            "reviewer" => Ok(Role::Reviewer),
            other => Err(format!(
                "unknown role {other:?} (expected read, write, admin, auditor or reviewer)"
            )),
        }
    }
}

/// The organizations a key may reach.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OrgScope {
    All,
    Only(HashSet<OrgId>),
}

impl OrgScope {
    pub(crate) fn allows(&self, org: &str) -> bool {
        match self {
            OrgScope::All => true,
            OrgScope::Only(orgs) => orgs.contains(org),
        }
    }
}

/// The client behind a request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Principal {
    /// The key's name from the configuration (never the key).
    pub name: String,
    pub role: Role,
    pub orgs: OrgScope,
}

/// The SHA-256 of a key, as the configuration writes it: `sha256:<64 hex digits>`.
pub fn hash_key(key: &str) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, key.as_bytes());
    let hex: String = digest.as_ref().iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
}

/// Whether `hash` has the form `sha256:<64 lowercase hex digits>`.
pub(crate) fn is_key_hash(hash: &str) -> bool {
    hash.strip_prefix("sha256:").is_some_and(|h| {
        h.len() == 64
            && h.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
}

/// A new random key: 32 bytes from the operating system, base64url, prefixed `sgk_`.
pub fn new_key() -> String {
    let mut bytes = [0u8; 32];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut bytes)
        .expect("the OS gives random bytes");
    format!("sgk_{}", URL_SAFE_NO_PAD.encode(bytes))
}

/// The configured keys, by hash.
#[derive(Clone, Debug, Default)]
pub(crate) struct KeyStore {
    by_hash: HashMap<String, Principal>,
}

impl KeyStore {
    pub(crate) fn new(entries: impl IntoIterator<Item = (String, Principal)>) -> KeyStore {
        KeyStore {
            by_hash: entries.into_iter().collect(),
        }
    }

    /// The principal of a presented key. Keys are random and long, so looking the hash up
    /// reveals nothing useful about a wrong guess.
    pub(crate) fn authenticate(&self, key: &str) -> Option<&Principal> {
        self.by_hash.get(&hash_key(key))
    }

    /// The principal of an `Authorization` header's value, `Bearer <key>` (scheme in any case).
    pub(crate) fn authenticate_bearer(&self, authorization: Option<&str>) -> Option<&Principal> {
        let (scheme, key) = authorization?.split_once(' ')?;
        if !scheme.eq_ignore_ascii_case("bearer") {
            return None;
        }
        self.authenticate(key.trim())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_stored_and_matched_by_hash_only() {
        let key = new_key();
        assert!(key.starts_with("sgk_") && key.len() > 40);
        let hash = hash_key(&key);
        assert!(is_key_hash(&hash));
        assert!(!hash.contains(&key));
        assert_eq!(
            hash_key("abc"),
            "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        let p = Principal {
            name: "ci".into(),
            role: Role::Read,
            orgs: OrgScope::All,
        };
        let store = KeyStore::new([(hash, p.clone())]);
        assert_eq!(store.authenticate(&key), Some(&p));
        assert_eq!(store.authenticate("sgk_wrong"), None);
        let header = format!("bearer  {key}");
        assert_eq!(store.authenticate_bearer(Some(&header)), Some(&p));
        assert_eq!(
            store.authenticate_bearer(Some(&format!("Basic {key}"))),
            None
        );
        assert_eq!(store.authenticate_bearer(None), None);
        assert!(!is_key_hash("sha256:XYZ"));
        assert!(Role::Admin > Role::Write && Role::Write > Role::Read);
        // The auditor passes no `role >= X` check of the other roles, and reads the log.
        assert!(Role::Auditor < Role::Read);
        assert!(Role::Auditor.reads_audit() && Role::Admin.reads_audit());
        assert!(!Role::Read.reads_audit() && !Role::Write.reads_audit());
        for role in [Role::Auditor, Role::Read, Role::Write, Role::Admin] {
            assert_eq!(role.to_string().parse::<Role>(), Ok(role));
        }
    }
}
