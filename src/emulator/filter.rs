//! A small hand parser and evaluator for SCIM filters (RFC 7644 §3.4.2.2): `eq` always;
//! `ne`, `co`, `sw`, `ew`, `gt`, `ge`, `lt`, `le`, `pr`, `and`, `or`, `not` and parentheses when
//! rich filters are on. Date-times compare as instants, other strings case-insensitively.

use std::cmp::Ordering;

use super::errors::ScimError;
use super::versions::rfc3339_millis;

#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Lit {
    Str(String),
    Bool(bool),
    Num(f64),
    Null,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Op {
    Eq,
    Ne,
    Co,
    Sw,
    Ew,
    Gt,
    Ge,
    Lt,
    Le,
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Filter {
    /// `attr op value`; `attr` is lower-cased.
    Cmp(String, Op, Lit),
    /// `attr pr`
    Present(String),
    And(Box<Filter>, Box<Filter>),
    Or(Box<Filter>, Box<Filter>),
    Not(Box<Filter>),
}

impl Filter {
    /// Parses `input`. Without `rich`, only `attr eq "string"` with `attr` one of `simple_attrs`
    /// (lower case) is accepted; anything else is 400 `invalidFilter`.
    pub(crate) fn parse(
        input: &str,
        rich: bool,
        simple_attrs: &[&str],
    ) -> Result<Filter, ScimError> {
        let tokens = tokenize(input)?;
        let mut p = Parser { tokens, pos: 0 };
        let filter = p.or()?;
        if p.pos != p.tokens.len() {
            return Err(ScimError::invalid_filter(format!(
                "unexpected text in filter {input:?}"
            )));
        }
        if !rich {
            match &filter {
                Filter::Cmp(attr, Op::Eq, Lit::Str(_)) if simple_attrs.contains(&attr.as_str()) => {
                }
                _ => {
                    return Err(ScimError::invalid_filter(format!(
                        "unsupported filter {input:?}: only {} eq \"...\" is supported",
                        simple_attrs.join(" / ")
                    )));
                }
            }
        }
        Ok(filter)
    }

    /// The value of `attr eq "x"` when the filter is exactly that (for index lookups).
    pub(crate) fn eq_string(&self, attr: &str) -> Option<&str> {
        match self {
            Filter::Cmp(a, Op::Eq, Lit::Str(s)) if a == attr => Some(s),
            _ => None,
        }
    }

    /// Evaluates against a resource; `get` returns the values of a lower-case attribute path.
    /// String comparisons are case-insensitive.
    pub(crate) fn matches(&self, get: &dyn Fn(&str) -> Vec<Lit>) -> bool {
        match self {
            Filter::And(a, b) => a.matches(get) && b.matches(get),
            Filter::Or(a, b) => a.matches(get) || b.matches(get),
            Filter::Not(a) => !a.matches(get),
            Filter::Present(attr) => get(attr)
                .iter()
                .any(|v| !matches!(v, Lit::Null) && *v != Lit::Str(String::new())),
            Filter::Cmp(attr, op, lit) => {
                let values = get(attr);
                match op {
                    Op::Ne => !values.iter().any(|v| compare(v, Op::Eq, lit)),
                    _ => values.iter().any(|v| compare(v, *op, lit)),
                }
            }
        }
    }
}

fn compare(value: &Lit, op: Op, lit: &Lit) -> bool {
    let ordered = |o: Option<Ordering>| match (op, o) {
        (_, None) => false,
        (Op::Eq | Op::Ne, Some(o)) => o == Ordering::Equal,
        (Op::Gt, Some(o)) => o == Ordering::Greater,
        (Op::Ge, Some(o)) => o != Ordering::Less,
        (Op::Lt, Some(o)) => o == Ordering::Less,
        (Op::Le, Some(o)) => o != Ordering::Greater,
        (Op::Co | Op::Sw | Op::Ew, _) => false,
    };
    match (value, lit) {
        (Lit::Str(v), Lit::Str(l)) => {
            if let (Some(v), Some(l)) = (rfc3339_millis(v), rfc3339_millis(l)) {
                return ordered(Some(v.cmp(&l)));
            }
            let (v, l) = (v.to_lowercase(), l.to_lowercase());
            match op {
                Op::Co => v.contains(&l),
                Op::Sw => v.starts_with(&l),
                Op::Ew => v.ends_with(&l),
                _ => ordered(Some(v.cmp(&l))),
            }
        }
        (Lit::Num(v), Lit::Num(l)) => ordered(v.partial_cmp(l)),
        (v, l) => matches!(op, Op::Eq | Op::Ne) && v == l,
    }
}

#[derive(Clone, Debug, PartialEq)]
enum Token {
    Open,
    Close,
    Str(String),
    Word(String),
}

fn tokenize(input: &str) -> Result<Vec<Token>, ScimError> {
    let mut tokens = Vec::new();
    let mut chars = input.char_indices().peekable();
    while let Some(&(start, c)) = chars.peek() {
        match c {
            c if c.is_whitespace() => {
                chars.next();
            }
            '(' | ')' => {
                chars.next();
                tokens.push(if c == '(' { Token::Open } else { Token::Close });
            }
            '"' => {
                chars.next();
                let mut end = None;
                let mut escaped = false;
                for (i, c) in chars.by_ref() {
                    match c {
                        _ if escaped => escaped = false,
                        '\\' => escaped = true,
                        '"' => {
                            end = Some(i);
                            break;
                        }
                        _ => {}
                    }
                }
                let end =
                    end.ok_or_else(|| ScimError::invalid_filter("unterminated string in filter"))?;
                let s: String = serde_json::from_str(&input[start..=end])
                    .map_err(|_| ScimError::invalid_filter("invalid string literal in filter"))?;
                tokens.push(Token::Str(s));
            }
            _ => {
                let mut end = input.len();
                while let Some(&(i, c)) = chars.peek() {
                    if c.is_whitespace() || matches!(c, '(' | ')' | '"') {
                        end = i;
                        break;
                    }
                    chars.next();
                }
                tokens.push(Token::Word(input[start..end].to_owned()));
            }
        }
    }
    Ok(tokens)
}

struct Parser {
    tokens: Vec<Token>,
    pos: usize,
}

impl Parser {
    fn next(&mut self) -> Option<Token> {
        let t = self.tokens.get(self.pos).cloned();
        self.pos += 1;
        t
    }

    fn peek_word(&self, word: &str) -> bool {
        matches!(self.tokens.get(self.pos), Some(Token::Word(w)) if w.eq_ignore_ascii_case(word))
    }

    fn or(&mut self) -> Result<Filter, ScimError> {
        let mut left = self.and()?;
        while self.peek_word("or") {
            self.pos += 1;
            left = Filter::Or(Box::new(left), Box::new(self.and()?));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Filter, ScimError> {
        let mut left = self.atom()?;
        while self.peek_word("and") {
            self.pos += 1;
            left = Filter::And(Box::new(left), Box::new(self.atom()?));
        }
        Ok(left)
    }

    fn atom(&mut self) -> Result<Filter, ScimError> {
        match self.next() {
            Some(Token::Open) => self.group(),
            Some(Token::Word(w)) if w.eq_ignore_ascii_case("not") => match self.next() {
                Some(Token::Open) => Ok(Filter::Not(Box::new(self.group()?))),
                _ => Err(ScimError::invalid_filter("expected ( after not")),
            },
            Some(Token::Word(attr)) => self.comparison(attr.to_ascii_lowercase()),
            _ => Err(ScimError::invalid_filter("expected an attribute in filter")),
        }
    }

    fn group(&mut self) -> Result<Filter, ScimError> {
        let inner = self.or()?;
        match self.next() {
            Some(Token::Close) => Ok(inner),
            _ => Err(ScimError::invalid_filter("missing ) in filter")),
        }
    }

    fn comparison(&mut self, attr: String) -> Result<Filter, ScimError> {
        if !attr
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | ':' | '$'))
        {
            return Err(ScimError::invalid_filter(format!(
                "invalid attribute {attr:?}"
            )));
        }
        let op = match self.next() {
            Some(Token::Word(op)) => op.to_ascii_lowercase(),
            _ => return Err(ScimError::invalid_filter("expected an operator in filter")),
        };
        let op = match op.as_str() {
            "pr" => return Ok(Filter::Present(attr)),
            "eq" => Op::Eq,
            "ne" => Op::Ne,
            "co" => Op::Co,
            "sw" => Op::Sw,
            "ew" => Op::Ew,
            "gt" => Op::Gt,
            "ge" => Op::Ge,
            "lt" => Op::Lt,
            "le" => Op::Le,
            other => {
                return Err(ScimError::invalid_filter(format!(
                    "unknown operator {other:?}"
                )));
            }
        };
        let lit = match self.next() {
            Some(Token::Str(s)) => Lit::Str(s),
            Some(Token::Word(w)) => match w.to_ascii_lowercase().as_str() {
                "true" => Lit::Bool(true),
                "false" => Lit::Bool(false),
                "null" => Lit::Null,
                n => Lit::Num(
                    n.parse()
                        .map_err(|_| ScimError::invalid_filter(format!("invalid value {w:?}")))?,
                ),
            },
            _ => return Err(ScimError::invalid_filter("expected a value in filter")),
        };
        Ok(Filter::Cmp(attr, op, lit))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const USER_ATTRS: &[&str] = &["username", "emails.value", "emails"];

    fn user(attr: &str) -> Vec<Lit> {
        match attr {
            "username" | "emails.value" | "emails" => {
                vec![Lit::Str("Ada.Lovelace@example.com".into())]
            }
            "active" => vec![Lit::Bool(true)],
            "name.givenname" => vec![Lit::Str("Ada".into())],
            _ => vec![],
        }
    }

    fn check(filter: &str, rich: bool) -> Result<bool, ScimError> {
        Ok(Filter::parse(filter, rich, USER_ATTRS)?.matches(&user))
    }

    #[test]
    fn eq_is_case_insensitive_in_attribute_operator_and_value() {
        assert_eq!(
            check(r#"userName eq "ada.lovelace@EXAMPLE.com""#, false),
            Ok(true)
        );
        assert_eq!(
            check(r#"USERNAME EQ "ada.lovelace@example.com""#, false),
            Ok(true)
        );
        assert_eq!(
            check(r#"emails.value eq "x@example.com""#, false),
            Ok(false)
        );
        assert_eq!(check(r#"userName eq "a\"b""#, false), Ok(false));
    }

    #[test]
    fn rich_operators_need_the_switch() {
        for f in [
            r#"userName co "love""#,
            r#"userName sw "ada""#,
            "name.givenName pr",
            "active eq true",
            r#"userName eq "a" or userName eq "ada.lovelace@example.com""#,
        ] {
            assert_eq!(check(f, true), Ok(true), "{f}");
            let err = check(f, false).unwrap_err();
            assert_eq!(err.scim_type, Some("invalidFilter"), "{f}");
        }
        assert_eq!(
            check(
                r#"(active eq false or userName ew ".com") and not (nickName pr)"#,
                true
            ),
            Ok(true)
        );
    }

    #[test]
    fn time_comparisons_order_instants_across_zones() {
        let at = |attr: &str| match attr {
            "meta.lastmodified" => vec![Lit::Str("2026-12-07T15:00:00.500+00:00".into())],
            _ => vec![],
        };
        let check = |f: &str| Filter::parse(f, true, USER_ATTRS).unwrap().matches(&at);
        assert!(check(r#"meta.lastModified gt "2026-12-07T15:00:00Z""#));
        assert!(check(r#"meta.lastModified gt "2026-12-07T16:00:00+02:00""#));
        assert!(!check(r#"meta.lastModified gt "2026-12-07T15:00:00.500Z""#));
        assert!(check(r#"meta.lastModified ge "2026-12-07T15:00:00.500Z""#));
        assert!(check(r#"meta.lastModified lt "2026-12-07T15:00:01Z""#));
        assert!(!check(r#"meta.lastModified le "2026-12-07T15:00:00.499Z""#));
        assert!(!check(r#"meta.created gt "2000-01-01T00:00:00Z""#));
        let err = Filter::parse(r#"meta.lastModified gt "x""#, false, USER_ATTRS).unwrap_err();
        assert_eq!(err.scim_type, Some("invalidFilter"));
    }

    #[test]
    fn malformed_filters_are_invalid() {
        for f in [
            "",
            "userName",
            "userName eq",
            r#"userName eq "open"#,
            "userName gt",
            "(userName pr",
            "a eq b",
        ] {
            assert!(check(f, true).is_err(), "{f}");
        }
    }
}
