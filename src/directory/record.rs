//! What the mirror holds per user and per group: the upstream resource plus the keys the
//! gateway sorts, filters and joins by, computed once when the resource arrives.

use std::time::SystemTime;

use super::packed::PackedList;
use crate::scim::wire::{Email, GROUP_SCHEMA, Group, Member, Meta, Name, USER_SCHEMA, User};

fn plain_meta() -> Meta {
    Meta {
        resource_type: Some("User".to_owned()),
        ..Meta::default()
    }
}

/// Amplitude's placeholder names for invitees who have not signed up.
pub(crate) const PLACEHOLDER_GIVEN: &str = "NO_GIVEN_NAME";
pub(crate) const PLACEHOLDER_FAMILY: &str = "NO_FAMILY_NAME";

/// Where an object was read from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Source {
    /// The organization's mirror, filled by a full refresh.
    Mirror,
    /// A point read of this one resource, made because the mirror did not have it.
    Upstream,
}

/// Derived membership state. Amplitude lists pending invitees as `active: true`, so INVITED is
/// derived: Amplitude's placeholder names, or an invite this gateway sent and has not yet seen
/// with real names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Status {
    Active,
    Invited,
    Deactivated,
}

/// A user's strings, packed into one allocation (see `UserRec`).
const KEY: usize = 0;
/// Empty when equal to the key.
const USER_NAME: usize = 1;
/// Empty when equal to `userName`.
const ID: usize = 2;
/// Empty when equal to `userName`.
const EMAIL: usize = 3;
const GIVEN: usize = 4;
const FAMILY: usize = 5;
const DISPLAY: usize = 6;
/// Empty when equal to the key.
const EMAIL_LC: usize = 7;
/// Empty when equal to the given name.
const GIVEN_LC: usize = 8;
/// Empty when equal to the family name.
const FAMILY_LC: usize = 9;
const PARTS: usize = 10;

const HAS_NAME: u8 = 1;
const HAS_GIVEN: u8 = 2;
const HAS_FAMILY: u8 = 4;
const HAS_DISPLAY: u8 = 8;
const ACTIVE: u8 = 16;
const PLACEHOLDER: u8 = 32;

/// One user as the mirror keeps it: about 200 bytes for a typical Amplitude user. The strings
/// live in one buffer, a part equal to another is stored once, and the SCIM resource is
/// rendered on demand. A resource that rendering would not reproduce exactly (other schemas,
/// `meta` dates, several e-mails, an `externalId`, ...) is kept whole beside it, so `resource`
/// always returns what the upstream sent.
#[derive(Clone, Debug)]
pub struct UserRec {
    text: Box<str>,
    ends: [u32; PARTS],
    flags: u8,
    pub(crate) source: Source,
    /// Position in the upstream's listing order, stable across refreshes: a user keeps the
    /// number it was first seen with; newcomers get higher ones.
    pub(crate) seq: u64,
    pub(crate) fetched_at: SystemTime,
    /// The resource as received, when rendering would not reproduce it.
    whole: Option<Box<User>>,
}

/// `part`, or "" when it equals `same` (stored once).
fn unless<'a>(part: &'a str, same: &str) -> &'a str {
    if part == same { "" } else { part }
}

