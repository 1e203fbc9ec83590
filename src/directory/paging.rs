//! Paging over a snapshot: filters, orders and key-based positions. A position is the sort key
//! of an item, never an offset, so a page boundary survives users arriving and leaving.

use std::collections::HashSet;
use std::sync::Arc;

use super::record::{GroupRec, Status, UserRec};
use super::snapshot::{Snapshot, name_key};

/// Where an item stands in an order: compared component by component.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum SortKey {
    Seq(u64),
    Text(Vec<String>),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub(crate) enum UserOrderField {
    /// The upstream's own listing order (creation order on Amplitude). The only order that can
    /// be answered while a cold mirror is still loading.
    #[default]
    Directory,
    Email,
    FamilyName,
    GivenName,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub(crate) enum GroupOrderField {
    #[default]
    Directory,
    Name,
}

#[derive(Clone, Debug, Default)]
pub(crate) struct UserFilter {
    /// Lower-cased substring of the e-mail, given or family name.
    pub(crate) search: Option<String>,
    pub(crate) status: Option<Status>,
    /// Only members of this group id.
    pub(crate) member_of: Option<String>,
    /// Only users in no group (`Some(true)`), or only users in some group (`Some(false)`).
    pub(crate) in_no_group: Option<bool>,
}

impl UserFilter {
    pub(crate) fn is_empty(&self) -> bool {
        self.search.is_none()
            && self.status.is_none()
            && self.member_of.is_none()
            && self.in_no_group.is_none()
    }
}

/// Relay's paging arguments, already validated.
#[derive(Clone, Debug, Default)]
pub(crate) struct PageArgs {
    pub(crate) first: Option<usize>,
    pub(crate) after: Option<SortKey>,
    pub(crate) last: Option<usize>,
    pub(crate) before: Option<SortKey>,
}

/// One page: the items in order. Their positions (cursors) are computed from an item only
/// when a client asks for one, with `user_sort_key` or `group_sort_key`.
#[derive(Debug)]
pub(crate) struct Page<T> {
    pub(crate) items: Vec<T>,
    pub(crate) has_previous_page: bool,
    pub(crate) has_next_page: bool,
    pub(crate) total: usize,
}

impl<T> Page<T> {
    /// The same page with each item mapped.
    pub(crate) fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page {
            items: self.items.into_iter().map(f).collect(),
            has_previous_page: self.has_previous_page,
            has_next_page: self.has_next_page,
            total: self.total,
        }
    }
}

pub(crate) fn user_sort_key(field: UserOrderField, u: &UserRec) -> SortKey {
    let text = |parts: [&str; 3]| SortKey::Text(parts.iter().map(|s| (*s).to_owned()).collect());
    match field {
        UserOrderField::Directory => SortKey::Seq(u.seq),
        UserOrderField::Email => text([u.email_lc(), "", u.key()]),
        UserOrderField::FamilyName => text([
            name_key(u.family_lc(), u.placeholder()),
            name_key(u.given_lc(), u.placeholder()),
            u.key(),
        ]),
        UserOrderField::GivenName => text([
            name_key(u.given_lc(), u.placeholder()),
            name_key(u.family_lc(), u.placeholder()),
            u.key(),
        ]),
    }
}

pub(crate) fn group_sort_key(field: GroupOrderField, g: &GroupRec) -> SortKey {
    match field {
        GroupOrderField::Directory => SortKey::Seq(g.seq),
        GroupOrderField::Name => SortKey::Text(vec![g.name_lc.clone(), g.id.clone()]),
    }
}

/// Cuts one page out of `list` (sorted by `key`, descending when `desc`).
pub(crate) fn slice<T: Clone>(
    list: &[T],
    key: impl Fn(&T) -> SortKey,
    desc: bool,
    args: &PageArgs,
) -> Page<T> {
    slice_view(list.len(), |i| &list[i], key, desc, args)
}

/// Cuts one page out of a sorted sequence seen through `at` (positions 0..len), so a page
/// of an unfiltered order costs O(log n + page), not a copy of the order.
pub(crate) fn slice_view<'a, T: Clone + 'a>(
    len: usize,
    at: impl Fn(usize) -> &'a T,
    key: impl Fn(&T) -> SortKey,
    desc: bool,
    args: &PageArgs,
) -> Page<T> {
    window(len, |i| key(at(i)), desc, args).page(|i| at(i).clone())
}

/// Where one page lies in a sorted sequence of `len` items: positions `start..end`.
pub(crate) struct Window {
    start: usize,
    end: usize,
    len: usize,
}

impl Window {
    /// The page, each position made an item by `item`.
    pub(crate) fn page<T>(&self, item: impl FnMut(usize) -> T) -> Page<T> {
        Page {
            items: (self.start..self.end).map(item).collect(),
            has_previous_page: self.start > 0,
            has_next_page: self.end < self.len,
            total: self.len,
        }
    }
}

