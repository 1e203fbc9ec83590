//! The emulated directory: users and groups in creation order, with case-insensitive indexes,
//! pending invites and accepting them; rendering lives in `render.rs`.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::{SystemTime, UNIX_EPOCH};

use axum::http::StatusCode;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

use super::config::Switches;
use super::errors::ScimError;
use super::versions::iso8601;
use crate::scim::Profile;
use crate::scim::wire::Email;

/// The first integer group id on the Amplitude profile.
const FIRST_GROUP_NUMBER: u64 = 600;

#[derive(Clone, Debug)]
pub(crate) struct UserRec {
    /// Amplitude: the e-mail as first written; RFC 7644: an opaque hex id.
    pub(crate) id: String,
    pub(crate) email: String,
    /// For a pending user: the names from the invite, shown once it is accepted.
    pub(crate) given: Option<String>,
    pub(crate) family: Option<String>,
    pub(crate) pending: bool,
    /// False only for a deactivated user kept listed (`list_deactivated`).
    pub(crate) active: bool,
    pub(crate) created: String,
    pub(crate) modified: String,
    /// RFC 7644 only: the client's `externalId`.
    pub(crate) external_id: Option<String>,
    /// RFC 7644 only: `emails` as written (Amplitude derives them from the e-mail).
    pub(crate) emails: Vec<Email>,
    /// RFC 7644 only: `active` was removed by a PatchOp, so it is not shown (still active).
    pub(crate) active_unset: bool,
    /// Bumped on every change: `meta.version` is `W/"<version>"`.
    pub(crate) version: u64,
}

#[derive(Clone, Debug)]
pub(crate) struct GroupRec {
    /// Amplitude: a decimal integer; RFC 7644: an opaque hex id.
    pub(crate) id: String,
    pub(crate) name: String,
    /// User sequence numbers, so members list in user creation order.
    pub(crate) members: BTreeSet<u64>,
    pub(crate) created: String,
    pub(crate) modified: String,
    pub(crate) external_id: Option<String>,
    pub(crate) version: u64,
}

pub(crate) struct Directory {
    pub(crate) profile: Profile,
    pub(crate) switches: Switches,
    users: BTreeMap<u64, UserRec>,
    user_ids: HashMap<String, u64>,
    user_emails: HashMap<String, u64>,
    groups: BTreeMap<u64, GroupRec>,
    group_ids: HashMap<String, u64>,
    next_user: u64,
    next_group: u64,
    next_group_number: u64,
    pub(crate) rng: StdRng,
    /// Memberships PATCHes changed, in order.
    pub(crate) member_log: Vec<super::config::MemberChange>,
    /// The last version handed out (versions are unique across the directory).
    last_version: u64,
    /// The last write time handed out, in Unix milliseconds (strictly increasing).
    last_stamp_ms: u64,
}

impl Directory {
    pub(crate) fn new(profile: Profile, switches: Switches, seed: u64) -> Directory {
        Directory {
            profile,
            switches,
            users: BTreeMap::new(),
            user_ids: HashMap::new(),
            user_emails: HashMap::new(),
            groups: BTreeMap::new(),
            group_ids: HashMap::new(),
            next_user: 0,
            next_group: 0,
            next_group_number: FIRST_GROUP_NUMBER,
            rng: StdRng::seed_from_u64(seed),
            member_log: Vec::new(),
            last_version: 0,
            last_stamp_ms: 0,
        }
    }

    /// A new version for a resource that changed.
    pub(crate) fn next_version(&mut self) -> u64 {
        self.last_version += 1;
        self.last_version
    }

    /// The time of a write, later than every earlier one (by a millisecond if the clock has
    /// not moved), so `meta.lastModified gt` a seen time never misses a later change.
    pub(crate) fn stamp(&mut self) -> String {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_millis() as u64;
        self.last_stamp_ms = now.max(self.last_stamp_ms + 1);
        iso8601(
            self.last_stamp_ms / 1_000,
            (self.last_stamp_ms % 1_000) as u32,
        )
    }

