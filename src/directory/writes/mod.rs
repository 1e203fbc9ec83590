//! Every change the gateway makes to a directory: one entry point per kind of change, each sent
//! at once in the lane its caller names, applied to the mirror when confirmed, settled by reading.
//!
//! # Entry points
//!
//! Each is a method of [`Directory`]; callers (GraphQL today, governance and the SCIM proxy
//! tomorrow) pass typed inputs and a [`WriteLane`], and get the record as written or a
//! [`WriteError`]. The lane shown is the one GraphQL passes, and the one to pass by default:
//! revocations go `Critical` so they never wait behind other work. The same nine make the
//! seam's `DirectoryWrites` (`seam.rs`), which GraphQL's mutations call through their handle.
//!
//! | change (request)              | entry point                    | default lane | file         |
//! |-------------------------------|--------------------------------|--------------|--------------|
//! | invite (`POST /Users`)        | [`Directory::invite_user`]     | `Write`      | `users.rs`   |
//! | names (`PUT /Users/{id}`)     | [`Directory::update_user`]     | `Write`      | `users.rs`   |
//! | deactivate (`active: false`)  | [`Directory::deactivate_user`] | `Critical`   | `users.rs`   |
//! | delete (`DELETE /Users/{id}`) | [`Directory::delete_user`]     | `Critical`   | `users.rs`   |
//! | create a group (`POST`)       | [`Directory::create_group`]    | `Write`      | `groups.rs`  |
//! | rename a group (`PATCH`)      | [`Directory::rename_group`]    | `Write`      | `groups.rs`  |
//! | delete a group (`DELETE`)     | [`Directory::delete_group`]    | `Write`      | `groups.rs`  |
//! | add members (`PATCH`)         | [`Directory::add_members`]     | `Write`      | `members.rs` |
//! | remove members (`PATCH`)      | [`Directory::remove_members`]  | `Critical`   | `members.rs` |
//!
//! The reads a write makes go in its own lane, so a revocation is never queued behind reads:
//! the current user for a `PUT` (when the mirror lacks it) and every read-back. One exception:
//! a rename whose group the mirror lacks reads it as a point read does (the interactive lane).
//!
//! # Applied to the mirror
//!
//! A confirmed write becomes a [`Change`](mirror::Change) that states the result, not a step
//! (`commit.rs`): it is applied to a copy of the snapshot (`mirror.rs`, patched in place by
//! `patch.rs` where it can be) and published, so the caller's next read shows it
//! (read-your-writes). It also goes into the write log, which a refresh that began before the
//! write re-applies to what it read; applying a result twice is harmless. Removed users and
//! groups are remembered as not found, so reading one costs no upstream call.
//!
//! # Unknown outcomes
//!
//! When the upstream gives no answer (a timeout, a lost connection), the write is never sent
//! again blindly: `settle.rs` reads the object back, in the same lane, and decides whether it
//! was applied. If the read-back fails too, the caller gets [`WriteError::Unknown`].

mod commit;
mod groups;
mod members;
mod mirror;
mod patch;
mod settle;
mod users;

pub(in crate::directory) use commit::WriteLog;
pub(in crate::directory) use mirror::{Change, apply};
pub use users::Invite;
pub(crate) use users::NameChange;

#[cfg(doc)]
use super::{Directory, WriteError};
use crate::budget::Lane;

/// How urgent a write is: which of the organization's budget lanes it takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum WriteLane {
    /// Revocations (deactivate, delete, remove from a group, an expired grant): never waits
    /// behind another lane.
    Critical,
    /// Every other write; shares what is left with interactive reads.
    Write,
}

impl WriteLane {
    pub(super) fn budget(self) -> Lane {
        match self {
            WriteLane::Critical => Lane::Critical,
            WriteLane::Write => Lane::Write,
        }
    }
}
