//! A snapshot's content: every user (key, e-mail, given and family name, status) with the
//! groups it is a member of, and the groups (id and name) once. The canonical encoding is
//! compact JSON with users sorted by key and groups by id, users naming their groups by index
//! in that order, so the same directory always gives the same bytes.

use serde::{Deserialize, Serialize};

use crate::directory::{Snapshot, Status};

/// The encoding's version, the first field of the bytes.
const VERSION: u8 = 1;

/// A user's status as a snapshot records it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum UserStatus {
    Active,
    Invited,
    Deactivated,
}

impl From<Status> for UserStatus {
    fn from(s: Status) -> Self {
        match s {
            Status::Active => UserStatus::Active,
            Status::Invited => UserStatus::Invited,
            Status::Deactivated => UserStatus::Deactivated,
        }
    }
}

/// One group.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupEntry {
    pub id: String,
    pub name: String,
}

/// One user and its groups.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserEntry {
    /// The user's key (the id; on Amplitude the lower-cased e-mail).
    pub id: String,
    pub email: String,
    /// A real given name, or "" (none, or Amplitude's placeholder for an invitee).
    pub given_name: String,
    pub family_name: String,
    pub status: UserStatus,
    /// Indices into `Content::groups`, ascending.
    pub groups: Vec<u32>,
}

/// Every user with its groups, canonically ordered.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Content {
    /// By id.
    pub groups: Vec<GroupEntry>,
    /// By id.
    pub users: Vec<UserEntry>,
}

/// The wire form: arrays, not objects, so no field name is repeated 100,000 times.
#[derive(Deserialize)]
struct Wire {
    v: u8,
    groups: Vec<(String, String)>,
    users: Vec<(String, String, String, String, UserStatus, Vec<u32>)>,
}

/// [`Wire`] borrowed, for encoding.
#[derive(Serialize)]
struct WireRef<'a> {
    v: u8,
    groups: Vec<(&'a str, &'a str)>,
    users: Vec<UserRef<'a>>,
}

type UserRef<'a> = (&'a str, &'a str, &'a str, &'a str, UserStatus, &'a [u32]);

impl Content {
    /// The content of a mirror; `invited` says whether the gateway has an open invitation
    /// for a user key (such users read as INVITED). Members the user list does not show are
    /// not users of the snapshot.
    pub fn of_mirror(mirror: &Snapshot, invited: impl Fn(&str) -> bool) -> Content {
        let mut groups: Vec<GroupEntry> = mirror
            .groups()
            .iter()
            .map(|g| GroupEntry {
                id: g.id.clone(),
                name: g.group.display_name.clone(),
            })
            .collect();
        groups.sort_by(|a, b| a.id.cmp(&b.id));
        let index: std::collections::HashMap<&str, u32> = groups
            .iter()
            .enumerate()
            .map(|(i, g)| (g.id.as_str(), i as u32))
            .collect();
        let mut users: Vec<UserEntry> = mirror
            .users()
            .iter()
            .map(|u| {
                let mut of: Vec<u32> = mirror
                    .groups_of(u.key())
                    .filter_map(|g| index.get(g.id.as_str()).copied())
                    .collect();
                of.sort_unstable();
                of.dedup();
                UserEntry {
                    id: u.key().to_owned(),
                    email: u.email().to_owned(),
                    given_name: u.given_name().unwrap_or_default().to_owned(),
                    family_name: u.family_name().unwrap_or_default().to_owned(),
                    status: u.status(invited(u.key())).into(),
                    groups: of,
                }
            })
            .collect();
        users.sort_by(|a, b| a.id.cmp(&b.id));
        Content { groups, users }
    }

    /// The canonical bytes.
    pub fn encode(&self) -> Vec<u8> {
        let wire = WireRef {
            v: VERSION,
            groups: self
                .groups
                .iter()
                .map(|g| (g.id.as_str(), g.name.as_str()))
                .collect(),
            users: self
                .users
                .iter()
                .map(|u| {
                    (
                        u.id.as_str(),
                        u.email.as_str(),
                        u.given_name.as_str(),
                        u.family_name.as_str(),
                        u.status,
                        u.groups.as_slice(),
                    )
                })
                .collect(),
        };
        serde_json::to_vec(&wire).expect("content serializes")
    }

    /// Content from its canonical bytes; `None` when they are not such bytes.
    pub fn decode(bytes: &[u8]) -> Option<Content> {
        let wire: Wire = serde_json::from_slice(bytes).ok()?;
        if wire.v != VERSION {
            return None;
        }
        let groups: Vec<GroupEntry> = wire
            .groups
            .into_iter()
            .map(|(id, name)| GroupEntry { id, name })
            .collect();
        let users = wire
            .users
            .into_iter()
            .map(
                |(id, email, given_name, family_name, status, groups)| UserEntry {
                    id,
                    email,
                    given_name,
                    family_name,
                    status,
                    groups,
                },
            )
            .collect::<Vec<_>>();
        let in_range = users
            .iter()
            .all(|u| u.groups.iter().all(|g| (*g as usize) < groups.len()));
        in_range.then_some(Content { groups, users })
    }

    /// A user's groups.
    pub fn groups_of<'a>(&'a self, user: &'a UserEntry) -> impl Iterator<Item = &'a GroupEntry> {
        user.groups.iter().map(|g| &self.groups[*g as usize])
    }
}