    /// Marks users as changed (their `groups` changed with a group's members or name).
    pub(crate) fn touch_users(&mut self, seqs: impl IntoIterator<Item = u64>, now: &str) {
        for seq in seqs {
            let version = self.next_version();
            if let Some(user) = self.users.get_mut(&seq) {
                // Seeding adds members after the fact: a user never looks modified before it
                // was created (the stamps share one fixed-width format, so text order is time order).
                if now > user.modified.as_str() {
                    user.modified = now.to_owned();
                }
                user.version = version;
            }
        }
    }

    /// Marks a group as changed.
    pub(crate) fn touch_group(&mut self, seq: u64, now: &str) {
        let version = self.next_version();
        if let Some(group) = self.groups.get_mut(&seq) {
            group.modified = now.to_owned();
            group.version = version;
        }
    }

    /// The groups a user is a member of.
    fn groups_with(&self, seq: u64) -> Vec<u64> {
        self.groups
            .iter()
            .filter(|(_, g)| g.members.contains(&seq))
            .map(|(k, _)| *k)
            .collect()
    }

    /// Takes a user out of every group, marking those groups changed.
    fn leave_groups(&mut self, seq: u64) {
        let now = self.stamp();
        for g in self.groups_with(seq) {
            if let Some(group) = self.groups.get_mut(&g) {
                group.members.remove(&seq);
            }
            self.touch_group(g, &now);
        }
    }

    fn opaque_id(&mut self) -> String {
        format!(
            "{:016x}{:016x}",
            self.rng.random::<u64>(),
            self.rng.random::<u64>()
        )
    }

    // ---- users ----

    pub(crate) fn users(&self) -> impl DoubleEndedIterator<Item = (u64, &UserRec)> {
        self.users.iter().map(|(k, v)| (*k, v))
    }

    pub(crate) fn user_count(&self) -> usize {
        self.users.len()
    }

    pub(crate) fn user(&self, seq: u64) -> Option<&UserRec> {
        self.users.get(&seq)
    }

    /// The user with this id (case-insensitive).
    pub(crate) fn user_seq(&self, id: &str) -> Option<u64> {
        self.user_ids.get(&id.to_lowercase()).copied()
    }

    /// The user with this e-mail (case-insensitive).
    pub(crate) fn user_seq_by_email(&self, email: &str) -> Option<u64> {
        self.user_emails.get(&email.to_lowercase()).copied()
    }

    /// Adds a user; fails with the duplicate status when the e-mail is taken (even pending).
    pub(crate) fn create_user(
        &mut self,
        email: &str,
        given: Option<String>,
        family: Option<String>,
        pending: bool,
        now: &str,
    ) -> Result<u64, ScimError> {
        if self.user_seq_by_email(email).is_some() {
            let status = StatusCode::from_u16(self.switches.duplicate_user_status)
                .unwrap_or(StatusCode::CONFLICT);
            return Err(ScimError::uniqueness(
                status,
                format!("User {email} already exists"),
            ));
        }
        let id = match self.profile {
            Profile::Amplitude => email.to_owned(),
            Profile::Rfc7644 => self.opaque_id(),
        };
        let version = self.next_version();
        Ok(self.insert_user(UserRec {
            id,
            email: email.to_owned(),
            given,
            family,
            pending,
            active: true,
            created: now.to_owned(),
            modified: now.to_owned(),
            external_id: None,
            emails: vec![Email {
                value: email.to_owned(),
                primary: Some(true),
                kind: None,
            }],
            active_unset: false,
            version,
        }))
    }

    /// Inserts a record whose e-mail is known to be free.
    pub(crate) fn insert_user(&mut self, rec: UserRec) -> u64 {
        let seq = self.next_user;
        self.next_user += 1;
        self.user_ids.insert(rec.id.to_lowercase(), seq);
        self.user_emails.insert(rec.email.to_lowercase(), seq);
        self.users.insert(seq, rec);
        seq
    }

