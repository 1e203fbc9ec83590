//! Syntax errors as a person reads them: "Syntax Error: expected a selection set at 1:2", not the
//! parser's framed excerpt with grammar rule names.

/// The readable message for one of the parser's syntax messages, at `line:column`.
pub fn message(parser_text: &str, at: Option<(usize, usize)>) -> String {
    // The parser's text ends with a line `= expected <rule> or <rule>` (or `= unexpected ...`).
    let said = parser_text
        .lines()
        .rev()
        .find_map(|l| l.trim_start().strip_prefix("= "))
        .unwrap_or("the document is not GraphQL");
    let (lead, rules) = match said.split_once(' ') {
        Some((lead @ ("expected" | "unexpected"), rules)) => (lead, rules),
        _ => ("", said),
    };
    let things: Vec<&str> = rules
        .split(", ")
        .flat_map(|part| part.split(" or "))
        .map(|rule| phrase(rule.trim()))
        .collect();
    let mut text = String::from("Syntax Error: ");
    if !lead.is_empty() {
        text.push_str(lead);
        text.push(' ');
    }
    text.push_str(&things.join(" or "));
    if let Some((line, column)) = at {
        text.push_str(&format!(" at {line}:{column}"));
    }
    text
}

/// A grammar rule of async-graphql's parser as words.
fn phrase(rule: &str) -> &str {
    match rule {
        "selection" => "a selection set (a field or a fragment spread)",
        "selection_set" => "a selection set",
        "executable_definition" => "an operation or a fragment",
        "EOI" => "the end of the document",
        "value" | "const_value" | "default_value" => "a value",
        "type_" | "named_type" | "list_type" | "non_null_type" => "a type",
        "name" => "a name",
        "variable" => "a variable",
        "variable_definitions" | "variable_definition" => "a variable definition",
        "arguments" | "argument" => "an argument",
        "directive" | "directives" => "a directive",
        "string" | "block_string" => "a string",
        "type_condition" => "a type condition (`on Type`)",
        "fragment_spread" | "inline_fragment" => "a fragment",
        "field" | "alias" => "a field",
        "int" | "float" => "a number",
        "boolean" => "true or false",
        "object" => "an object",
        "list" => "a list",
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn of(q: &str) -> String {
        let e = async_graphql::parser::parse_query(q).unwrap_err();
        let pos = e.positions().next().map(|p| (p.line, p.column));
        message(&e.to_string(), pos)
    }

    #[test]
    fn syntax_errors_read_like_graphql_errors() {
        assert_eq!(
            of("{"),
            "Syntax Error: expected a selection set (a field or a fragment spread) at 1:2"
        );
        assert_eq!(
            of("{ org { name } } }"),
            "Syntax Error: expected the end of the document or an operation or a fragment at 1:18"
        );
        assert_eq!(
            of("query { org(id: ) { name } }"),
            "Syntax Error: expected a value at 1:17"
        );
        assert_eq!(
            of("fragment F on { a }"),
            "Syntax Error: expected a name at 1:15"
        );
        for q in ["", "}", "query Q($x: ) { a }", "{ a(b: \"open) }"] {
            let m = of(q);
            assert!(m.starts_with("Syntax Error: expected "), "{m}");
            assert!(
                !m.contains('|') && !m.contains("-->") && !m.contains('_'),
                "{m}"
            );
        }
    }
}
