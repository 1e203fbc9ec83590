//! What changed between two snapshots' contents (or a snapshot and the mirror now): users
//! added, removed, deactivated, reactivated and invited, and memberships granted and revoked,
//! with totals and counts per group. A user who left takes its memberships with it (each one
//! revoked); a new user brings its own (each one granted).

use std::collections::{BTreeMap, HashMap};

use super::content::{Content, UserEntry, UserStatus};

/// The kind of one change, in the order changes are listed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ChangeKind {
    /// A new user who is not INVITED.
    UserAdded,
    UserRemoved,
    /// ACTIVE or INVITED before, DEACTIVATED after.
    UserDeactivated,
    /// DEACTIVATED before, ACTIVE or INVITED after.
    UserReactivated,
    /// A new user whose status is INVITED.
    UserInvited,
    MembershipGranted,
    MembershipRevoked,
}

/// One change.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Change {
    pub kind: ChangeKind,
    pub user_id: String,
    pub email: String,
    /// For membership changes.
    pub group_id: Option<String>,
    pub group_name: Option<String>,
}

/// How many changes of each kind.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Totals {
    pub users_added: usize,
    pub users_removed: usize,
    pub users_deactivated: usize,
    pub users_invited: usize,
    pub users_reactivated: usize,
    pub memberships_granted: usize,
    pub memberships_revoked: usize,
}

/// Membership changes of one group.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupChanges {
    pub group_id: String,
    /// The name in the later content (in the earlier one for a deleted group).
    pub group_name: String,
    pub granted: usize,
    pub revoked: usize,
}

/// The change from one content to another.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Diff {
    /// By kind, then user id, then group id.
    pub changes: Vec<Change>,
    pub totals: Totals,
    /// Groups with at least one membership change, by id.
    pub by_group: Vec<GroupChanges>,
}

/// The change from `from` to `to`.
pub fn diff(from: &Content, to: &Content) -> Diff {
    let before: HashMap<&str, &UserEntry> = from.users.iter().map(|u| (u.id.as_str(), u)).collect();
    let after: HashMap<&str, &UserEntry> = to.users.iter().map(|u| (u.id.as_str(), u)).collect();
    let mut changes = Vec::new();
    let user_change = |kind, u: &UserEntry| Change {
        kind,
        user_id: u.id.clone(),
        email: u.email.clone(),
        group_id: None,
        group_name: None,
    };
    let member_change = |kind, u: &UserEntry, id: &str, name: &str| Change {
        kind,
        user_id: u.id.clone(),
        email: u.email.clone(),
        group_id: Some(id.to_owned()),
        group_name: Some(name.to_owned()),
    };
    let names_after: HashMap<&str, &str> = to
        .groups
        .iter()
        .map(|g| (g.id.as_str(), g.name.as_str()))
        .collect();
    for u in &to.users {
        let was = before.get(u.id.as_str()).copied();
        match was {
            None if u.status == UserStatus::Invited => {
                changes.push(user_change(ChangeKind::UserInvited, u));
            }
            None => changes.push(user_change(ChangeKind::UserAdded, u)),
            Some(w) => {
                let off = |s| s == UserStatus::Deactivated;
                if !off(w.status) && off(u.status) {
                    changes.push(user_change(ChangeKind::UserDeactivated, u));
                } else if off(w.status) && !off(u.status) {
                    changes.push(user_change(ChangeKind::UserReactivated, u));
                }
            }
        }
        // Group ids, so a group renamed or re-indexed between the two is the same group.
        let had: HashMap<&str, &str> = match was {
            Some(w) => from
                .groups_of(w)
                .map(|g| (g.id.as_str(), g.name.as_str()))
                .collect(),
            None => HashMap::new(),
        };
        let has: HashMap<&str, &str> = to
            .groups_of(u)
            .map(|g| (g.id.as_str(), g.name.as_str()))
            .collect();
        for (id, name) in &has {
            if !had.contains_key(id) {
                changes.push(member_change(ChangeKind::MembershipGranted, u, id, name));
            }
        }
        for (id, name) in &had {
            if !has.contains_key(id) {
                let name = names_after.get(id).unwrap_or(name);
                changes.push(member_change(ChangeKind::MembershipRevoked, u, id, name));
            }
        }
    }
    for u in &from.users {
        if after.contains_key(u.id.as_str()) {
            continue;
        }
        changes.push(user_change(ChangeKind::UserRemoved, u));
        for g in from.groups_of(u) {
            let name = names_after.get(g.id.as_str()).copied().unwrap_or(&g.name);
            changes.push(member_change(ChangeKind::MembershipRevoked, u, &g.id, name));
        }
    }
    changes
        .sort_by(|a, b| (a.kind, &a.user_id, &a.group_id).cmp(&(b.kind, &b.user_id, &b.group_id)));
    let mut totals = Totals::default();
    let mut groups: BTreeMap<String, GroupChanges> = BTreeMap::new();
    for c in &changes {
        let n = match c.kind {
            ChangeKind::UserAdded => &mut totals.users_added,
            ChangeKind::UserRemoved => &mut totals.users_removed,
            ChangeKind::UserDeactivated => &mut totals.users_deactivated,
            ChangeKind::UserReactivated => &mut totals.users_reactivated,
            ChangeKind::UserInvited => &mut totals.users_invited,
            ChangeKind::MembershipGranted => &mut totals.memberships_granted,
            ChangeKind::MembershipRevoked => &mut totals.memberships_revoked,
        };
        *n += 1;
        if let (Some(id), Some(name)) = (&c.group_id, &c.group_name) {
            let entry = groups.entry(id.clone()).or_insert_with(|| GroupChanges {
                group_id: id.clone(),
                group_name: name.clone(),
                granted: 0,
                revoked: 0,
            });
            if c.kind == ChangeKind::MembershipGranted {
                entry.granted += 1;
            } else {
                entry.revoked += 1;
            }
        }
    }
    Diff {
        changes,
        totals,
        by_group: groups.into_values().collect(),
    }
}
