//! Relay cursor connections: argument checks, `PageInfo`, and the edge and connection types of
//! users and groups (the audit log's are in `types/audit.rs`, with this `PageInfo`).

use async_graphql::{Result, SimpleObject};

use super::errors::bad_input;
use super::ids::{CursorError, decode_cursor, encode_cursor};
use super::types::{Group, User};
use crate::directory::{
    GroupOrderField, Page, PageArgs, SortKey, UserOrderField, group_sort_key, user_sort_key,
};

/// The largest page a connection returns.
pub const MAX_PAGE: i32 = 100;
/// The page size when neither `first` nor `last` is given.
pub const DEFAULT_PAGE: usize = 50;
/// The order tag of the audit log's cursors (positions by sequence number).
pub const AUDIT_ORDER: &str = "audit";
/// Grants, newest first by id.
pub const GRANT_ORDER: &str = "grants";
/// An organization's directory events, by sequence number.
pub const EVENT_ORDER: &str = "events";
/// Webhook deliveries, newest first by id.
pub const DELIVERY_ORDER: &str = "deliveries";
/// An organization's snapshots, newest first by sequence number.
pub const SNAPSHOT_ORDER: &str = "snapshots";
/// The changes of a snapshot diff, by position in the diff's order.
pub const SNAPSHOT_DIFF_ORDER: &str = "snapshotDiff";

/// An item of a page and the order it was paged in: enough to compute its position, which is
/// done only when a client asks for a cursor (most answers show few of their cursors, and a
/// name order's key is three strings). Edges compute theirs from their node.
#[derive(Clone)]
pub enum Anchor {
    User(UserOrderField, User),
    Group(GroupOrderField, Group),
    /// An audit row or an event, by sequence number.
    Seq(u64),
    /// A grant or a webhook delivery, by its id.
    Grant(String),
}

impl Anchor {
    fn key(&self) -> SortKey {
        match self {
            Anchor::User(field, u) => user_sort_key(*field, u.rec()),
            Anchor::Group(field, g) => group_sort_key(*field, g.rec()),
            Anchor::Seq(seq) => SortKey::Seq(*seq),
            Anchor::Grant(id) => SortKey::Text(vec![id.clone()]),
        }
    }
}

/// The cursor of the audit row `seq`.
pub fn audit_cursor(seq: u64) -> String {
    encode_cursor(AUDIT_ORDER, &SortKey::Seq(seq))
}

/// The cursor of an organization's event `seq`.
pub fn event_cursor(seq: u64) -> String {
    encode_cursor(EVENT_ORDER, &SortKey::Seq(seq))
}

/// Where an item stands in an order; encoded into a cursor only when asked for.
#[derive(Clone)]
pub struct Position {
    order: &'static str,
    anchor: Anchor,
}

impl Position {
    fn cursor(&self) -> String {
        encode_cursor(self.order, &self.anchor.key())
    }
}

/// Information about one page of a connection (Relay Cursor Connections).
#[derive(SimpleObject, Clone)]
#[graphql(complex)]
pub struct PageInfo {
    /// Whether more items follow this page in the connection's order.
    pub has_next_page: bool,
    /// Whether items precede this page in the connection's order.
    pub has_previous_page: bool,
    #[graphql(skip)]
    start: Option<Position>,
    #[graphql(skip)]
    end: Option<Position>,
}

#[async_graphql::ComplexObject]
impl PageInfo {
    /// The cursor of the first edge, if any.
    async fn start_cursor(&self) -> Option<String> {
        self.start.as_ref().map(Position::cursor)
    }

    /// The cursor of the last edge, if any.
    async fn end_cursor(&self) -> Option<String> {
        self.end.as_ref().map(Position::cursor)
    }
}

impl PageInfo {
    /// The page information of a page in `order` (the audit log's or the events') whose
    /// first and last rows are `start` and `end` (sequence numbers).
    pub fn of_seq(
        order: &'static str,
        has_next_page: bool,
        has_previous_page: bool,
        start: Option<u64>,
        end: Option<u64>,
    ) -> PageInfo {
        let position = |seq| Position {
            order,
            anchor: Anchor::Seq(seq),
        };
        PageInfo {
            has_next_page,
            has_previous_page,
            start: start.map(position),
            end: end.map(position),
        }
    }
}

impl PageInfo {
    /// The page information of a forward page of grants whose first and last are `start`
    /// and `end` (grant ids).
    pub fn of_grants(
        has_next_page: bool,
        has_previous_page: bool,
        start: Option<String>,
        end: Option<String>,
    ) -> PageInfo {
        PageInfo::of_ids(GRANT_ORDER, has_next_page, has_previous_page, start, end)
    }

    /// The page information of a forward page in `order` (grants, webhook deliveries) whose
    /// first and last are `start` and `end` (their ids).
    pub fn of_ids(
        order: &'static str,
        has_next_page: bool,
        has_previous_page: bool,
        start: Option<String>,
        end: Option<String>,
    ) -> PageInfo {
        let position = |id| Position {
            order,
            anchor: Anchor::Grant(id),
        };
        PageInfo {
            has_next_page,
            has_previous_page,
            start: start.map(position),
            end: end.map(position),
        }
    }
}

/// The cursor of the webhook delivery `id`.
pub fn delivery_cursor(id: &str) -> String {
    encode_cursor(DELIVERY_ORDER, &SortKey::Text(vec![id.to_owned()]))
}

/// The cursor of the grant `id`.
pub fn grant_cursor(id: &str) -> String {
    encode_cursor(GRANT_ORDER, &SortKey::Text(vec![id.to_owned()]))
}

