//! Role checks on fields: a key of too low a role gets `FORBIDDEN`; the organizations a key
//! may not reach are simply absent from its requests' data (as if they did not exist).

use async_graphql::{Context, Guard, Result};

use super::errors::Code;
use crate::auth::{Principal, Role};

/// Requires the request's key to have at least `role`. `RoleGuard(Role::Auditor)` admits
/// every key (the auditor's role is the lowest); the fields under it check further.
pub struct RoleGuard(pub Role);

impl Guard for RoleGuard {
    async fn check(&self, ctx: &Context<'_>) -> Result<()> {
        require(ctx, self.0)
    }
}

/// Requires a key that may read the audit log and access snapshots: an auditor's or an admin's.
pub struct AuditGuard;

impl Guard for AuditGuard {
    async fn check(&self, ctx: &Context<'_>) -> Result<()> {
        require_audit(ctx)
    }
}

/// `RoleGuard`'s check, for resolvers whose need depends on what they are asked for.
pub fn require(ctx: &Context<'_>, role: Role) -> Result<()> {
    match ctx.data_opt::<Principal>() {
        Some(p) if p.role >= role => Ok(()),
        Some(p) => Err(Code::Forbidden.error(format!(
            "this API key ({}) has the {} role; this needs {role}",
            p.name, p.role
        ))),
        None => Err(Code::Forbidden.error("no API key")),
    }
}

/// `AuditGuard`'s check.
pub fn require_audit(ctx: &Context<'_>) -> Result<()> {
    match ctx.data_opt::<Principal>() {
        Some(p) if p.role.reads_audit() => Ok(()),
        Some(p) => Err(Code::Forbidden.error(format!(
            "this API key ({}) has the {} role; the audit log and access snapshots need the auditor or admin role",
            p.name, p.role
        ))),
        None => Err(Code::Forbidden.error("no API key")),
    }
}