    /// An unknown member e-mail on Amplitude: invited with no names.
    pub(crate) fn invite(&mut self, email: &str, now: &str) -> Result<u64, ScimError> {
        validate_email(email)?;
        self.create_user(email, None, None, true, now)
    }

    /// Replaces names and `active`. `active: false` takes the user out of every group and,
    /// unless `list_deactivated`, out of the organization.
    pub(crate) fn update_user(
        &mut self,
        seq: u64,
        given: Option<String>,
        family: Option<String>,
        active: bool,
        now: &str,
    ) {
        if !active {
            self.leave_groups(seq);
            if !self.switches.list_deactivated {
                self.delete_user(seq);
                return;
            }
        }
        if let Some(user) = self.users.get_mut(&seq) {
            user.given = given;
            user.family = family;
            user.active = active;
        }
        self.touch_users([seq], now);
    }

    pub(crate) fn user_mut(&mut self, seq: u64) -> Option<&mut UserRec> {
        self.users.get_mut(&seq)
    }

    /// Changes a user's `userName` (RFC 7644; the index follows), 409 if another has it.
    pub(crate) fn rename_user(&mut self, seq: u64, user_name: &str) -> Result<(), ScimError> {
        let lower = user_name.to_lowercase();
        match self.user_emails.get(&lower) {
            Some(other) if *other != seq => {
                return Err(ScimError::uniqueness(
                    StatusCode::CONFLICT,
                    format!("User {user_name} already exists"),
                ));
            }
            _ => {}
        }
        let Some(user) = self.users.get_mut(&seq) else {
            return Ok(());
        };
        self.user_emails.remove(&user.email.to_lowercase());
        user.email = user_name.to_owned();
        self.user_emails.insert(lower, seq);
        Ok(())
    }

    pub(crate) fn delete_user(&mut self, seq: u64) -> Option<UserRec> {
        let rec = self.users.remove(&seq)?;
        self.user_ids.remove(&rec.id.to_lowercase());
        self.user_emails.remove(&rec.email.to_lowercase());
        self.leave_groups(seq);
        Some(rec)
    }

    /// Accepts a pending invite; returns whether there was one.
    pub(crate) fn accept(&mut self, seq: u64) -> bool {
        let Some(user) = self.users.get_mut(&seq).filter(|u| u.pending) else {
            return false;
        };
        let (given, family) = names_from_email(&user.email);
        user.given.get_or_insert(given);
        user.family.get_or_insert(family);
        user.pending = false;
        let now = self.stamp();
        self.touch_users([seq], &now);
        true
    }

    // ---- groups ----

    pub(crate) fn groups(&self) -> impl DoubleEndedIterator<Item = (u64, &GroupRec)> {
        self.groups.iter().map(|(k, v)| (*k, v))
    }

    pub(crate) fn group(&self, seq: u64) -> Option<&GroupRec> {
        self.groups.get(&seq)
    }

    pub(crate) fn group_mut(&mut self, seq: u64) -> Option<&mut GroupRec> {
        self.groups.get_mut(&seq)
    }

    pub(crate) fn group_seq(&self, id: &str) -> Option<u64> {
        let key = match self.profile {
            // "0632" and "632" name the same integer id.
            Profile::Amplitude => id.trim().parse::<u64>().ok()?.to_string(),
            Profile::Rfc7644 => id.to_lowercase(),
        };
        self.group_ids.get(&key).copied()
    }

    /// Fails with 409 `uniqueness` when another group has this display name (case-insensitive).
    pub(crate) fn check_group_name(
        &self,
        name: &str,
        except: Option<u64>,
    ) -> Result<(), ScimError> {
        let lower = name.to_lowercase();
        let taken = self
            .groups
            .iter()
            .any(|(seq, g)| Some(*seq) != except && g.name.to_lowercase() == lower);
        if taken {
            return Err(ScimError::uniqueness(
                StatusCode::CONFLICT,
                format!("Group {name:?} already exists"),
            ));
        }
        Ok(())
    }

