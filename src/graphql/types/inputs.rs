//! Filters and orders of the `users` and `groups` connections.

use async_graphql::{Enum, InputObject};

use super::UserStatus;
use async_graphql::ID;

/// Narrows `Org.users`. Conditions combine with AND.
#[derive(InputObject, Default, Debug)]
pub struct UserFilter {
    /// Case-insensitive substring of the e-mail, given name or family name.
    pub search: Option<String>,
    /// Only users with this status.
    pub status: Option<UserStatus>,
    /// Only members of this group (a Group id).
    pub member_of: Option<ID>,
    /// `true`: only users in no group; `false`: only users in at least one group.
    pub in_no_group: Option<bool>,
}

/// Narrows `Org.groups`.
#[derive(InputObject, Default, Debug)]
pub struct GroupFilter {
    /// Case-insensitive substring of the group's name.
    pub search: Option<String>,
}

/// Which way an order runs.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum OrderDirection {
    /// Smallest first (A to Z; for DIRECTORY, oldest first).
    #[default]
    Asc,
    /// Largest first.
    Desc,
}

/// What `Org.users` can be sorted by.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum UserOrderField {
    /// The upstream's own listing order (creation order on Amplitude). The default, and the
    /// only order served while an organization's mirror is still loading for the first time:
    /// the first page then arrives after one upstream page, not after the whole directory.
    #[default]
    Directory,
    /// By e-mail address.
    Email,
    /// By family name, then given name; users without real names last.
    FamilyName,
    /// By given name, then family name; users without real names last.
    GivenName,
}

/// How `Org.users` is sorted. Ties never occur: every order ends with the user's id.
#[derive(InputObject, Default, Debug, Clone, Copy)]
pub struct UserOrder {
    /// What to sort by.
    #[graphql(default)]
    pub field: UserOrderField,
    /// Which way.
    #[graphql(default)]
    pub direction: OrderDirection,
}

/// What `Org.groups` can be sorted by.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum GroupOrderField {
    /// The upstream's own listing order.
    #[default]
    Directory,
    /// By name.
    Name,
}

/// How `Org.groups` is sorted.
#[derive(InputObject, Default, Debug, Clone, Copy)]
pub struct GroupOrder {
    /// What to sort by.
    #[graphql(default)]
    pub field: GroupOrderField,
    /// Which way.
    #[graphql(default)]
    pub direction: OrderDirection,
}

impl UserOrderField {
    pub fn tag(self) -> &'static str {
        match self {
            UserOrderField::Directory => "users:DIRECTORY",
            UserOrderField::Email => "users:EMAIL",
            UserOrderField::FamilyName => "users:FAMILY_NAME",
            UserOrderField::GivenName => "users:GIVEN_NAME",
        }
    }

    pub(crate) fn to_directory(self) -> crate::directory::UserOrderField {
        match self {
            UserOrderField::Directory => crate::directory::UserOrderField::Directory,
            UserOrderField::Email => crate::directory::UserOrderField::Email,
            UserOrderField::FamilyName => crate::directory::UserOrderField::FamilyName,
            UserOrderField::GivenName => crate::directory::UserOrderField::GivenName,
        }
    }
}

impl GroupOrderField {
    pub fn tag(self) -> &'static str {
        match self {
            GroupOrderField::Directory => "groups:DIRECTORY",
            GroupOrderField::Name => "groups:NAME",
        }
    }

    pub(crate) fn to_directory(self) -> crate::directory::GroupOrderField {
        match self {
            GroupOrderField::Directory => crate::directory::GroupOrderField::Directory,
            GroupOrderField::Name => crate::directory::GroupOrderField::Name,
        }
    }
}
