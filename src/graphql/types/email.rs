//! Which strings are e-mail addresses a person can be invited with, or named by: parsed by the
//! `email_address` crate (RFC 5321/5322), then narrowed to what a person's mailbox looks like.

use email_address::{EmailAddress, Options};

/// Characters that the RFC allows (some only quoted) but that no address a person is invited
/// with needs, and that would be markup, a path or a shell quote wherever the address lands
/// next (an upstream URL path, an e-mail template, a CSV export). The apostrophe stays: it is
/// in real names (`o'brien@...`).
const REFUSED: &[char] = &[
    '<', '>', '/', '\\', '"', '`', '(', ')', '[', ']', ',', ';', ':',
];

/// Whether `s` (already trimmed) is such an address: at most 254 characters, an address the
/// parser accepts with a top-level domain, no display name (`Ada <ada@x.com>`), no domain
/// literal (`ada@[10.0.0.1]`), and none of the refused, whitespace or control characters.
pub fn looks_like_email(s: &str) -> bool {
    if s.len() > 254
        || s.chars()
            .any(|c| c.is_whitespace() || c.is_control() || REFUSED.contains(&c))
    {
        return false;
    }
    let options = Options::default()
        .with_required_tld()
        .without_domain_literal()
        .without_display_text();
    EmailAddress::parse_with_options(s, options).is_ok_and(|a| a.email() == s)
}

#[cfg(test)]
mod tests {
    use super::looks_like_email;

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
}
