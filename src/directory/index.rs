//! The snapshot's indexes, built without copying a single key: a hash table of positions whose
//! keys are read from the records, and memberships by user position.

use std::hash::{BuildHasher, RandomState};

use hashbrown::HashTable;

/// Key → position, where the key of position `i` is read from the records (`key_of(i)`).
/// Four bytes per entry plus the table's slack, instead of a copy of every key.
#[derive(Clone, Default)]
pub(crate) struct KeyIndex {
    state: RandomState,
    table: HashTable<u32>,
}

impl KeyIndex {
    /// Indexes positions `0..n`; of equal keys, the last position wins.
    pub(crate) fn build<'a>(n: usize, key_of: impl Fn(usize) -> &'a str) -> KeyIndex {
        let mut index = KeyIndex {
            state: RandomState::new(),
            table: HashTable::with_capacity(n),
        };
        for i in 0..n {
            index.insert(i, &key_of);
        }
        index
    }

    pub(crate) fn find<'a>(&self, key: &str, key_of: impl Fn(usize) -> &'a str) -> Option<usize> {
        let hash = self.state.hash_one(key);
        self.table
            .find(hash, |&i| key_of(i as usize) == key)
            .map(|&i| i as usize)
    }

    /// Points `key_of(pos)` at `pos`.
    pub(crate) fn insert<'a>(&mut self, pos: usize, key_of: &impl Fn(usize) -> &'a str) {
        let key = key_of(pos);
        let hash = self.state.hash_one(key);
        let state = &self.state;
        match self.table.find_mut(hash, |&i| key_of(i as usize) == key) {
            Some(slot) => *slot = pos as u32,
            None => {
                self.table
                    .insert_unique(hash, pos as u32, |&i| state.hash_one(key_of(i as usize)));
            }
        }
    }
}

impl KeyIndex {
    /// Forgets position `pos` (whose key is `key`) and moves every later position down by one,
    /// as `Vec::remove(pos)` does to the records.
    pub(crate) fn remove_shifting(&mut self, key: &str, pos: usize) {
        let hash = self.state.hash_one(key);
        if let Ok(entry) = self.table.find_entry(hash, |&i| i as usize == pos) {
            entry.remove();
        }
        for i in self.table.iter_mut() {
            if *i as usize > pos {
                *i -= 1;
            }
        }
    }
}

/// Which groups each user is in: user `u`'s group positions are
/// `groups[start[u]..start[u + 1]]`, in the order the groups were visited (by name). Members
/// the user list does not show (yet, or at all) are not indexed: they are rare once a load is
/// complete, and copying their keys on every partial snapshot of a cold load is what made a
/// mirror's memory grow.
#[derive(Clone, Default)]
pub(crate) struct Memberships {
    start: Vec<u32>,
    groups: Vec<u32>,
}

impl Memberships {
    /// `visits` yields (group position, member keys) in the order wanted per user;
    /// `position` finds a member among the `users` users.
    pub(crate) fn build<'a, M: Iterator<Item = &'a str>>(
        users: usize,
        visits: impl Iterator<Item = (u32, M)>,
        position: impl Fn(&str) -> Option<usize>,
    ) -> Memberships {
        // (user position, group) per membership, resolved once; counted, then placed.
        let mut pairs: Vec<(u32, u32)> = Vec::new();
        let mut count = vec![0u32; users + 1];
        for (group, members) in visits {
            for key in members {
                if let Some(u) = position(key) {
                    count[u + 1] += 1;
                    pairs.push((u as u32, group));
                }
            }
        }
        for u in 0..users {
            count[u + 1] += count[u];
        }
        let start = count.clone();
        let mut groups = vec![0u32; pairs.len()];
        for (u, group) in pairs {
            let slot = &mut count[u as usize];
            groups[*slot as usize] = group;
            *slot += 1;
        }
        Memberships { start, groups }
    }

