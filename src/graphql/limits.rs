//! Query limits, checked before a query runs: tokens on the raw text (before parsing), then
//! depth, aliases, cost and introspection on the parsed document. Each refusal has its own
//! `extensions.code` and says which limit and by how much.

use std::collections::HashSet;

use async_graphql::parser::types::{ExecutableDocument, Selection, SelectionSet};
use async_graphql::{ServerError, ServerResult, Value, Variables};

use crate::config::LimitsConfig;

/// The page size assumed for a connection queried without `first` or `last`.
const DEFAULT_PAGE: u64 = 50;
/// Fields that return connections (pages of items).
const CONNECTIONS: [&str; 3] = ["users", "groups", "members"];

fn refuse(code: &str, message: String) -> ServerError {
    let mut e = ServerError::new(message, None);
    let mut ext = async_graphql::ErrorExtensionValues::default();
    ext.set("code", code);
    e.extensions = Some(ext);
    e
}

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

/// What a document asks for.
#[derive(Debug, Default, PartialEq)]
pub struct Shape {
    pub depth: u64,
    pub aliases: u64,
    pub complexity: u64,
    pub introspection: bool,
}

struct Walker<'a> {
    doc: &'a ExecutableDocument,
    variables: &'a Variables,
    aliases: u64,
    introspection: bool,
}

impl Walker<'_> {
    /// How many items a field returns: its page size, the number of `ids`, or 1.
    fn page_size(&self, field: &async_graphql::parser::types::Field) -> u64 {
        let vars = self.variables;
        let value = |name: &str| {
            field.get_argument(name).map(|v| {
                v.node
                    .clone()
                    .into_const_with(|var| {
                        Ok::<_, ()>(vars.get(&var).cloned().unwrap_or(Value::Null))
                    })
                    .unwrap_or(Value::Null)
            })
        };
        if let Some(arg) = value("first").or_else(|| value("last")) {
            return match arg {
                Value::Number(n) => n.as_u64().unwrap_or(0),
                _ => DEFAULT_PAGE,
            };
        }
        if CONNECTIONS.contains(&field.name.node.as_str()) {
            return DEFAULT_PAGE;
        }
        match value("ids") {
            Some(Value::List(items)) => items.len() as u64,
            _ => 1,
        }
    }

    /// (depth, cost) of a selection set; `seen` guards against fragment cycles.
    fn walk(&mut self, set: &SelectionSet, level: u64, seen: &mut HashSet<String>) -> (u64, u64) {
        let (mut depth, mut cost) = (0u64, 0u64);
        for selection in &set.items {
            let (d, c) = match &selection.node {
                Selection::Field(field) => {
                    let field = &field.node;
                    if field.alias.is_some() {
                        self.aliases += 1;
                    }
                    let name = field.name.node.as_str();
                    if level == 0 && (name == "__schema" || name == "__type") {
                        self.introspection = true;
                    }
                    // Introspection is bounded by the schema, not by data: GraphiQL's own
                    // query nests `ofType` deeply and must not hit the depth or cost limits.
                    if name == "__schema" || name == "__type" {
                        continue;
                    }
                    let (d, c) = self.walk(&field.selection_set.node, level + 1, seen);
                    let multiplier = if field.selection_set.node.items.is_empty() {
                        1
                    } else {
                        self.page_size(field).max(1)
                    };
                    (d + 1, 1u64.saturating_add(multiplier.saturating_mul(c)))
                }
                Selection::FragmentSpread(spread) => {
                    let name = spread.node.fragment_name.node.to_string();
                    match self.doc.fragments.get(&spread.node.fragment_name.node) {
                        Some(fragment) if seen.insert(name.clone()) => {
                            let r = self.walk(&fragment.node.selection_set.node, level, seen);
                            seen.remove(&name);
                            r
                        }
                        _ => (0, 0),
                    }
                }
                Selection::InlineFragment(inline) => {
                    self.walk(&inline.node.selection_set.node, level, seen)
                }
            };
            depth = depth.max(d);
            cost = cost.saturating_add(c);
        }
        (depth, cost)
    }
}

/// Depth, aliases, cost and whether introspection is asked for, over every operation.
pub fn shape(doc: &ExecutableDocument, variables: &Variables) -> Shape {
    let mut walker = Walker {
        doc,
        variables,
        aliases: 0,
        introspection: false,
    };
    let mut shape = Shape::default();
    for (_, op) in doc.operations.iter() {
        let (d, c) = walker.walk(&op.node.selection_set.node, 0, &mut HashSet::new());
        shape.depth = shape.depth.max(d);
        shape.complexity = shape.complexity.max(c);
    }
    shape.aliases = walker.aliases;
    shape.introspection = walker.introspection;
    shape
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
        return Err(refuse(
            "TOKEN_LIMIT",
            format!(
                "the query has more than {max_tokens} tokens (the limit is {max_tokens}); split it into smaller queries"
            ),
        ));
    }
    // The variables are moved out and back rather than copied: `parsed_query` borrows the
    // request mutably.
    let variables = std::mem::take(&mut request.variables);
    let parsed = request.parsed_query().map(|doc| shape(doc, &variables));
    request.variables = variables;
    let shape = parsed?;
    let over = |what: &str, value: u64, max: u32| {
        format!(
            "the query's {what} is {value}, over the limit of {max} by {}",
            value - max as u64
        )
    };
    if shape.depth > limits.max_depth as u64 {
        return Err(refuse(
            "DEPTH_LIMIT",
            over("depth", shape.depth, limits.max_depth),
        ));
    }
    if shape.aliases > limits.max_aliases as u64 {
        return Err(refuse(
            "ALIAS_LIMIT",
            over("alias count", shape.aliases, limits.max_aliases),
        ));
    }
    if shape.complexity > limits.max_complexity as u64 {
        let message = format!(
            "{}; a field costs 1 plus its selection times its page size (first/last, 50 by default): ask for smaller pages",
            over("cost", shape.complexity, limits.max_complexity)
        );
        return Err(refuse("COMPLEXITY_LIMIT", message));
    }
    if shape.introspection && !limits.introspection {
        return Err(refuse(
            "INTROSPECTION_DISABLED",
            "introspection is turned off on this gateway".into(),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shape_of(q: &str) -> Shape {
        shape(
            &async_graphql::parser::parse_query(q).unwrap(),
            &Variables::default(),
        )
    }

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

    #[test]
    fn page_sizes_multiply_the_cost() {
        let s = shape_of(
            "{ org { users(first: 100) { edges { node { groups(first: 100) { edges { node { name } } } } } } } }",
        );
        // name 1 → node 2 → edges 3 → groups 1+100*3 → node 302 → edges 303 → users 1+100*303 → org 30302
        assert_eq!(s.complexity, 30_302);
        assert_eq!(s.depth, 8);
        let s = shape_of("{ org { users { totalCount } } }");
        assert_eq!(s.complexity, 1 + (1 + 50));
        let s = shape_of(
            "{ a: org { name } b: org { name } ...F } fragment F on Query { c: orgs { name } }",
        );
        assert_eq!(s.aliases, 3);
        assert!(shape_of("{ __schema { types { name } } }").introspection);
        assert!(!shape_of("{ org { __typename } }").introspection);
    }
}
