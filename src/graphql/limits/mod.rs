//! Query limits, checked before a query runs: tokens on the raw text (before parsing), then
//! depth, aliases, cost, inlined fields and introspection on the parsed document (`shape`).
//! Each refusal has its own `extensions.code` and says which limit it passed.

mod shape;
mod streams;

use async_graphql::{ServerError, ServerResult};

pub use shape::{Bounds, Exceeded, measure};
pub use streams::{StreamSlot, StreamSlots};

use crate::config::LimitsConfig;
use crate::graphql::errors::Code;

/// Lexical tokens of a GraphQL text (punctuators, names, numbers, strings), stopping once
/// past `max` so a huge text costs no more than the limit.
pub fn count_tokens(text: &str, max: usize) -> usize {
    let b = text.as_bytes();
    let (mut i, mut n) = (0, 0);
    while i < b.len() && n <= max {
        let c = b[i];
        match c {
            b' ' | b'\t' | b'\n' | b'\r' | b',' | 0xEF | 0xBB | 0xBF => i += 1,
            b'#' => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
            }
            b'"' => {
                n += 1;
                if b[i..].starts_with(b"\"\"\"") {
                    i += 3;
                    while i < b.len() && !b[i..].starts_with(b"\"\"\"") {
                        i += if b[i] == b'\\' { 2 } else { 1 };
                    }
                    i += 3;
                } else {
                    i += 1;
                    while i < b.len() && b[i] != b'"' && b[i] != b'\n' {
                        i += if b[i] == b'\\' { 2 } else { 1 };
                    }
                    i += 1;
                }
            }
            b'.' if b[i..].starts_with(b"...") => {
                n += 1;
                i += 3;
            }
            _ if c.is_ascii_alphanumeric() || c == b'_' || c == b'-' => {
                n += 1;
                while i < b.len()
                    && (b[i].is_ascii_alphanumeric()
                        || b[i] == b'_'
                        || b[i] == b'.'
                        || b[i] == b'-'
                        || b[i] == b'+')
                {
                    i += 1;
                }
            }
            _ => {
                n += 1;
                i += 1;
            }
        }
    }
    n
}

/// Enforces `LimitsConfig` on a request before it runs: tokens on the raw text, then (parsing
/// it once, for the executor too) depth, aliases, cost and introspection.
///
/// Not an async-graphql extension: an extension in the schema puts a boxed future around the
/// resolution of every field of every response, which cost this gateway a fifth of its read
/// throughput for checks that need to run once per request.
pub fn check(request: &mut async_graphql::Request, limits: &LimitsConfig) -> ServerResult<()> {
    let max_tokens = limits.max_tokens as usize;
    let tokens = count_tokens(&request.query, max_tokens);
    if tokens > max_tokens {
        return Err(Code::TokenLimit.server_error(format!(
                "the query has more than {max_tokens} tokens (the limit is {max_tokens}); split it into smaller queries"
            ),
        ));
    }
    // The variables are moved out and back rather than copied: `parsed_query` borrows the
    // request mutably.
    let variables = std::mem::take(&mut request.variables);
    let bounds = Bounds {
        depth: limits.max_depth.into(),
        aliases: limits.max_aliases.into(),
        cost: limits.max_complexity.into(),
        fields: limits.max_complexity.into(),
    };
    let walked = request
        .parsed_query()
        .map(|doc| measure(doc, &variables, bounds));
    request.variables = variables;
    let walk = walked.map_err(parse_failed)?;
    let shape = walk.shape.map_err(|e| refusal(e, limits))?;
    if let Some(message) = walk.invalid_int {
        return Err(Code::GraphqlValidationFailed.server_error(message));
    }
    if shape.introspection && !limits.introspection {
        return Err(
            Code::IntrospectionDisabled.server_error("introspection is turned off on this gateway")
        );
    }
    Ok(())
}

/// A document the parser refused: coded, and in words rather than the parser's framed excerpt.
fn parse_failed(mut e: ServerError) -> ServerError {
    if e.message.contains("-->") {
        let at = e.locations.first().map(|p| (p.line, p.column));
        e.message = crate::graphql::syntax::message(&e.message, at);
    }
    Code::GraphqlParseFailed.stamp(&mut e);
    e
}

/// The error for the first limit a document passed. The walk stops there, so the count it
/// gives is where it stopped: the document asks for at least that much.
fn refusal(e: Exceeded, limits: &LimitsConfig) -> ServerError {
    match e {
        Exceeded::Depth(n) => Code::DepthLimit.server_error(format!(
                "the query's depth is at least {n}, over the limit of {}",
                limits.max_depth
            ),
        ),
        Exceeded::Aliases(n) => Code::AliasLimit.server_error(format!(
                "the query's alias count is at least {n}, over the limit of {}",
                limits.max_aliases
            ),
        ),
        Exceeded::Cost(n) => Code::ComplexityLimit.server_error(format!(
                "the query's cost is at least {n}, over the limit of {}; a field costs 1 plus its selection times its page size (first/last, 50 by default): ask for smaller pages",
                limits.max_complexity
            ),
        ),
        Exceeded::Fields(n) => Code::ComplexityLimit.server_error(format!(
                "the query selects at least {n} fields once its fragments are inlined, over the limit of {}: spread fragments fewer times",
                limits.max_complexity
            ),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_counted_like_a_lexer() {
        assert_eq!(count_tokens("{ a }", 100), 3);
        assert_eq!(
            count_tokens(
                "query Q($x: Int = 5) { a(b: \"s t\", c: -1.5e3) @skip(if: true) ...F }",
                100
            ),
            30
        );
        assert_eq!(count_tokens("# comment only\n", 100), 0);
        assert_eq!(
            count_tokens(&"{a}".repeat(1_000_000), 10),
            11,
            "stops past the limit"
        );
    }
}
