//! Role checks on fields: a key of too low a role gets `FORBIDDEN`; the organizations a key
//! may not reach are simply absent from its requests' data (as if they did not exist).

use async_graphql::{Context, Guard, Result};

use super::errors::Code;
use crate::auth::{Principal, Role};

/// Requires the request's key to have at least `role`.
pub struct RoleGuard(pub Role);

impl Guard for RoleGuard {
    async fn check(&self, ctx: &Context<'_>) -> Result<()> {
        match ctx.data_opt::<Principal>() {
            Some(p) if p.role >= self.0 => Ok(()),
            Some(p) => Err(Code::Forbidden.error(format!(
                "this API key ({}) has the {} role; this needs {}",
                p.name, p.role, self.0
            ))),
            None => Err(Code::Forbidden.error("no API key")),
        }
    }
}
