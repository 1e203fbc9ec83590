//! A query string read strictly: known names only, each at most once, percent-decoded.

use std::borrow::Cow;
use std::collections::HashMap;

use percent_encoding::percent_decode_str;

use super::Failure;

pub(super) struct Params(HashMap<String, String>);

impl Params {
    pub(super) fn parse(raw: Option<&str>, known: &[&str]) -> Result<Params, Failure> {
        let mut map = HashMap::new();
        for pair in raw.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            let decode = |s: &str| {
                percent_decode_str(&s.replace('+', " "))
                    .decode_utf8()
                    .map(Cow::into_owned)
                    .map_err(|_| Failure::bad("the query string is not UTF-8"))
            };
            let (name, value) = (decode(name)?, decode(value)?);
            if !known.contains(&name.as_str()) {
                return Err(Failure::bad(format!(
                    "unknown parameter `{}`; this endpoint takes {}",
                    name.chars().take(40).collect::<String>(),
                    known.join(", ")
                )));
            }
            if value.len() > 2_000 {
                return Err(Failure::bad(format!("`{name}` is too long")));
            }
            if map.insert(name.clone(), value).is_some() {
                return Err(Failure::bad(format!("`{name}` is given more than once")));
            }
        }
        Ok(Params(map))
    }

    pub(super) fn get(&self, name: &str) -> Option<&str> {
        self.0
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    /// `true` or `false`, when given.
    pub(super) fn flag(&self, name: &str) -> Result<Option<bool>, Failure> {
        match self.get(name) {
            None => Ok(None),
            Some("true") => Ok(Some(true)),
            Some("false") => Ok(Some(false)),
            Some(_) => Err(Failure::bad(format!("`{name}` is true or false"))),
        }
    }
}
