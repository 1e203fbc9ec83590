//! Every change the gateway makes to a directory, and the code that applies a confirmed change
//! to the mirror (read-your-writes, and the write log a running refresh re-applies).

mod groups;
mod mirror;
mod patch;
mod users;

pub(in crate::directory) use mirror::apply;
pub(in crate::directory) use users::WriteLog;
