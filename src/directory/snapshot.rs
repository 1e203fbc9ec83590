//! An immutable view of one organization's directory: users in upstream order, groups, the
//! user → groups index and the sorted orders connections page through. Replaced whole, never
//! edited in place, so a reader holding one sees a consistent directory.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::SystemTime;

use super::index::{KeyIndex, Memberships};
use super::record::{GroupRec, UserRec};
use crate::scim::{EmailLookup, KeyRule};

#[derive(Clone, Default)]
pub struct Snapshot {
    /// Every user and group has arrived (false while a cold load streams in).
    pub(crate) complete: bool,
    /// The group list has arrived (memberships can be answered).
    pub(crate) groups_loaded: bool,
    /// When the load that produced this snapshot finished (`None` while loading).
    pub(crate) fetched_at: Option<SystemTime>,
    /// `totalResults` of the user list as the upstream last reported it.
    pub(crate) upstream_user_total: Option<u64>,
    pub(super) users: Vec<Arc<UserRec>>,
    pub(super) user_index: KeyIndex,
    /// E-mail → position, where users are found by `userName` (the key rule's e-mail lookup).
    pub(super) email_index: Option<KeyIndex>,
    pub(super) by_email: Vec<u32>,
    pub(super) by_family: Vec<u32>,
    pub(super) by_given: Vec<u32>,
    pub(super) groups: Vec<Arc<GroupRec>>,
    pub(super) group_index: HashMap<String, u32>,
    pub(super) groups_by_name: Vec<u32>,
    /// User → positions of the groups the user is a member of, sorted by group name.
    pub(super) memberships: Memberships,
}

impl Snapshot {
    pub(crate) fn user_count(&self) -> usize {
        self.users.len()
    }

    pub(crate) fn group_count(&self) -> usize {
        self.groups.len()
    }

    pub fn users(&self) -> &[Arc<UserRec>] {
        &self.users
    }

    pub fn groups(&self) -> &[Arc<GroupRec>] {
        &self.groups
    }

    /// The position of a user in `users`.
    pub(super) fn user_position(&self, key: &str) -> Option<usize> {
        self.user_index.find(key, |i| self.users[i].key())
    }

    pub(crate) fn user_by_key(&self, key: &str) -> Option<&Arc<UserRec>> {
        self.user_position(key).map(|i| &self.users[i])
    }

    pub(crate) fn user_by_email(&self, email_lc: &str) -> Option<&Arc<UserRec>> {
        match &self.email_index {
            Some(index) => index
                .find(email_lc, |i| self.users[i].email_lc())
                .map(|i| &self.users[i]),
            None => self.user_by_key(email_lc),
        }
    }

    pub fn group(&self, id: &str) -> Option<&Arc<GroupRec>> {
        self.group_index.get(id).map(|i| &self.groups[*i as usize])
    }

    /// Positions of the groups a user is a member of, by name. A member the user list does
    /// not show (rare) is looked up in the groups' member lists.
    pub(super) fn group_positions_of(&self, user_key: &str) -> Cow<'_, [u32]> {
        match self.user_position(user_key) {
            Some(u) => Cow::Borrowed(self.memberships.of(u)),
            None => Cow::Owned(
                self.groups_by_name
                    .iter()
                    .copied()
                    .filter(|g| self.groups[*g as usize].member_keys.contains(user_key))
                    .collect(),
            ),
        }
    }

    /// The groups a user is a member of, by name.
    pub fn groups_of(&self, user_key: &str) -> impl Iterator<Item = &Arc<GroupRec>> {
        let positions = self.group_positions_of(user_key);
        (0..positions.len()).map(move |i| &self.groups[positions[i] as usize])
    }

    pub(crate) fn is_member_of_any(&self, user_key: &str) -> bool {
        !self.group_positions_of(user_key).is_empty()
    }

    pub(super) fn empty() -> Snapshot {
        Snapshot::default()
    }
}

/// Builds a snapshot from upstream pages, keeping each known user's position number.
pub(super) struct Builder {
    previous: Option<Arc<Snapshot>>,
    next_seq: u64,
    /// The directory's key rule: decides whether snapshots carry an e-mail index.
    keys: KeyRule,
    users: Vec<Arc<UserRec>>,
    user_index: KeyIndex,
    groups: Vec<Arc<GroupRec>>,
    groups_loaded: bool,
    pub(crate) upstream_user_total: Option<u64>,
}

impl Builder {
    pub(crate) fn new(previous: Option<Arc<Snapshot>>, keys: KeyRule) -> Builder {
        let next_seq = previous
            .as_ref()
            .and_then(|p| p.users.iter().map(|u| u.seq).max())
            .map_or(0, |m| m + 1);
        Builder {
            previous,
            next_seq,
            keys,
            users: Vec::new(),
            user_index: KeyIndex::default(),
            groups: Vec::new(),
            groups_loaded: false,
            upstream_user_total: None,
        }
    }

    /// The position number a user keeps (if known before) or gets.
    pub(crate) fn seq_for(&mut self, key: &str) -> u64 {
        if let Some(prev) = self.previous.as_ref().and_then(|p| p.user_by_key(key)) {
            return prev.seq;
        }
        let seq = self.next_seq;
        self.next_seq += 1;
        seq
    }

    pub(crate) fn add_user(&mut self, rec: impl Into<Arc<UserRec>>) {
        let rec = rec.into();
        // Offset paging over a changing directory can deliver a user twice: keep the newest.
        let users = &self.users;
        match self.user_index.find(rec.key(), |i| users[i].key()) {
            Some(i) => self.users[i] = rec,
            None => {
                self.users.push(rec);
                let users = &self.users;
                self.user_index.insert(users.len() - 1, &|i| users[i].key());
            }
        }
    }