    /// Adds group `group` to user `u`'s groups at index `at` of them.
    pub(crate) fn insert(&mut self, u: usize, at: usize, group: u32) {
        self.groups.insert(self.start[u] as usize + at, group);
        for s in &mut self.start[u + 1..] {
            *s += 1;
        }
    }

    /// Takes group `group` out of user `u`'s groups; false if it was not there.
    pub(crate) fn remove(&mut self, u: usize, group: u32) -> bool {
        let Some(at) = self.of(u).iter().position(|g| *g == group) else {
            return false;
        };
        self.groups.remove(self.start[u] as usize + at);
        for s in &mut self.start[u + 1..] {
            *s -= 1;
        }
        true
    }

    /// Appends a user (the next position) with these groups.
    pub(crate) fn push_user(&mut self, groups: &[u32]) {
        if self.start.is_empty() {
            self.start.push(0);
        }
        self.groups.extend_from_slice(groups);
        self.start.push(self.groups.len() as u32);
    }

    /// Removes user `u` and its memberships; later users move down one position.
    pub(crate) fn remove_user(&mut self, u: usize) {
        if u + 1 >= self.start.len() {
            return;
        }
        let (from, to) = (self.start[u] as usize, self.start[u + 1] as usize);
        self.groups.drain(from..to);
        self.start.remove(u + 1);
        for s in &mut self.start[u + 1..] {
            *s -= (to - from) as u32;
        }
    }

    /// The groups of the user at position `u`.
    pub(crate) fn of(&self, u: usize) -> &[u32] {
        match (self.start.get(u), self.start.get(u + 1)) {
            (Some(&from), Some(&to)) => &self.groups[from as usize..to as usize],
            _ => &[],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_every_key_and_the_last_of_equal_ones() {
        let keys = ["a", "b", "c", "b"];
        let index = KeyIndex::build(keys.len(), |i| keys[i]);
        assert_eq!(index.find("a", |i| keys[i]), Some(0));
        assert_eq!(index.find("b", |i| keys[i]), Some(3));
        assert_eq!(index.find("c", |i| keys[i]), Some(2));
        assert_eq!(index.find("d", |i| keys[i]), None);
    }

    #[test]
    fn memberships_by_position_keep_visit_order() {
        let users = ["u0", "u1", "u2"];
        let groups: [(u32, Vec<&str>); 3] = [
            (2, vec!["u1", "x"]),
            (0, vec!["u1", "u0"]),
            (1, vec!["u1", "x"]),
        ];
        let m = Memberships::build(
            users.len(),
            groups.iter().map(|(g, ms)| (*g, ms.iter().copied())),
            |k| users.iter().position(|u| *u == k),
        );
        assert_eq!(m.of(0), &[0]);
        assert_eq!(m.of(1), &[2, 0, 1]);
        assert_eq!(m.of(2), &[] as &[u32]);
        assert_eq!(m.of(3), &[] as &[u32]);

        let mut m = m;
        m.insert(2, 0, 4);
        m.insert(1, 3, 5);
        assert_eq!(
            (m.of(0), m.of(1), m.of(2)),
            (&[0][..], &[2, 0, 1, 5][..], &[4][..])
        );
        assert!(m.remove(1, 0) && !m.remove(1, 0));
        m.push_user(&[1, 2]);
        m.remove_user(0);
        assert_eq!(
            (m.of(0), m.of(1), m.of(2), m.of(3)),
            (&[2, 1, 5][..], &[4][..], &[1, 2][..], &[][..])
        );
    }

    #[test]
    fn removing_a_position_shifts_the_later_ones() {
        let mut keys = vec!["a", "b", "c", "d"];
        let mut index = KeyIndex::build(keys.len(), |i| keys[i]);
        index.remove_shifting("b", 1);
        keys.remove(1);
        for (i, k) in keys.iter().enumerate() {
            assert_eq!(index.find(k, |i| keys[i]), Some(i));
        }
        assert_eq!(index.find("b", |i| keys[i]), None);
    }
}
