//! What a document asks for: depth, aliases, cost, the fields it visits once its fragments are
//! inlined, and whether it asks for introspection. Each fragment is measured once and reused at
//! every spread, so the walk is linear in the document however often fragments are spread (a
//! fragment bomb doubles the counts, not the work), and it stops at the first bound it passes.

use std::collections::HashMap;

use async_graphql::parser::types::{ExecutableDocument, Field, Selection, SelectionSet};
use async_graphql::{Name, Value, Variables};

/// The page size assumed for a connection queried without `first` or `last`.
const DEFAULT_PAGE: u64 = 50;
/// Fields that return connections (pages of items).
const CONNECTIONS: [&str; 3] = ["users", "groups", "members"];

/// Where the walk stops. `u64::MAX` everywhere measures the whole document.
#[derive(Clone, Copy, Debug)]
pub struct Bounds {
    pub depth: u64,
    pub aliases: u64,
    pub cost: u64,
    /// Fields visited with every fragment inlined, introspection included: what async-graphql's
    /// own validation and the executor walk.
    pub fields: u64,
}

impl Bounds {
    #[cfg(test)]
    pub const NONE: Bounds = Bounds {
        depth: u64::MAX,
        aliases: u64::MAX,
        cost: u64::MAX,
        fields: u64::MAX,
    };
}

/// What a selection set (or a whole document) asks for.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Shape {
    pub depth: u64,
    pub aliases: u64,
    pub complexity: u64,
    pub fields: u64,
    /// `__schema` or `__type` selected at this set's own level (for a document: at the root).
    pub introspection: bool,
}

/// The first bound the walk passed, with the count when it stopped: a lower bound of the
/// document's whole count.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Exceeded {
    Depth(u64),
    Aliases(u64),
    Cost(u64),
    Fields(u64),
}

/// A walk's result and the selections it visited (its work, which tests hold linear).
#[derive(Debug)]
pub struct Walk {
    pub shape: Result<Shape, Exceeded>,
    #[cfg_attr(
        not(test),
        expect(
            dead_code,
            reason = "read by the tests that hold the walk linear in the document"
        )
    )]
    pub steps: u64,
    /// A page size that is no 32-bit Int: async-graphql's validation lets any 64-bit number
    /// through as an `Int` and the executor then fails on it (or, under `@skip`, never looks),
    /// so the gateway refuses it here. `first` and `last` are the schema's only `Int` arguments.
    pub invalid_int: Option<String>,
}

/// Measures every operation of `doc` (depth and cost: the largest operation's; aliases and
/// fields: summed, since validation visits every operation), stopping at the first bound passed.
pub fn measure(doc: &ExecutableDocument, variables: &Variables, bounds: Bounds) -> Walk {
    let mut walker = Walker {
        doc,
        variables,
        bounds,
        memo: HashMap::new(),
        in_introspection: false,
        steps: 0,
        invalid_int: None,
    };
    let mut total = Shape::default();
    let mut outcome = Ok(());
    for (_, op) in doc.operations.iter() {
        match walker.set(&op.node.selection_set.node, 0) {
            Ok(s) => {
                total.depth = total.depth.max(s.depth);
                total.complexity = total.complexity.max(s.complexity);
                total.aliases = total.aliases.saturating_add(s.aliases);
                total.fields = total.fields.saturating_add(s.fields);
                total.introspection |= s.introspection;
                if let Err(e) = walker.check(&total, 0) {
                    outcome = Err(e);
                    break;
                }
            }
            Err(e) => {
                outcome = Err(e);
                break;
            }
        }
    }
    Walk {
        shape: outcome.map(|()| total),
        steps: walker.steps,
        invalid_int: walker.invalid_int,
    }
}

struct Walker<'a> {
    doc: &'a ExecutableDocument,
    variables: &'a Variables,
    bounds: Bounds,
    /// Each fragment's shape once measured; `None` while it is being measured (a spread of it
    /// then is a cycle, which validation refuses).
    memo: HashMap<&'a str, Option<Shape>>,
    /// Inside `__schema` or `__type`: bounded by the schema, not by data, so depth and cost are
    /// not checked there (GraphiQL's own query nests `ofType` deeply); fields and aliases are.
    in_introspection: bool,
    steps: u64,
    invalid_int: Option<String>,
}

