//! Keys of users this gateway invited and has not yet seen with real names. Read for every
//! user's `status` in every answer, written a few times a day: a count of open invites lets the
//! read path skip the lock (and its contention between worker threads) while none is open.

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};

#[derive(Default)]
pub(super) struct Invites {
    set: Mutex<HashSet<String>>,
    /// `set.len()`, stored after every change while the lock is held.
    open: AtomicUsize,
    /// Changes so far (answers that show a status depend on it).
    version: AtomicU64,
}

impl Invites {
    fn lock(&self) -> MutexGuard<'_, HashSet<String>> {
        self.set.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn edit<T>(&self, f: impl FnOnce(&mut HashSet<String>) -> T) -> T {
        let mut set = self.lock();
        let out = f(&mut set);
        self.open.store(set.len(), Ordering::Release);
        self.version.fetch_add(1, Ordering::AcqRel);
        out
    }

    pub(crate) fn contains(&self, key: &str) -> bool {
        self.open.load(Ordering::Acquire) > 0 && self.lock().contains(key)
    }

    pub(crate) fn insert(&self, key: String) {
        self.edit(|set| set.insert(key));
    }

    pub(crate) fn remove(&self, key: &str) {
        self.edit(|set| set.remove(key));
    }

    pub(crate) fn retain(&self, keep: impl FnMut(&String) -> bool) {
        self.edit(|set| set.retain(keep));
    }

    pub(crate) fn version(&self) -> u64 {
        self.version.load(Ordering::Acquire)
    }

    pub(crate) fn all(&self) -> HashSet<String> {
        self.lock().clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_count_follows_every_change() {
        let invites = Invites::default();
        assert!(!invites.contains("a"));
        invites.insert("a".into());
        invites.insert("b".into());
        assert!(invites.contains("a") && invites.contains("b") && !invites.contains("c"));
        invites.remove("a");
        assert!(!invites.contains("a") && invites.contains("b"));
        invites.retain(|k| k != "b");
        assert!(!invites.contains("b"));
        assert_eq!(invites.open.load(Ordering::Acquire), 0);
        assert!(invites.all().is_empty());
    }
}