/// Checks Relay's arguments and decodes the cursors of `order`.
pub fn page_args(
    order: &str,
    first: Option<i32>,
    after: Option<String>,
    last: Option<i32>,
    before: Option<String>,
) -> Result<PageArgs> {
    let size = |name: &str, v: Option<i32>| -> Result<Option<usize>> {
        match v {
            None => Ok(None),
            Some(n) if (0..=MAX_PAGE).contains(&n) => Ok(Some(n as usize)),
            Some(n) => Err(bad_input(format!(
                "`{name}` must be between 0 and {MAX_PAGE}, got {n}; page through larger results with cursors"
            ))),
        }
    };
    let first = size("first", first)?;
    let last = size("last", last)?;
    if first.is_some() && last.is_some() {
        return Err(bad_input("give either `first` or `last`, not both"));
    }
    let cursor = |name: &str, c: Option<String>| -> Result<Option<SortKey>> {
        match c {
            None => Ok(None),
            Some(c) => decode_cursor(&c, order).map(Some).map_err(|e| match e {
                CursorError::Invalid => {
                    bad_input(format!("`{name}` is not a cursor this gateway issued"))
                }
                CursorError::OtherOrder { .. } => bad_input(format!(
                    "`{name}` is a cursor of another ordering; keep `orderBy` the same while paging"
                )),
            }),
        }
    };
    let after = cursor("after", after)?;
    let before = cursor("before", before)?;
    let first = if first.is_none() && last.is_none() {
        Some(DEFAULT_PAGE)
    } else {
        first
    };
    Ok(PageArgs {
        first,
        after,
        last,
        before,
    })
}

fn page_info<T>(order: &'static str, page: &Page<T>, anchor: impl Fn(&T) -> Anchor) -> PageInfo {
    let position = |item: &T| Position {
        order,
        anchor: anchor(item),
    };
    PageInfo {
        has_next_page: page.has_next_page,
        has_previous_page: page.has_previous_page,
        start: page.items.first().map(position),
        end: page.items.last().map(position),
    }
}

/// Declares an edge and a connection type for one node type.
macro_rules! connection {
    ($conn:ident, $edge:ident, $node:ty, $field:ty, $anchor:path, $key:path, $what:literal) => {
        #[doc = concat!("An edge to a ", $what, ": the item and where it stands.")]
        #[derive(SimpleObject)]
        #[graphql(complex)]
        pub struct $edge {
            /// The cursor tag and the order of the page: with the node, its position.
            #[graphql(skip)]
            order: (&'static str, $field),
            #[doc = concat!("The ", $what, ".")]
            pub node: $node,
        }

        #[async_graphql::ComplexObject]
        impl $edge {
            /// Where this edge stands; pass it as `after` or `before`.
            async fn cursor(&self) -> String {
                let (tag, field) = self.order;
                encode_cursor(tag, &$key(field, self.node.rec()))
            }
        }

        #[doc = concat!("One page of ", $what, "s.")]
        #[derive(SimpleObject)]
        pub struct $conn {
            /// The items of this page, in order.
            pub edges: Vec<$edge>,
            /// Where this page stands in the whole connection.
            // Boxed to keep the connection small: async-graphql holds a field's value inside
            // the future of every field of the parent type (`types/mod.rs`).
            pub page_info: Box<PageInfo>,
            /// How many items match, over all pages.
            pub total_count: i32,
        }

        impl $conn {
            /// The connection of one page paged in `field` (whose cursor tag is `order`); `node`
            /// makes the node of an item.
            pub fn new<I: Clone>(
                order: &'static str,
                field: $field,
                page: Page<I>,
                node: impl Fn(I) -> $node,
            ) -> $conn {
                let anchor = |item: &I| $anchor(field, node(item.clone()));
                let page_info = Box::new(page_info(order, &page, anchor));
                $conn {
                    total_count: page.total as i32,
                    page_info,
                    edges: page
                        .items
                        .into_iter()
                        .map(|item| $edge {
                            order: (order, field),
                            node: node(item),
                        })
                        .collect(),
                }
            }
        }
    };
}

connection!(
    UserConnection,
    UserEdge,
    User,
    UserOrderField,
    Anchor::User,
    user_sort_key,
    "user"
);
connection!(
    GroupConnection,
    GroupEdge,
    Group,
    GroupOrderField,
    Anchor::Group,
    group_sort_key,
    "group"
);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graphql::types::Org;

    /// A value a field returns is held inside the future of every field of the parent type
    /// (`types/mod.rs`). Measured with `RUSTC_BOOTSTRAP=1 cargo rustc --release --lib --
    /// -Zprint-type-sizes`: with 104-byte connections the field futures of `User` and `Group`
    /// were 1,056 bytes, past glibc's thread cache (1,032); with 40-byte ones they are 992.
    /// These bounds keep the values about that size.
    #[test]
    fn values_fields_return_stay_small() {
        use std::mem::size_of;
        assert!(
            size_of::<UserConnection>() <= 48,
            "{}",
            size_of::<UserConnection>()
        );
        assert!(
            size_of::<GroupConnection>() <= 48,
            "{}",
            size_of::<GroupConnection>()
        );
        assert!(size_of::<User>() <= 48, "{}", size_of::<User>());
        assert!(size_of::<Group>() <= 48, "{}", size_of::<Group>());
        assert!(size_of::<Org>() <= 48, "{}", size_of::<Org>());
    }
}