impl<'a> Walker<'a> {
    fn check(&self, s: &Shape, level: u64) -> Result<(), Exceeded> {
        let b = &self.bounds;
        let depth = level.saturating_add(s.depth);
        if !self.in_introspection && depth > b.depth {
            return Err(Exceeded::Depth(depth));
        }
        if s.aliases > b.aliases {
            return Err(Exceeded::Aliases(s.aliases));
        }
        if !self.in_introspection && s.complexity > b.cost {
            return Err(Exceeded::Cost(s.complexity));
        }
        if s.fields > b.fields {
            return Err(Exceeded::Fields(s.fields));
        }
        Ok(())
    }

    /// The shape of a selection set whose fields sit at `level` (0 for an operation's).
    fn set(&mut self, set: &'a SelectionSet, level: u64) -> Result<Shape, Exceeded> {
        let mut total = Shape::default();
        for selection in &set.items {
            self.steps += 1;
            let s = match &selection.node {
                Selection::Field(field) => self.field(&field.node, level)?,
                Selection::FragmentSpread(spread) => {
                    self.fragment(&spread.node.fragment_name.node, level)?
                }
                Selection::InlineFragment(inline) => {
                    self.set(&inline.node.selection_set.node, level)?
                }
            };
            total.depth = total.depth.max(s.depth);
            total.aliases = total.aliases.saturating_add(s.aliases);
            total.complexity = total.complexity.saturating_add(s.complexity);
            total.fields = total.fields.saturating_add(s.fields);
            total.introspection |= s.introspection;
            self.check(&total, level)?;
        }
        Ok(total)
    }

    fn field(&mut self, field: &'a Field, level: u64) -> Result<Shape, Exceeded> {
        let name = field.name.node.as_str();
        let alias = u64::from(field.alias.is_some());
        let leaf = field.selection_set.node.items.is_empty();
        // A field below the depth bound passes it, whatever it selects: stop before descending.
        if !self.in_introspection && level >= self.bounds.depth {
            return Err(Exceeded::Depth(level + 1));
        }
        if name == "__schema" || name == "__type" {
            let outer = std::mem::replace(&mut self.in_introspection, true);
            let sub = self.set(&field.selection_set.node, level + 1);
            self.in_introspection = outer;
            let sub = sub?;
            return Ok(Shape {
                aliases: alias.saturating_add(sub.aliases),
                fields: sub.fields.saturating_add(1),
                introspection: true,
                ..Shape::default()
            });
        }
        let sub = if leaf {
            Shape::default()
        } else {
            self.set(&field.selection_set.node, level + 1)?
        };
        let multiplier = if leaf {
            1
        } else {
            self.page_size(field).max(1)
        };
        Ok(Shape {
            depth: sub.depth + 1,
            aliases: alias.saturating_add(sub.aliases),
            complexity: multiplier.saturating_mul(sub.complexity).saturating_add(1),
            fields: sub.fields.saturating_add(1),
            introspection: false,
        })
    }

    fn fragment(&mut self, name: &'a Name, level: u64) -> Result<Shape, Exceeded> {
        match self.memo.get(name.as_str()) {
            Some(Some(shape)) => return Ok(*shape),
            // A cycle: NoFragmentCycles refuses the document in validation.
            Some(None) => return Ok(Shape::default()),
            None => {}
        }
        // An unknown fragment: KnownFragmentNames refuses the document in validation.
        let Some(fragment) = self.doc.fragments.get(name) else {
            return Ok(Shape::default());
        };
        self.memo.insert(name.as_str(), None);
        let shape = self.set(&fragment.node.selection_set.node, level)?;
        self.memo.insert(name.as_str(), Some(shape));
        Ok(shape)
    }

    /// How many items a field returns: its page size, the number of `ids`, or 1. A page size
    /// that is no 32-bit Int counts as 0 and is recorded: it is refused as an invalid Int,
    /// which says more than a cost of four billion would.
    fn page_size(&mut self, field: &Field) -> u64 {
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
        let page = [("first", value("first")), ("last", value("last"))]
            .into_iter()
            .find_map(|(name, v)| v.map(|v| (name, v)));
        if let Some((name, arg)) = page {
            return match arg {
                Value::Number(n) => match n.as_i64().and_then(|n| i32::try_from(n).ok()) {
                    Some(n) => n.max(0) as u64,
                    None => {
                        self.invalid_int.get_or_insert_with(|| {
                            format!(
                                "Invalid value for argument \"{name}\": {n} is not an Int (a 32-bit signed integer, from -2147483648 to 2147483647)"
                            )
                        });
                        0
                    }
                },
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
}

#[cfg(test)]
mod tests;
