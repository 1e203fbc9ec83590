//! Which documents' answers may be cached: a query whose every field is one the mirror's
//! snapshot alone decides. The rule is an allow-list by parent type and field, so a field added
//! later is uncacheable until it is named here.
//!
//! Not cached, and why: `budget` and `sync` (they change with time and the budget's state, not
//! with the snapshot), `auditLog`, `events`, `grants`, `webhookDeliveries` and every other
//! store-backed field (the store changes without a new snapshot), `org.user` and `org.group`
//! (a user or group the mirror lacks is read upstream and remembered apart from it), `node` and
//! `nodes` (an id may name a store-backed object), `viewer` (it names the key, and answers are
//! shared between keys of one scope). Mutations and subscriptions are never cached.

use std::collections::HashMap;

use async_graphql::parser::types::{
    DocumentOperations, ExecutableDocument, OperationType, Selection, SelectionSet,
};

/// Each object type's fields and the named type each returns, from the schema's SDL.
pub(super) struct Types {
    fields: HashMap<String, HashMap<String, String>>,
}

impl Types {
    pub(super) fn from_sdl(sdl: &str) -> Types {
        use async_graphql::parser::types::{TypeKind, TypeSystemDefinition};
        let mut fields = HashMap::new();
        if let Ok(doc) = async_graphql::parser::parse_schema(sdl) {
            for def in doc.definitions {
                let TypeSystemDefinition::Type(t) = def else {
                    continue;
                };
                let t = t.node;
                let own: HashMap<String, String> = match &t.kind {
                    TypeKind::Object(o) => o
                        .fields
                        .iter()
                        .map(|f| {
                            let ty = f.node.ty.node.to_string();
                            let named = ty.trim_matches(|c| c == '[' || c == ']' || c == '!');
                            (f.node.name.node.to_string(), named.to_owned())
                        })
                        .collect(),
                    _ => continue,
                };
                fields.insert(t.name.node.to_string(), own);
            }
        }
        Types { fields }
    }

    fn field_type(&self, parent: &str, field: &str) -> Option<&str> {
        self.fields.get(parent)?.get(field).map(String::as_str)
    }
}

/// Whether `field` of `parent` is decided by the snapshot alone (see the module's notes).
fn allowed(parent: &str, field: &str) -> bool {
    if field == "__typename" {
        return true;
    }
    match parent {
        "Query" => matches!(field, "org" | "orgs"),
        "Org" => matches!(
            field,
            "id" | "slug" | "name" | "profile" | "users" | "groups"
        ),
        "User" => matches!(
            field,
            "id" | "email"
                | "givenName"
                | "familyName"
                | "displayName"
                | "status"
                | "groups"
                | "fetchedAt"
                | "source"
                | "scim"
                | "org"
        ),
        "Group" => matches!(
            field,
            "id" | "upstreamId"
                | "name"
                | "members"
                | "memberCount"
                | "fetchedAt"
                | "source"
                | "scim"
                | "org"
        ),
        "PageInfo" => true,
        // Reached only through the fields above.
        "UserConnection" | "UserEdge" | "GroupConnection" | "GroupEdge" => true,
        _ => false,
    }
}

/// Whether the operation `operation` (or the document's only one) of `doc` may be cached.
pub(super) fn cacheable(types: &Types, doc: &ExecutableDocument, operation: Option<&str>) -> bool {
    let op = match (&doc.operations, operation) {
        (DocumentOperations::Single(op), _) => op,
        (DocumentOperations::Multiple(ops), Some(name)) => match ops.get(name) {
            Some(op) => op,
            None => return false,
        },
        (DocumentOperations::Multiple(ops), None) if ops.len() == 1 => {
            ops.values().next().expect("one operation")
        }
        _ => return false,
    };
    if op.node.ty != OperationType::Query {
        return false;
    }
    let mut walk = Walk {
        types,
        doc,
        fragments: HashMap::new(),
    };
    walk.set(&op.node.selection_set.node, "Query")
}

/// The name of the operation that runs: `operation`, else the document's only one's.
pub(super) fn operation_name(
    doc: &ExecutableDocument,
    operation: Option<&str>,
) -> Option<std::sync::Arc<str>> {
    if let Some(name) = operation {
        return Some(name.into());
    }
    match &doc.operations {
        DocumentOperations::Multiple(ops) if ops.len() == 1 => {
            ops.keys().next().map(|n| n.as_str().into())
        }
        _ => None,
    }
}

struct Walk<'a> {
    types: &'a Types,
    doc: &'a ExecutableDocument,
    /// Fragments seen, by name and type: `None` while one is being walked (a cycle).
    fragments: HashMap<(&'a str, String), Option<bool>>,
}

impl<'a> Walk<'a> {
    fn set(&mut self, set: &'a SelectionSet, parent: &str) -> bool {
        set.items.iter().all(|item| match &item.node {
            Selection::Field(field) => {
                let field = &field.node;
                let name = field.name.node.as_str();
                if !allowed(parent, name) {
                    return false;
                }
                if field.selection_set.node.items.is_empty() {
                    return true;
                }
                match self.types.field_type(parent, name) {
                    Some(child) => {
                        let child = child.to_owned();
                        self.set(&field.selection_set.node, &child)
                    }
                    None => false,
                }
            }
            Selection::InlineFragment(fragment) => {
                let fragment = &fragment.node;
                let on = fragment
                    .type_condition
                    .as_ref()
                    .map_or(parent.to_owned(), |c| c.node.on.node.to_string());
                self.set(&fragment.selection_set.node, &on)
            }
            Selection::FragmentSpread(spread) => {
                let name = spread.node.fragment_name.node.as_str();
                let Some(def) = self.doc.fragments.get(name) else {
                    return false;
                };
                let on = def.node.type_condition.node.on.node.to_string();
                match self.fragments.get(&(name, on.clone())) {
                    Some(Some(known)) => *known,
                    Some(None) => false,
                    None => {
                        self.fragments.insert((name, on.clone()), None);
                        let verdict = self.set(&def.node.selection_set.node, &on);
                        self.fragments.insert((name, on), Some(verdict));
                        verdict
                    }
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verdict(query: &str) -> bool {
        let types = Types::from_sdl(&crate::graphql::sdl());
        let doc = async_graphql::parser::parse_query(query).unwrap();
        cacheable(&types, &doc, None)
    }

    #[test]
    fn pages_of_users_and_groups_are_cacheable_and_what_the_snapshot_does_not_decide_is_not() {
        assert!(verdict(
            "{ org { users(first: 50) { totalCount edges { cursor node { id email status groups { edges { node { name } } } } } pageInfo { hasNextPage endCursor } } } }"
        ));
        assert!(verdict(
            "query Dash { orgs { groups(first: 20) { edges { node { name memberCount members(first: 25) { edges { node { email } } } } } } } }"
        ));
        assert!(verdict(
            "{ org { ...O } } fragment O on Org { users { edges { node { ... on User { email } } } } }"
        ));
        for uncacheable in [
            "{ org { budget { remaining } } }",
            "{ org { sync { complete } } }",
            "{ org { users { edges { node { grants { edges { node { id } } } } } } } }",
            "{ org { events(first: 1) { edges { cursor } } } }",
            "{ org { user(email: \"a@example.com\") { email } } }",
            "{ node(id: \"x\") { id } }",
            "{ viewer { name } }",
            "mutation { refreshDirectory(input: {}) { outcome } }",
            "{ org { ...F } } fragment F on Org { auditLog(first: 1) { edges { cursor } } }",
        ] {
            assert!(!verdict(uncacheable), "{uncacheable}");
        }
    }
}