    pub(crate) fn add_group(&mut self, rec: impl Into<Arc<GroupRec>>) {
        let rec = rec.into();
        if let Some(existing) = self.groups.iter_mut().find(|g| g.id == rec.id) {
            *existing = rec;
        } else {
            self.groups.push(rec);
        }
    }

    pub fn group(&self, id: &str) -> Option<&GroupRec> {
        self.groups.iter().find(|g| g.id == id).map(|g| &**g)
    }

    pub(crate) fn next_group_seq(&self) -> u64 {
        self.groups.iter().map(|g| g.seq).max().map_or(0, |m| m + 1)
    }

    pub(crate) fn group_ids_with_member(&self, key: &str) -> Vec<String> {
        self.groups
            .iter()
            .filter(|g| g.member_keys.contains(key))
            .map(|g| g.id.clone())
            .collect()
    }

    pub(crate) fn remove_user(&mut self, key: &str) {
        let users = &self.users;
        if self.user_index.find(key, |i| users[i].key()).is_some() {
            self.users.retain(|u| u.key() != key);
            let users = &self.users;
            self.user_index = KeyIndex::build(users.len(), |i| users[i].key());
        }
    }

    pub(crate) fn remove_group(&mut self, id: &str) {
        self.groups.retain(|g| g.id != id);
    }

    pub(crate) fn groups_done(&mut self) {
        self.groups_loaded = true;
    }

    pub(crate) fn user_count(&self) -> usize {
        self.users.len()
    }

    /// A snapshot of what has arrived so far (for a cold load) or of everything (`complete`).
    pub(crate) fn snapshot(&self, complete: bool, fetched_at: Option<SystemTime>) -> Snapshot {
        let mut users = self.users.clone();
        // Users arrive in upstream order, which is the order of their numbers unless the
        // directory changed between two refreshes; only then do positions move.
        let user_index = if users.is_sorted_by_key(|u| u.seq) {
            self.user_index.clone()
        } else {
            users.sort_by_key(|u| u.seq);
            KeyIndex::build(users.len(), |i| users[i].key())
        };
        // Where the e-mail is the id, the user index answers e-mail lookups too.
        let email_index = match self.keys.email_lookup() {
            EmailLookup::ById => None,
            EmailLookup::ByUserName => Some(KeyIndex::build(users.len(), |i| users[i].email_lc())),
        };
        let mut groups = self.groups.clone();
        groups.sort_by_key(|g| g.seq);
        let group_index = groups
            .iter()
            .enumerate()
            .map(|(i, g)| (g.id.clone(), i as u32))
            .collect();
        let mut groups_by_name: Vec<u32> = (0..groups.len() as u32).collect();
        groups_by_name.sort_by(|a, b| {
            let (a, b) = (&groups[*a as usize], &groups[*b as usize]);
            (&a.name_lc, &a.id).cmp(&(&b.name_lc, &b.id))
        });
        let memberships = Memberships::build(
            users.len(),
            groups_by_name
                .iter()
                .map(|gi| (*gi, groups[*gi as usize].member_keys.iter())),
            |key| user_index.find(key, |i| users[i].key()),
        );
        let (by_email, by_family, by_given) = if complete {
            (
                sorted(&users, Order::Email.key()),
                sorted(&users, Order::Family.key()),
                sorted(&users, Order::Given.key()),
            )
        } else {
            Default::default()
        };
        Snapshot {
            complete,
            groups_loaded: self.groups_loaded,
            fetched_at,
            upstream_user_total: self.upstream_user_total,
            users,
            user_index,
            email_index,
            by_email,
            by_family,
            by_given,
            groups,
            group_index,
            groups_by_name,
            memberships,
        }
    }
}

/// The sorted orders a complete snapshot keeps (positions into `users`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Order {
    Email,
    Family,
    Given,
}

type OrderKey<'a> = (&'a str, &'a str, &'a str);

impl Order {
    pub(crate) const ALL: [Order; 3] = [Order::Email, Order::Family, Order::Given];

    /// What the order sorts by (the same components as `user_sort_key`).
    pub(crate) fn key(self) -> for<'a> fn(&'a UserRec) -> OrderKey<'a> {
        match self {
            Order::Email => |u| (u.email_lc(), "", u.key()),
            Order::Family => |u| {
                (
                    name_key(u.family_lc(), u.placeholder()),
                    name_key(u.given_lc(), u.placeholder()),
                    u.key(),
                )
            },
            Order::Given => |u| {
                (
                    name_key(u.given_lc(), u.placeholder()),
                    name_key(u.family_lc(), u.placeholder()),
                    u.key(),
                )
            },
        }
    }
}

impl Snapshot {
    pub(super) fn order_mut(&mut self, order: Order) -> &mut Vec<u32> {
        match order {
            Order::Email => &mut self.by_email,
            Order::Family => &mut self.by_family,
            Order::Given => &mut self.by_given,
        }
    }
}

/// Missing and placeholder names sort after every real one.
pub(super) fn name_key(name: &str, placeholder: bool) -> &str {
    if placeholder || name.is_empty() {
        "\u{10FFFF}"
    } else {
        name
    }
}

fn sorted<'a, K: Ord + 'a>(users: &'a [Arc<UserRec>], key: impl Fn(&'a UserRec) -> K) -> Vec<u32> {
    let mut idx: Vec<u32> = (0..users.len() as u32).collect();
    idx.sort_by_cached_key(|i| key(&users[*i as usize]));
    idx
}
