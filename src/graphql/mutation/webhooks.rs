//! `redeliverWebhook`: a webhook delivery sent again from its first try (and its endpoint
//! enabled again if a 410 had disabled it). Admin keys; audited like every mutation.

use async_graphql::{Context, ID, InputObject, Object, Result};
use serde::Serialize;

use super::{Call, UserError, UserErrorCode, WriteOptions, journal, payload};
use crate::auth::Role;
use crate::directory::Directories;
use crate::graphql::guard::RoleGuard;
use crate::graphql::types::WebhookDelivery;
use crate::graphql::types::store_of;
use crate::store::now_ms;

#[derive(Default)]
pub struct WebhookMutation;

/// Input of `redeliverWebhook`.
#[derive(InputObject, Serialize)]
pub struct RedeliverWebhookInput {
    /// The delivery (`WebhookDelivery.id`).
    pub id: ID,
    #[graphql(flatten)]
    #[serde(skip)]
    pub options: WriteOptions,
}

payload!(
    /// The result of `redeliverWebhook`.
    RedeliverWebhookPayload {
        /// The delivery, `PENDING` again with no tries, sent within a second.
        delivery: Option<WebhookDelivery>,
    }
);

#[Object]
impl WebhookMutation {
    /// Sends a delivery again from its first try, whatever its state (a parked one, or one
    /// whose endpoint a 410 disabled: the endpoint is enabled again). Nothing goes upstream.
    #[graphql(guard = "RoleGuard(Role::Admin)")]
    async fn redeliver_webhook(
        &self,
        ctx: &Context<'_>,
        input: RedeliverWebhookInput,
    ) -> Result<RedeliverWebhookPayload> {
        let dirs = ctx.data::<Directories>()?;
        let orgs: Vec<String> = dirs.all().iter().map(|d| d.org_id().to_string()).collect();
        let orgs = orgs.join(",");
        Call::new("redeliverWebhook", &input, &input.options, orgs)
            .run(ctx, async move {
                let store = store_of(ctx, "webhook deliveries")
                    .map_err(|_| journal::store_unavailable())?;
                let not_found = || {
                    UserError::new(
                        UserErrorCode::NotFound,
                        &["input", "id"],
                        "no such delivery",
                    )
                };
                let id = input.id.as_str();
                let found = store
                    .delivery(id)
                    .await
                    .map_err(|_| journal::store_unavailable())?
                    .filter(|d| dirs.get(d.org.as_str()).is_some())
                    .ok_or_else(not_found)?;
                store
                    .redeliver(&found.id, now_ms())
                    .await
                    .map_err(|_| journal::store_unavailable())?;
                let row = store
                    .delivery(&found.id)
                    .await
                    .map_err(|_| journal::store_unavailable())?
                    .ok_or_else(not_found)?;
                Ok(RedeliverWebhookPayload::success(Some(WebhookDelivery {
                    row: Box::new(row),
                })))
            })
            .await
    }
}
