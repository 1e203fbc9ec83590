//! The domain's keys and addresses: [`OrgId`], [`UserKey`], [`GroupId`], [`Email`]. Every layer
//! names them; only the SCIM profile's key rule builds a `UserKey`, so only it knows how ids compare.

use std::borrow::Borrow;
use std::fmt;
use std::sync::Arc;

use email_address::{EmailAddress, Options};

/// An organization's id as the configuration names it (`[[orgs]] id`); compared exactly. Shared,
/// not copied: the point cache puts it in every key, and a clone only touches a counter.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct OrgId(Arc<str>);

/// As its text: messages that quote an organization (`{:?}`) read `"acme"`, as they did when
/// ids were strings.
impl fmt::Debug for OrgId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

impl OrgId {
    pub fn new(id: &str) -> Self {
        OrgId(Arc::from(id))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl PartialEq<str> for OrgId {
    fn eq(&self, other: &str) -> bool {
        &*self.0 == other
    }
}

/// A user's lookup key: the id (or an e-mail given as one) as the organization's profile
/// compares it, lower-cased where ids are e-mails. Built only by the profile's key rule, so two
/// spellings of one user are one key, and no caller decides the rule for itself.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct UserKey(String);

impl UserKey {
    /// For the key rule alone (`scim::profile`): a string it has already made a key.
    pub(crate) fn new(key: String) -> Self {
        UserKey(key)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

/// A group's id as the upstream gave it; compared exactly.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct GroupId(String);

impl GroupId {
    pub fn new(id: impl Into<String>) -> Self {
        GroupId(id.into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

/// An e-mail address a person can be invited with, or named by: parsed by the `email_address`
/// crate (RFC 5321/5322), then narrowed to what a person's mailbox looks like. Kept as given:
/// callers trim and lower-case before parsing where they compare.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Email(String);

/// Why a string is not an [`Email`]; callers word the message for their own field.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("not an e-mail address")]
pub struct NotAnEmail;

/// Characters that the RFC allows (some only quoted) but that no address a person is invited
/// with needs, and that would be markup, a path or a shell quote wherever the address lands
/// next (an upstream URL path, an e-mail template, a CSV export). The apostrophe stays: it is
/// in real names (`o'brien@...`).
const REFUSED: &[char] = &[
    '<', '>', '/', '\\', '"', '`', '(', ')', '[', ']', ',', ';', ':',
];

impl Email {
    /// `s` (already trimmed) as an address: at most 254 characters, an address the parser
    /// accepts with a top-level domain, no display name (`Ada <ada@x.com>`), no domain literal
    /// (`ada@[10.0.0.1]`), and none of the refused, whitespace or control characters.
    pub fn parse(s: &str) -> Result<Email, NotAnEmail> {
        if s.len() > 254
            || s.chars()
                .any(|c| c.is_whitespace() || c.is_control() || REFUSED.contains(&c))
        {
            return Err(NotAnEmail);
        }
        let options = Options::default()
            .with_required_tld()
            .without_domain_literal()
            .without_display_text();
        match EmailAddress::parse_with_options(s, options) {
            Ok(a) if a.email() == s => Ok(Email(s.to_owned())),
            _ => Err(NotAnEmail),
        }
    }

    /// An address as a person typed it: trimmed and lower-cased (how the gateway compares
    /// addresses), then parsed.
    pub fn from_input(s: &str) -> Result<Email, NotAnEmail> {
        Email::parse(&s.trim().to_lowercase())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

macro_rules! str_like {
    ($($t:ty),*) => {$(
        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl Borrow<str> for $t {
            fn borrow(&self) -> &str {
                &self.0
            }
        }

        impl AsRef<str> for $t {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
    )*};
}

str_like!(OrgId, UserKey, GroupId, Email);

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::{Email, OrgId};
    use crate::scim::Profile;

    #[test]
    fn an_org_id_is_found_by_its_text_and_compared_exactly() {
        let scope: HashSet<OrgId> = [OrgId::new("acme")].into_iter().collect();
        assert!(scope.contains("acme"));
        assert!(!scope.contains("Acme"));
        assert_eq!(OrgId::new("acme").to_string(), "acme");
        assert!(OrgId::new("acme") == *"acme");
        assert_eq!(format!("{:?}", OrgId::new("acme")), r#""acme""#);
    }

    fn looks_like_email(s: &str) -> bool {
        Email::parse(s).is_ok()
    }

    #[test]
    fn ordinary_addresses_pass() {
        for ok in [
            "ada@example.com",
            "ada.lovelace+hr@mail.example.co.uk",
            "o'brien@example.ie",
            "x_y-z@sub.example.org",
        ] {
            assert!(looks_like_email(ok), "{ok}");
        }
    }

    #[test]
    fn markup_paths_quotes_and_odd_forms_fail() {
        for bad in [
            "<script>@x.com",
            "../../x@y.com",
            "a/b@example.com",
            "\"quoted\"@example.com",
            "\"a b\"@example.com",
            "Ada <ada@example.com>",
            "ada@[127.0.0.1]",
            "ada@localhost",
            "a@b",
            "a b@example.com",
            "ada@exam ple.com",
            "ada\u{7}@example.com",
            ".ada@example.com",
            "ada..l@example.com",
            "ada@example.com.",
            "@example.com",
            "ada@",
            "",
        ] {
            assert!(!looks_like_email(bad), "{bad:?}");
        }
        assert!(!looks_like_email(&format!(
            "{}@example.com",
            "a".repeat(250)
        )));
    }

    #[test]
    fn an_address_parses_as_given() {
        assert_eq!(
            Email::parse("Ada@Example.com").map(|e| e.to_string()),
            Ok("Ada@Example.com".to_owned())
        );
    }

    #[test]
    fn one_user_key_per_spelling_where_ids_are_emails_two_where_opaque() {
        let amplitude = Profile::Amplitude.key_rule();
        assert_eq!(amplitude.key("Ada@X.com"), amplitude.key("ada@x.com"));
        assert_eq!(amplitude.key("Ada@X.com").as_str(), "ada@x.com");
        let rfc = Profile::Rfc7644.key_rule();
        assert_ne!(rfc.key("Ada@X.com"), rfc.key("ada@x.com"));
        assert_eq!(rfc.key("Ada@X.com").as_str(), "Ada@X.com");
    }
}