/// The resource as the mirror has always shown it: the fields SCIM makes implicit filled in.
fn normalized(mut user: User) -> User {
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

impl UserRec {
    /// `key` is the lookup key: the id, lower-cased when ids are e-mails (Amplitude).
    pub(crate) fn new(
        key: String,
        seq: u64,
        user: User,
        fetched_at: SystemTime,
        source: Source,
    ) -> UserRec {
        let user = normalized(user);
        let given = user.given_name();
        let family = user.family_name();
        let email = user.email();
        let mut flags = 0;
        for (set, flag) in [
            (user.name.is_some(), HAS_NAME),
            (given.is_some(), HAS_GIVEN),
            (family.is_some(), HAS_FAMILY),
            (user.display_name.is_some(), HAS_DISPLAY),
            (user.active, ACTIVE),
            (
                given == Some(PLACEHOLDER_GIVEN) || family == Some(PLACEHOLDER_FAMILY),
                PLACEHOLDER,
            ),
        ] {
            if set {
                flags |= flag;
            }
        }
        let (given, family) = (given.unwrap_or(""), family.unwrap_or(""));
        let (email_lc, given_lc, family_lc) = (
            email.to_lowercase(),
            given.to_lowercase(),
            family.to_lowercase(),
        );
        let id = user.id.as_deref().unwrap_or("");
        let parts: [&str; PARTS] = [
            &key,
            unless(&user.user_name, &key),
            unless(id, &user.user_name),
            unless(email, &user.user_name),
            given,
            family,
            user.display_name.as_deref().unwrap_or(""),
            unless(&email_lc, &key),
            unless(&given_lc, given),
            unless(&family_lc, family),
        ];
        let mut text = String::with_capacity(parts.iter().map(|p| p.len()).sum());
        let mut ends = [0; PARTS];
        for (end, part) in ends.iter_mut().zip(parts) {
            text.push_str(part);
            *end = u32::try_from(text.len()).unwrap_or(u32::MAX);
        }
        let mut rec = UserRec {
            text: text.into_boxed_str(),
            ends,
            flags,
            source,
            seq,
            fetched_at,
            whole: None,
        };
        if rec.render() != user {
            rec.whole = Some(Box::new(user));
        }
        rec
    }

    fn part(&self, i: usize) -> &str {
        super::packed::part(&self.text, &self.ends, i)
    }

    /// The part, or `or` where the part is stored as "the same as another".
    fn part_or<'a>(&'a self, i: usize, or: &'a str) -> &'a str {
        match self.part(i) {
            "" => or,
            p => p,
        }
    }

    fn has(&self, flag: u8) -> bool {
        self.flags & flag != 0
    }

    /// The lookup key: the id, lower-cased when ids are e-mails (Amplitude).
    pub fn key(&self) -> &str {
        self.part(KEY)
    }

    pub(crate) fn user_name(&self) -> &str {
        self.part_or(USER_NAME, self.key())
    }

    /// The upstream's id of the user.
    pub(crate) fn id(&self) -> &str {
        self.part_or(ID, self.user_name())
    }

    /// The primary e-mail, else the first one, else `userName`.
    pub fn email(&self) -> &str {
        self.part_or(EMAIL, self.user_name())
    }

    pub(crate) fn email_lc(&self) -> &str {
        self.part_or(EMAIL_LC, self.key())
    }

    /// The given name lower-cased ("" when there is none).
    pub(crate) fn given_lc(&self) -> &str {
        self.part_or(GIVEN_LC, self.part(GIVEN))
    }

    pub(crate) fn family_lc(&self) -> &str {
        self.part_or(FAMILY_LC, self.part(FAMILY))
    }

    pub fn active(&self) -> bool {
        self.has(ACTIVE)
    }

    /// Whether the upstream shows Amplitude's placeholder names (an invitee).
    pub(crate) fn placeholder(&self) -> bool {
        self.has(PLACEHOLDER)
    }

    /// The resource rendered from the packed parts.
    fn render(&self) -> User {
        let text = |present: bool, part: usize| present.then(|| self.part(part).to_owned());
        User {
            schemas: vec![USER_SCHEMA.to_owned()],
            id: Some(self.id().to_owned()),
            user_name: self.user_name().to_owned(),
            name: self.has(HAS_NAME).then(|| Name {
                given_name: text(self.has(HAS_GIVEN), GIVEN),
                family_name: text(self.has(HAS_FAMILY), FAMILY),
                formatted: None,
            }),
            display_name: text(self.has(HAS_DISPLAY), DISPLAY),
            active: self.active(),
            emails: vec![Email {
                value: self.email().to_owned(),
                primary: Some(true),
                kind: None,
            }],
            groups: None,
            external_id: None,
            meta: Some(Box::new(plain_meta())),
        }
    }

    /// The user as a SCIM resource, as the upstream sent it.
    pub(crate) fn resource(&self) -> User {
        match &self.whole {
            Some(user) => (**user).clone(),
            None => self.render(),
        }
    }

    /// The status, given whether this gateway has an unaccepted invite on record for the user.
    pub(crate) fn status(&self, invited_by_gateway: bool) -> Status {
        if !self.active() {
            Status::Deactivated
        } else if self.placeholder() || invited_by_gateway {
            Status::Invited
        } else {
            Status::Active
        }
    }

    fn name_part(&self, flag: u8, part: usize, placeholder: &str) -> Option<&str> {
        Some(self.part(part)).filter(|n| self.has(flag) && *n != placeholder && !n.is_empty())
    }

    /// A real given name, if the upstream has one (not a placeholder).
    pub(crate) fn given_name(&self) -> Option<&str> {
        self.name_part(HAS_GIVEN, GIVEN, PLACEHOLDER_GIVEN)
    }

    pub(crate) fn family_name(&self) -> Option<&str> {
        self.name_part(HAS_FAMILY, FAMILY, PLACEHOLDER_FAMILY)
    }

    /// "Given Family" when known, else the upstream's `displayName`, else the e-mail.
    pub(crate) fn display_name(&self) -> String {
        match (self.given_name(), self.family_name()) {
            (Some(g), Some(f)) => [g, f].join(" "),
            (Some(n), None) | (None, Some(n)) => n.to_owned(),
            (None, None) => Some(self.part(DISPLAY))
                .filter(|d| self.has(HAS_DISPLAY) && !d.is_empty() && *d != "undefined undefined")
                .unwrap_or_else(|| self.email())
                .to_owned(),
        }
    }

    /// Whether the e-mail or either name contains `needle` (already lower-cased).
    pub(crate) fn matches_search(&self, needle: &str) -> bool {
        self.email_lc().contains(needle)
            || (!self.placeholder()
                && (self.given_lc().contains(needle) || self.family_lc().contains(needle)))
    }
}

#[derive(Clone, Debug)]
pub struct GroupRec {
    pub id: String,
    pub(crate) seq: u64,
    pub group: Group,
    pub(crate) name_lc: String,
    /// Member keys in the form user keys take (lower-cased e-mails on Amplitude), each once.
    pub member_keys: PackedList,
    pub(crate) fetched_at: SystemTime,
    pub(crate) source: Source,
}

impl GroupRec {
    pub(crate) fn new(
        id: String,
        seq: u64,
        mut group: Group,
        member_keys: PackedList,
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
    pub(crate) fn resource(&self) -> Group {
        let mut group = self.group.clone();
        group.members = self.member_keys.iter().map(Member::new).collect();
        if group.schemas.is_empty() {
            group.schemas = vec![GROUP_SCHEMA.to_owned()];
        }
        group
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scim::wire::GroupRef;

    fn rec(key: &str, user: User) -> UserRec {
        UserRec::new(
            key.to_owned(),
            7,
            user,
            SystemTime::UNIX_EPOCH,
            Source::Mirror,
        )
    }

    /// Whatever the upstream sent, `resource` gives it back (with SCIM's implicit fields filled
    /// in), whether the record is packed or keeps the resource whole.
    #[test]
    fn resource_round_trips_every_shape() {
        let amplitude = {
            let mut u = User::new("ada@example.com", "Ada", "Lovelace");
            u.id = Some("ada@example.com".into());
            u.meta = Some(Box::new(plain_meta()));
            u
        };
        let mut shapes = vec![("ada@example.com", amplitude.clone(), true)];
        let mut upper = User::new("Ada.L@Example.com", "Ada", "L");
        upper.id = Some("Ada.L@Example.com".into());
        shapes.push(("ada.l@example.com", upper, true));
        let mut placeholder = User::new("new@example.com", "NO_GIVEN_NAME", "NO_FAMILY_NAME");
        placeholder.schemas = Vec::new();
        shapes.push(("new@example.com", placeholder, true));
        let mut no_name = User::new("x@example.com", "", "");
        no_name.name = None;
        no_name.display_name = Some("X".into());
        no_name.active = false;
        shapes.push(("x@example.com", no_name, true));
        let mut half_name = User::new("h@example.com", "Half", "");
        half_name.name.as_mut().unwrap().family_name = None;
        shapes.push(("h@example.com", half_name, true));
        let mut rfc = User::new("grace@example.com", "Grace", "Hopper");
        rfc.id = Some("2819c223-7f76-453a-919d-413861904646".into());
        rfc.user_name = "grace".into();
        shapes.push(("2819c223-7f76-453a-919d-413861904646", rfc.clone(), true));
        // Shapes that rendering does not reproduce: kept whole.
        let mut dated = rfc.clone();
        dated.meta = Some(Box::new(Meta {
            resource_type: Some("User".into()),
            created: Some("2026-01-01T00:00:00Z".into()),
            ..Meta::default()
        }));
        shapes.push(("2819c223-7f76-453a-919d-413861904646", dated, false));
        let mut two_emails = amplitude.clone();
        two_emails.emails.push(Email {
            value: "ada@home.example".into(),
            primary: None,
            kind: Some("home".into()),
        });
        shapes.push(("ada@example.com", two_emails, false));
        let mut with_groups = amplitude.clone();
        with_groups.groups = Some(vec![GroupRef {
            value: crate::scim::wire::ResourceId("3".into()),
            display: Some("Eng".into()),
        }]);
        with_groups.external_id = Some("e-1".into());
        shapes.push(("ada@example.com", with_groups, false));
        let mut no_email = amplitude.clone();
        no_email.emails.clear();
        shapes.push(("ada@example.com", no_email, false));

        for (key, user, packed) in shapes {
            let r = rec(key, user.clone());
            assert_eq!(r.resource(), normalized(user.clone()), "{key}");
            assert_eq!(r.whole.is_none(), packed, "{key}: packed");
            assert_eq!(r.key(), key);
            assert_eq!(r.id(), user.id.as_deref().unwrap_or(&user.user_name));
            assert_eq!(r.email(), user.email());
            assert_eq!(r.email_lc(), user.email().to_lowercase());
            assert_eq!(r.active(), user.active);
            assert_eq!(r.given_lc(), user.given_name().unwrap_or("").to_lowercase());
            assert_eq!(
                r.family_lc(),
                user.family_name().unwrap_or("").to_lowercase()
            );
        }
    }

    #[test]
    fn names_status_and_search_hide_placeholders() {
        let invitee = rec(
            "new@example.com",
            User::new("new@example.com", PLACEHOLDER_GIVEN, PLACEHOLDER_FAMILY),
        );
        assert!(invitee.placeholder());
        assert_eq!(invitee.given_name(), None);
        assert_eq!(invitee.display_name(), "new@example.com");
        assert_eq!(invitee.status(false), Status::Invited);
        assert!(!invitee.matches_search("no_given"));
        assert!(invitee.matches_search("new@"));

        let ada = rec(
            "ada@example.com",
            User::new("Ada@Example.com", "Ada", "Lovelace"),
        );
        assert_eq!(ada.display_name(), "Ada Lovelace");
        assert_eq!(ada.status(false), Status::Active);
        assert_eq!(ada.status(true), Status::Invited);
        assert!(ada.matches_search("lovel") && ada.matches_search("ada@ex"));

        let mut gone = User::new("g@example.com", "", "");
        gone.active = false;
        gone.display_name = Some("undefined undefined".into());
        let gone = rec("g@example.com", gone);
        assert_eq!(gone.status(true), Status::Deactivated);
        assert_eq!(gone.display_name(), "g@example.com");
    }
}
