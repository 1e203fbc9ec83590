//! Many short strings in one allocation. A mirror of 100,000 users holds about a million
//! group memberships; kept as a `String` each they cost more than the users themselves.

/// String `i` of `buf`, where string `j` ends at `ends[j]` and begins where the one before ends.
pub(super) fn part<'a>(buf: &'a str, ends: &[u32], i: usize) -> &'a str {
    let start = if i == 0 { 0 } else { ends[i - 1] as usize };
    &buf[start..ends[i] as usize]
}

/// A list of distinct strings, in the order first pushed, stored in one buffer.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PackedList {
    buf: String,
    /// Where each string ends in `buf`.
    ends: Vec<u32>,
}

impl PackedList {
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    pub fn get(&self, i: usize) -> &str {
        part(&self.buf, &self.ends, i)
    }

    pub(crate) fn iter(&self) -> impl ExactSizeIterator<Item = &str> + '_ {
        (0..self.len()).map(|i| self.get(i))
    }

    pub fn contains(&self, s: &str) -> bool {
        self.iter().any(|x| x == s)
    }

    /// Adds `s` unless it is already there.
    pub(crate) fn push(&mut self, s: &str) {
        if !self.contains(s) {
            self.push_unchecked(s);
        }
    }

    fn push_unchecked(&mut self, s: &str) {
        self.buf.push_str(s);
        self.ends
            .push(u32::try_from(self.buf.len()).unwrap_or(u32::MAX));
    }

    /// Keeps the strings `keep` accepts.
    pub(crate) fn retain(&mut self, keep: impl Fn(&str) -> bool) {
        let kept: PackedList = self.iter().filter(|s| keep(s)).collect();
        *self = kept;
    }

    fn shrink(mut self) -> PackedList {
        self.buf.shrink_to_fit();
        self.ends.shrink_to_fit();
        self
    }
}

impl<S: AsRef<str>> FromIterator<S> for PackedList {
    /// Collects distinct strings (a repeated one is kept once, where it first appeared).
    fn from_iter<I: IntoIterator<Item = S>>(iter: I) -> PackedList {
        let mut seen = std::collections::HashSet::new();
        let mut list = PackedList::default();
        for s in iter {
            let s = s.as_ref();
            if seen.insert(s.to_owned()) {
                list.push_unchecked(s);
            }
        }
        list.shrink()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_order_drops_repeats_and_edits() {
        let mut list: PackedList = ["b@x", "a@x", "b@x", "", "c@x"].into_iter().collect();
        assert_eq!(list.iter().collect::<Vec<_>>(), ["b@x", "a@x", "", "c@x"]);
        assert_eq!(list.len(), 4);
        assert!(list.contains("") && list.contains("a@x") && !list.contains("a@"));
        list.push("a@x");
        list.push("d@x");
        assert_eq!(list.len(), 5);
        list.retain(|s| s != "b@x" && !s.is_empty());
        assert_eq!(list.iter().collect::<Vec<_>>(), ["a@x", "c@x", "d@x"]);
        assert!(PackedList::default().is_empty());
    }
}
