//! What the mirror holds per user and per group: the upstream resource plus the keys the
//! gateway sorts, filters and joins by, computed once when the resource arrives.

use std::time::SystemTime;

use crate::scim::wire::{GROUP_SCHEMA, Group, Member, Meta, USER_SCHEMA, User};

fn plain_meta() -> Meta {
    Meta {
        resource_type: Some("User".to_owned()),
        ..Meta::default()
    }
}

/// Amplitude's placeholder names for invitees who have not signed up.
pub const PLACEHOLDER_GIVEN: &str = "NO_GIVEN_NAME";
pub const PLACEHOLDER_FAMILY: &str = "NO_FAMILY_NAME";

/// Where an object was read from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// The organization's mirror, filled by a full refresh.
    Mirror,
    /// A point read of this one resource, made because the mirror did not have it.
    Upstream,
}

/// Derived membership state. Amplitude lists pending invitees as `active: true`, so INVITED is
/// derived: Amplitude's placeholder names, or an invite this gateway sent and has not yet seen
/// with real names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    Active,
    Invited,
    Deactivated,
}

#[derive(Clone, Debug)]
pub struct UserRec {
    /// The lookup key: the id, lower-cased when ids are e-mails (Amplitude).
    pub key: String,
    /// Position in the upstream's listing order, stable across refreshes: a user keeps the
    /// number it was first seen with; newcomers get higher ones.
    pub seq: u64,
    pub user: User,
    pub email_lc: String,
    pub given_lc: String,
    pub family_lc: String,
    pub placeholder: bool,
    pub fetched_at: SystemTime,
    pub source: Source,
}

impl UserRec {
    pub fn new(
        key: String,
        seq: u64,
        user: User,
        fetched_at: SystemTime,
        source: Source,
    ) -> UserRec {
        let email_lc = user.email().to_lowercase();
        let given_lc = user.given_name().unwrap_or("").to_lowercase();
        let family_lc = user.family_name().unwrap_or("").to_lowercase();
        let placeholder = user.given_name() == Some(PLACEHOLDER_GIVEN)
            || user.family_name() == Some(PLACEHOLDER_FAMILY);
        UserRec {
            key,
            seq,
            user,
            email_lc,
            given_lc,
            family_lc,
            placeholder,
            fetched_at,
            source,
        }
    }

    /// The user as a SCIM resource, as the upstream sent it.
    pub fn resource(&self) -> User {
        let mut user = self.user.clone();
        if user.schemas.is_empty() {
            user.schemas = vec![USER_SCHEMA.to_owned()];
        }
        if user.id.is_none() {
            user.id = Some(user.user_name.clone());
        }
        if user.meta.is_none() {
            user.meta = Some(Box::new(plain_meta()));
        }
        user
    }

    /// The upstream's id of the user.
    pub fn id(&self) -> &str {
        self.user.id.as_deref().unwrap_or(&self.user.user_name)
    }

    /// The status, given whether this gateway has an unaccepted invite on record for the user.
    pub fn status(&self, invited_by_gateway: bool) -> Status {
        if !self.user.active {
            Status::Deactivated
        } else if self.placeholder || invited_by_gateway {
            Status::Invited
        } else {
            Status::Active
        }
    }

    /// A real given name, if the upstream has one (not a placeholder).
    pub fn given_name(&self) -> Option<&str> {
        self.user
            .given_name()
            .filter(|n| *n != PLACEHOLDER_GIVEN && !n.is_empty())
    }

    pub fn family_name(&self) -> Option<&str> {
        self.user
            .family_name()
            .filter(|n| *n != PLACEHOLDER_FAMILY && !n.is_empty())
    }

    /// "Given Family" when known, else the upstream's `displayName`, else the e-mail.
    pub fn display_name(&self) -> String {
        match (self.given_name(), self.family_name()) {
            (Some(g), Some(f)) => format!("{g} {f}"),
            (Some(n), None) | (None, Some(n)) => n.to_owned(),
            (None, None) => self
                .user
                .display_name
                .clone()
                .filter(|d| !d.is_empty() && d != "undefined undefined")
                .unwrap_or_else(|| self.user.email().to_owned()),
        }
    }

    /// Whether the e-mail or either name contains `needle` (already lower-cased).
    pub fn matches_search(&self, needle: &str) -> bool {
        self.email_lc.contains(needle)
            || (!self.placeholder
                && (self.given_lc.contains(needle) || self.family_lc.contains(needle)))
    }
}

#[derive(Clone, Debug)]
pub struct GroupRec {
    pub id: String,
    pub seq: u64,
    pub group: Group,
    pub name_lc: String,
    /// Member keys in the form user keys take (lower-cased e-mails on Amplitude).
    pub member_keys: Vec<String>,
    pub fetched_at: SystemTime,
    pub source: Source,
}

impl GroupRec {
    pub fn new(
        id: String,
        seq: u64,
        mut group: Group,
        member_keys: Vec<String>,
        fetched_at: SystemTime,
        source: Source,
    ) -> GroupRec {
        // Members are kept once, as user keys; `resource` renders them back.
        group.members = Vec::new();
        GroupRec {
            name_lc: group.display_name.to_lowercase(),
            id,
            seq,
            group,
            member_keys,
            fetched_at,
            source,
        }
    }

    /// The group as a SCIM resource, members by value (their user keys).
    pub fn resource(&self) -> Group {
        let mut group = self.group.clone();
        group.members = self.member_keys.iter().map(|k| Member::new(k)).collect();
        if group.schemas.is_empty() {
            group.schemas = vec![GROUP_SCHEMA.to_owned()];
        }
        group
    }
}