/// Where the page `args` asks for lies in a sorted sequence whose keys `key_at` gives.
pub(crate) fn window(
    len: usize,
    key_at: impl Fn(usize) -> SortKey,
    desc: bool,
    args: &PageArgs,
) -> Window {
    // The first position where `goes_before` stops holding (it holds on a prefix).
    let partition = |goes_before: &dyn Fn(&SortKey) -> bool| {
        let (mut lo, mut hi) = (0, len);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if goes_before(&key_at(mid)) {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        lo
    };
    let after = |k: &SortKey| {
        if desc {
            partition(&|x| x >= k)
        } else {
            partition(&|x| x <= k)
        }
    };
    let before = |k: &SortKey| {
        if desc {
            partition(&|x| x > k)
        } else {
            partition(&|x| x < k)
        }
    };
    let mut start = args.after.as_ref().map_or(0, after);
    let mut end = args.before.as_ref().map_or(len, before).max(start);
    if let Some(first) = args.first {
        end = end.min(start + first);
    }
    if let Some(last) = args.last {
        start = start.max(end.saturating_sub(last));
    }
    Window { start, end, len }
}

impl Snapshot {
    /// The positions in `users` of the order of `field`.
    fn order_positions(&self, field: UserOrderField) -> Vec<u32> {
        match field {
            UserOrderField::Directory => (0..self.users.len() as u32).collect(),
            UserOrderField::Email => self.by_email.clone(),
            UserOrderField::FamilyName => self.by_family.clone(),
            UserOrderField::GivenName => self.by_given.clone(),
        }
    }

    /// Whether this user passes the filter; `invited` holds keys with an open gateway invite.
    pub(crate) fn user_matches(
        &self,
        u: &UserRec,
        filter: &UserFilter,
        invited: &HashSet<String>,
    ) -> bool {
        if let Some(needle) = &filter.search
            && !u.matches_search(needle)
        {
            return false;
        }
        if let Some(status) = filter.status
            && u.status(invited.contains(u.key())) != status
        {
            return false;
        }
        if let Some(group) = &filter.member_of {
            let Some(gi) = self.group_index.get(group) else {
                return false;
            };
            if !self.group_positions_of(u.key()).contains(gi) {
                return false;
            }
        }
        if let Some(none) = filter.in_no_group
            && self.is_member_of_any(u.key()) == none
        {
            return false;
        }
        true
    }

    /// A page of users, as positions in `users()`: a node then reads its record through its
    /// page's snapshot and touches no reference count. A loading snapshot answers only the
    /// directory order, and reports more pages while users are still arriving.
    pub(crate) fn page_users(
        &self,
        filter: &UserFilter,
        field: UserOrderField,
        desc: bool,
        args: &PageArgs,
        invited: &HashSet<String>,
    ) -> Page<u32> {
        let key = |position: u32| user_sort_key(field, &self.users[position as usize]);
        let mut page = if filter.is_empty() {
            // No filter: page straight through the order.
            let order: Option<&Vec<u32>> = match field {
                UserOrderField::Directory => None,
                UserOrderField::Email => Some(&self.by_email),
                UserOrderField::FamilyName => Some(&self.by_family),
                UserOrderField::GivenName => Some(&self.by_given),
            };
            // Sorted orders exist only on a complete snapshot; a loading one has none.
            let len = order.map_or(self.users.len(), Vec::len);
            let physical = |i: usize| if desc { len - 1 - i } else { i };
            let position = |i: usize| match order {
                None => physical(i) as u32,
                Some(idx) => idx[physical(i)],
            };
            window(len, |i| key(position(i)), desc, args).page(position)
        } else {
            let mut list: Vec<u32> = self
                .order_positions(field)
                .into_iter()
                .filter(|&i| self.user_matches(&self.users[i as usize], filter, invited))
                .collect();
            if desc {
                list.reverse();
            }
            window(list.len(), |i| key(list[i]), desc, args).page(|i| list[i])
        };
        if !self.complete {
            page.has_next_page = true;
            page.total = self.upstream_user_total.map_or(page.total, |t| t as usize);
        }
        page
    }

    pub(crate) fn page_groups(
        &self,
        search: Option<&str>,
        field: GroupOrderField,
        desc: bool,
        args: &PageArgs,
    ) -> Page<Arc<GroupRec>> {
        let mut list: Vec<&Arc<GroupRec>> = match field {
            GroupOrderField::Directory => self.groups.iter().collect(),
            GroupOrderField::Name => self
                .groups_by_name
                .iter()
                .map(|i| &self.groups[*i as usize])
                .collect(),
        };
        if let Some(needle) = search {
            list.retain(|g| g.name_lc.contains(needle));
        }
        if desc {
            list.reverse();
        }
        slice(&list, |g| group_sort_key(field, g), desc, args).map(|g| g.clone())
    }

    /// The groups of one user, by name.
    pub(crate) fn page_user_groups(&self, user_key: &str, args: &PageArgs) -> Page<Arc<GroupRec>> {
        self.page_memberships(&self.group_positions_of(user_key), args)
            .map(|g| self.groups[g as usize].clone())
    }

    /// The groups of the user at `position` in `users()`, by name, as positions in `groups()`.
    pub(crate) fn page_groups_of_user_at(&self, position: u32, args: &PageArgs) -> Page<u32> {
        self.page_memberships(self.memberships.of(position as usize), args)
    }

    /// A page of one user's memberships (positions in `groups()`, already in name order),
    /// paged straight over them: no list is built, and a key is computed only where a cursor
    /// has to be found.
    fn page_memberships(&self, groups: &[u32], args: &PageArgs) -> Page<u32> {
        window(
            groups.len(),
            |i| group_sort_key(GroupOrderField::Name, &self.groups[groups[i] as usize]),
            false,
            args,
        )
        .page(|i| groups[i])
    }

    /// The members of a group as users, by e-mail. A member the user list does not show (an
    /// invitee some upstreams list only as a member) appears with what the group says of it.
    pub(crate) fn page_members(
        &self,
        group: &GroupRec,
        args: &PageArgs,
        stand_in: impl Fn(&str, Option<&str>) -> UserRec,
    ) -> Page<Arc<UserRec>> {
        let mut list: Vec<Arc<UserRec>> = group
            .member_keys
            .iter()
            .map(|key| match self.user_by_key(key) {
                Some(u) => u.clone(),
                None => Arc::new(stand_in(key, None)),
            })
            .collect();
        // The order of `user_sort_key(Email, _)`, compared without building the keys.
        list.sort_by(|a, b| (a.email_lc(), a.key()).cmp(&(b.email_lc(), b.key())));
        list.dedup_by(|a, b| a.key() == b.key());
        slice(
            &list,
            |u| user_sort_key(UserOrderField::Email, u),
            false,
            args,
        )
    }
}

#[cfg(test)]
mod tests {
    use std::time::SystemTime;

    use super::*;
    use crate::directory::record::Source;
    use crate::directory::snapshot::Builder;
    use crate::scim::Profile;
    use crate::scim::wire::{Group, User};

    fn snapshot() -> Snapshot {
        let mut b = Builder::new(None, Profile::Amplitude.key_rule());
        for n in 0..30 {
            let email = format!("u{n}@example.com");
            let mut rec = UserRec::new(
                email.clone(),
                0,
                User::new(&email, "Ada", "Lovelace"),
                SystemTime::UNIX_EPOCH,
                Source::Mirror,
            );
            rec.seq = b.seq_for(&email);
            b.add_user(rec);
        }
        for g in 0..6u64 {
            // Names out of id order, so the name order is not the directory's.
            let members: crate::directory::packed::PackedList = (0..30)
                .filter(|n| !(n + g as usize).is_multiple_of(3) || g == 5)
                .map(|n| format!("u{n}@example.com"))
                .collect();
            b.add_group(GroupRec::new(
                format!("g{g}"),
                g,
                Group::new(&format!("Team {}", 6 - g), vec![]),
                members,
                SystemTime::UNIX_EPOCH,
                Source::Mirror,
            ));
        }
        b.groups_done();
        b.snapshot(true, None)
    }

    /// The hot path pages a user's groups by the user's position; it shows what paging by the
    /// user's key shows, cursors and page flags included.
    #[test]
    fn a_users_groups_by_position_are_those_by_key() {
        let s = snapshot();
        let cursor = Some(SortKey::Text(vec!["team 3".into(), "g3".into()]));
        let args = [
            PageArgs::default(),
            PageArgs {
                first: Some(2),
                ..Default::default()
            },
            PageArgs {
                first: Some(2),
                after: cursor.clone(),
                ..Default::default()
            },
            PageArgs {
                last: Some(2),
                before: cursor,
                ..Default::default()
            },
        ];
        let mut shown = 0;
        for (position, user) in s.users().iter().enumerate() {
            for a in &args {
                let by_key = s.page_user_groups(user.key(), a);
                let by_position = s.page_groups_of_user_at(position as u32, a);
                let ids: Vec<&str> = by_key.items.iter().map(|g| g.id.as_str()).collect();
                let at: Vec<&str> = by_position
                    .items
                    .iter()
                    .map(|i| s.groups()[*i as usize].id.as_str())
                    .collect();
                assert_eq!(ids, at, "{} {a:?}", user.key());
                assert_eq!(
                    (by_key.has_previous_page, by_key.has_next_page, by_key.total),
                    (
                        by_position.has_previous_page,
                        by_position.has_next_page,
                        by_position.total
                    ),
                    "{} {a:?}",
                    user.key()
                );
                shown += ids.len();
            }
        }
        assert!(shown > 200, "the pages show groups: {shown}");
    }
}