    pub(crate) fn create_group(&mut self, name: &str, members: BTreeSet<u64>, now: &str) -> u64 {
        let id = match self.profile {
            Profile::Amplitude => {
                self.next_group_number += 1;
                (self.next_group_number - 1).to_string()
            }
            Profile::Rfc7644 => self.opaque_id(),
        };
        let seq = self.next_group;
        self.next_group += 1;
        let version = self.next_version();
        self.touch_users(members.iter().copied(), now);
        self.group_ids.insert(id.to_lowercase(), seq);
        self.groups.insert(
            seq,
            GroupRec {
                id,
                name: name.to_owned(),
                members,
                created: now.to_owned(),
                modified: now.to_owned(),
                external_id: None,
                version,
            },
        );
        seq
    }

    pub(crate) fn delete_group(&mut self, seq: u64) -> Option<GroupRec> {
        let rec = self.groups.remove(&seq)?;
        self.group_ids.remove(&rec.id.to_lowercase());
        let now = self.stamp();
        self.touch_users(rec.members.iter().copied(), &now);
        Some(rec)
    }
}

/// Amplitude ids are e-mail addresses; anything without an `@` is rejected.
pub(crate) fn validate_email(email: &str) -> Result<(), ScimError> {
    let ok = email.split_once('@').is_some_and(|(local, domain)| {
        !local.is_empty() && !domain.is_empty() && !email.contains(char::is_whitespace)
    });
    if ok {
        Ok(())
    } else {
        Err(ScimError::invalid_value(format!(
            "{email:?} is not an e-mail address"
        )))
    }
}

/// "Given"/"Family"-like names for an invitee who gave none: from `first.last@...`.
pub(crate) fn names_from_email(email: &str) -> (String, String) {
    let local = email.split('@').next().unwrap_or_default();
    let mut parts = local
        .split(['.', '_', '-', '+'])
        .filter(|p| p.chars().any(char::is_alphabetic))
        .map(capitalize);
    let given = parts.next().unwrap_or_else(|| "Given".to_owned());
    let family = parts.next().unwrap_or_else(|| "Family".to_owned());
    (given, family)
}

fn capitalize(s: &str) -> String {
    let s: String = s.chars().filter(|c| !c.is_ascii_digit()).collect();
    let mut chars = s.chars();
    match chars.next() {
        Some(c) => c
            .to_uppercase()
            .chain(chars.flat_map(char::to_lowercase))
            .collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_stamps_strictly_increase_and_versions_are_unique() {
        let mut dir = Directory::new(Profile::Rfc7644, Switches::default(), 1);
        let stamps: Vec<String> = (0..50).map(|_| dir.stamp()).collect();
        assert!(stamps.windows(2).all(|w| w[0] < w[1]), "{stamps:?}");
        let a = dir.next_version();
        assert!(dir.next_version() > a);
    }

    #[test]
    fn names_from_email_capitalizes_local_parts() {
        assert_eq!(
            names_from_email("new.invitee@example.com"),
            ("New".into(), "Invitee".into())
        );
        assert_eq!(
            names_from_email("ADA@example.com"),
            ("Ada".into(), "Family".into())
        );
        assert_eq!(
            names_from_email("42@example.com"),
            ("Given".into(), "Family".into())
        );
        assert_eq!(names_from_email("ada.lovelace2@example.com").1, "Lovelace");
    }

    #[test]
    fn emails_need_an_at_sign() {
        assert!(validate_email("a@b").is_ok());
        assert!(validate_email("ab").is_err());
        assert!(validate_email("@b").is_err());
        assert!(validate_email("a b@c").is_err());
    }
}
