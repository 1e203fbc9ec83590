//! List query parameters: `startIndex`, the profile's page-size parameter and `filter`, and
//! the paging arithmetic shared by `/Users` and `/Groups`.

use std::collections::HashMap;

use percent_encoding::percent_decode_str;

use super::errors::ScimError;
use crate::scim::Profile;

pub(crate) const MAX_PAGE: usize = 100;

/// Query parameters keyed by lower-cased name (form decoding: `+` is a space).
pub(crate) fn parse_query(raw: Option<&str>) -> HashMap<String, String> {
    raw.unwrap_or_default()
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (decode(k).to_ascii_lowercase(), decode(v))
        })
        .collect()
}

fn decode(s: &str) -> String {
    percent_decode_str(&s.replace('+', " "))
        .decode_utf8_lossy()
        .into_owned()
}

/// A page request: 1-based `start`, capped `size`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Page {
    pub(crate) start: usize,
    pub(crate) size: usize,
}

impl Page {
    /// Reads `startIndex` (below 1 means 1) and the page size (default and maximum 100).
    pub(crate) fn from_query(
        q: &HashMap<String, String>,
        profile: Profile,
    ) -> Result<Page, ScimError> {
        let start = match q.get("startindex") {
            Some(v) => int_param("startIndex", v)?.max(1) as usize,
            None => 1,
        };
        let name = profile.page_size_param();
        let size = match q.get(&name.to_ascii_lowercase()) {
            Some(v) => (int_param(name, v)?.max(0) as usize).min(MAX_PAGE),
            None => MAX_PAGE,
        };
        Ok(Page { start, size })
    }

    /// Everything in one page.
    pub(crate) fn all() -> Page {
        Page {
            start: 1,
            size: usize::MAX,
        }
    }

    /// Takes this page from an iterator over all matches; returns it and the total count.
    pub(crate) fn take<T>(&self, items: impl Iterator<Item = T>) -> (Vec<T>, usize) {
        let mut total = 0;
        let mut page = Vec::new();
        for item in items {
            if total >= self.start - 1 && page.len() < self.size {
                page.push(item);
            }
            total += 1;
        }
        (page, total)
    }

    /// The `itemsPerPage` to answer: Amplitude echoes the page size, RFC 7644 counts.
    pub(crate) fn items_per_page(&self, profile: Profile, returned: usize) -> u64 {
        match profile {
            Profile::Amplitude if self.size != usize::MAX => self.size as u64,
            _ => returned as u64,
        }
    }
}

fn int_param(name: &str, v: &str) -> Result<i64, ScimError> {
    v.trim()
        .parse::<i64>()
        .map_err(|_| ScimError::invalid_value(format!("{name} must be an integer, got {v:?}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_is_form_decoded_with_lowercase_keys() {
        let q = parse_query(Some(
            "startIndex=3&itemsPerPage=500&filter=userName+eq+%22a%2Bb%40x.com%22",
        ));
        assert_eq!(q["filter"], r#"userName eq "a+b@x.com""#);
        let page = Page::from_query(&q, Profile::Amplitude).unwrap();
        assert_eq!(
            page,
            Page {
                start: 3,
                size: 100
            }
        );
        let page = Page::from_query(
            &parse_query(Some("startIndex=-4&count=7")),
            Profile::Rfc7644,
        )
        .unwrap();
        assert_eq!(page, Page { start: 1, size: 7 });
        assert!(Page::from_query(&parse_query(Some("startIndex=x")), Profile::Amplitude).is_err());
    }

    #[test]
    fn take_counts_all_and_keeps_one_page() {
        let page = Page { start: 3, size: 2 };
        assert_eq!(page.take(1..=10), (vec![3, 4], 10));
        assert_eq!(Page { start: 20, size: 2 }.take(1..=10), (vec![], 10));
    }
}
