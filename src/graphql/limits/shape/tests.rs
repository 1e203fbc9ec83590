use async_graphql::parser::parse_query;
use async_graphql::parser::types::{Selection, SelectionSet};

use super::*;

fn walk(q: &str, bounds: Bounds) -> Walk {
    measure(&parse_query(q).unwrap(), &Variables::default(), bounds)
}

fn shape_of(q: &str) -> Shape {
    walk(q, Bounds::NONE).shape.unwrap()
}

/// `levels` fragments each spreading the next twice, the last selecting `leaf`: 2^levels
/// copies of `leaf` once inlined, in a document of a few hundred bytes.
fn bomb(on: &str, root: &str, levels: usize, leaf: &str) -> String {
    let mut q = format!("query {{ {root} }}");
    for i in 0..levels {
        q.push_str(&format!(
            " fragment F{i} on {on} {{ ...F{} ...F{} }}",
            i + 1,
            i + 1
        ));
    }
    q.push_str(&format!(" fragment F{levels} on {on} {{ {leaf} }}"));
    q
}

/// Selections written in the document, spreads not followed: the size the walk must stay in.
fn written(q: &str) -> u64 {
    fn count(set: &SelectionSet) -> u64 {
        set.items
            .iter()
            .map(|s| {
                1 + match &s.node {
                    Selection::Field(f) => count(&f.node.selection_set.node),
                    Selection::InlineFragment(i) => count(&i.node.selection_set.node),
                    Selection::FragmentSpread(_) => 0,
                }
            })
            .sum()
    }
    let doc = parse_query(q).unwrap();
    let ops: u64 = doc
        .operations
        .iter()
        .map(|(_, op)| count(&op.node.selection_set.node))
        .sum();
    ops + doc
        .fragments
        .values()
        .map(|f| count(&f.node.selection_set.node))
        .sum::<u64>()
}

const DEFAULTS: Bounds = Bounds {
    depth: 12,
    aliases: 50,
    cost: 20_000,
    fields: 20_000,
};

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
    assert!(shape_of("{ ...F } fragment F on Query { __schema { types { name } } }").introspection);
}

#[test]
fn a_fragment_spread_twice_counts_twice_but_is_walked_once() {
    let q = "{ org { ...F ...F } } fragment F on Org { users(first: 10) { totalCount } }";
    let w = walk(q, Bounds::NONE);
    let s = w.shape.unwrap();
    assert_eq!(s.complexity, 1 + 2 * (1 + 10));
    assert_eq!(s.fields, 1 + 2 * 2);
    assert_eq!(w.steps, written(q));
}

#[test]
fn a_fragment_bomb_is_counted_in_steps_linear_in_the_document() {
    for levels in [10, 20, 40, 60] {
        let q = bomb("Org", "org { ...F0 }", levels, "name");
        let w = walk(&q, Bounds::NONE);
        let s = w.shape.unwrap();
        let copies = 1u64.checked_shl(levels as u32).unwrap_or(u64::MAX);
        assert_eq!(s.fields, copies.saturating_add(1), "{levels} levels");
        assert_eq!(s.complexity, copies.saturating_add(1), "{levels} levels");
        // Every written selection once: 2 spreads per level, the leaf, `org` and its spread.
        assert_eq!(w.steps, written(&q), "{levels} levels");
        assert_eq!(w.steps, 2 * levels as u64 + 3, "{levels} levels");
    }
}

#[test]
fn the_walk_stops_at_the_first_bound_passed() {
    let q = bomb("Org", "org { ...F0 }", 40, "name");
    let w = walk(&q, DEFAULTS);
    // 2^15 = 32,768 copies pass 20,000: the walk stops inside F25, at most the whole document.
    assert_eq!(w.shape, Err(Exceeded::Cost(32_768)));
    assert!(w.steps <= written(&q), "{} steps", w.steps);

    let deep =
        "{ a { b { c { d { e { f { g { h { i { j { k { l { m { n } } } } } } } } } } } } } }";
    assert_eq!(walk(deep, DEFAULTS).shape, Err(Exceeded::Depth(13)));
}

#[test]
fn introspection_escapes_depth_and_cost_but_not_the_field_count() {
    // Free of depth and cost (GraphiQL's query nests ofType deeply) ...
    let typeref = "kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name } } } } } } }";
    let q = format!(
        "query IntrospectionQuery {{ __schema {{ queryType {{ name }} types {{ ...FullType }} }} }}
         fragment FullType on __Type {{ kind name fields(includeDeprecated: true) {{ name args {{ name type {{ ...TypeRef }} }} type {{ ...TypeRef }} }} }}
         fragment TypeRef on __Type {{ {typeref} }}"
    );
    let s = walk(&q, DEFAULTS).shape.unwrap();
    assert!(s.introspection);
    assert_eq!((s.depth, s.complexity), (0, 0));
    // ... but a bomb of `__type` is as many fields as the executor would visit.
    let q = bomb(
        "Query",
        "...F0",
        40,
        "__type(name: \"Org\") { name fields { name } }",
    );
    let w = walk(&q, DEFAULTS);
    assert!(
        matches!(w.shape, Err(Exceeded::Fields(n)) if n > 20_000),
        "{:?}",
        w.shape
    );
    assert!(w.steps <= written(&q));
}

#[test]
fn a_page_size_beyond_32_bits_is_an_invalid_int_not_a_cost() {
    let w = walk(
        "{ org { users(first: 4294967296) @skip(if: true) { totalCount } } }",
        Bounds::NONE,
    );
    assert_eq!(w.shape.unwrap().complexity, 1 + (1 + 1));
    assert!(
        w.invalid_int
            .unwrap()
            .contains("\"first\": 4294967296 is not an Int")
    );
    let vars = Variables::from_json(serde_json::json!({ "n": -2147483649i64 }));
    let doc = parse_query("query($n: Int) { org { users(last: $n) { totalCount } } }").unwrap();
    let w = measure(&doc, &vars, Bounds::NONE);
    assert!(
        w.invalid_int
            .unwrap()
            .contains("\"last\": -2147483649 is not an Int")
    );
    assert!(
        walk(
            "{ org { users(first: 2147483647) { totalCount } } }",
            Bounds::NONE
        )
        .invalid_int
        .is_none()
    );
}
