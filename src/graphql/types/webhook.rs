//! Webhook deliveries as GraphQL: `Org.webhookDeliveries` pages an organization's deliveries
//! newest first (admin keys), each a `WebhookDelivery` with its tries; `redeliverWebhook` (in
//! the mutations) sends one again.

use std::time::{Duration, UNIX_EPOCH};

use async_graphql::{Context, Enum, InputObject, Json, Object, Result, SimpleObject};

use super::{DateTime, store_failed, store_of};
use crate::directory::SortKey;
use crate::graphql::connection::{DELIVERY_ORDER, PageInfo, delivery_cursor, page_args};
use crate::graphql::errors::bad_input;
use crate::store::{self, DeliveryFilter};

/// Where a delivery is.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum WebhookDeliveryState {
    /// Waiting for its first try or its next retry (`nextTryAt`).
    Pending,
    /// The receiver answered 2xx.
    Delivered,
    /// Parked: every retry failed (about three days), or the receiver answered 410 Gone (the
    /// endpoint is disabled until a delivery is redelivered).
    Failed,
}

impl From<store::DeliveryState> for WebhookDeliveryState {
    fn from(s: store::DeliveryState) -> Self {
        match s {
            store::DeliveryState::Pending => WebhookDeliveryState::Pending,
            store::DeliveryState::Delivered => WebhookDeliveryState::Delivered,
            store::DeliveryState::Failed => WebhookDeliveryState::Failed,
        }
    }
}

impl From<WebhookDeliveryState> for store::DeliveryState {
    fn from(s: WebhookDeliveryState) -> Self {
        match s {
            WebhookDeliveryState::Pending => store::DeliveryState::Pending,
            WebhookDeliveryState::Delivered => store::DeliveryState::Delivered,
            WebhookDeliveryState::Failed => store::DeliveryState::Failed,
        }
    }
}

/// Which deliveries to list.
#[derive(InputObject, Default)]
pub struct WebhookDeliveryFilter {
    pub state: Option<WebhookDeliveryState>,
    /// The endpoint's name as configured (`[[webhooks]] name`).
    pub endpoint: Option<String>,
}

/// One event sent (or to be sent) to one webhook endpoint, signed the Standard Webhooks way.
#[derive(Clone)]
pub struct WebhookDelivery {
    pub(crate) row: Box<store::Delivery>,
}

fn time(ms: i64) -> DateTime {
    DateTime(UNIX_EPOCH + Duration::from_millis(u64::try_from(ms).unwrap_or(0)))
}

#[Object]
impl WebhookDelivery {
    /// The delivery's id (for `redeliverWebhook`).
    async fn id(&self) -> &str {
        &self.row.id
    }

    /// The endpoint's name as configured.
    async fn endpoint(&self) -> &str {
        &self.row.endpoint
    }

    /// The event's `seq` in the organization's log.
    async fn seq(&self) -> i64 {
        self.row.seq
    }

    /// The event's kind: `grant.expiring`.
    async fn event_kind(&self) -> &str {
        &self.row.kind
    }

    /// The `webhook-id` header every try sends (the receiver's deduplication key).
    async fn message_id(&self) -> String {
        self.row.message_id()
    }

    async fn state(&self) -> WebhookDeliveryState {
        self.row.state.into()
    }

    /// Tries so far.
    async fn attempts(&self) -> i64 {
        self.row.attempts
    }

    /// When the next try goes, while pending.
    async fn next_try_at(&self) -> Option<DateTime> {
        (self.row.state == store::DeliveryState::Pending).then(|| time(self.row.next_try_ms))
    }

    /// The receiver's last HTTP status; null when no answer came.
    async fn last_status(&self) -> Option<i32> {
        self.row.last_status.and_then(|s| i32::try_from(s).ok())
    }

    /// Why the last try failed; null after a success.
    async fn last_error(&self) -> Option<&str> {
        Some(self.row.last_error.as_str()).filter(|e| !e.is_empty())
    }

    async fn created_at(&self) -> DateTime {
        time(self.row.created_ms)
    }

    async fn delivered_at(&self) -> Option<DateTime> {
        self.row.delivered_ms.map(time)
    }

    /// The body as sent: `{ type, timestamp, data: { org, seq, subjectKind, subjectId, actor,
    /// details } }`.
    async fn body(&self) -> Json<serde_json::Value> {
        Json(serde_json::from_str(&self.row.body).unwrap_or_default())
    }
}

/// An edge to a delivery.
#[derive(SimpleObject)]
pub struct WebhookDeliveryEdge {
    pub cursor: String,
    pub node: WebhookDelivery,
}

/// One page of deliveries, newest first.
#[derive(SimpleObject)]
pub struct WebhookDeliveryConnection {
    pub edges: Vec<WebhookDeliveryEdge>,
    pub page_info: Box<PageInfo>,
}

/// `Org.webhookDeliveries`: a forward page of `org`'s deliveries, newest first.
pub async fn list(
    ctx: &Context<'_>,
    org: &str,
    first: Option<i32>,
    after: Option<String>,
    filter: Option<WebhookDeliveryFilter>,
) -> Result<WebhookDeliveryConnection> {
    let args = page_args(DELIVERY_ORDER, first, after, None, None)?;
    let after = match args.after {
        None => None,
        Some(SortKey::Text(mut k)) if k.len() == 1 => k.pop(),
        Some(_) => return Err(bad_input("`after` is not a cursor this gateway issued")),
    };
    let f = filter.unwrap_or_default();
    let filter = DeliveryFilter {
        org: org.to_owned(),
        state: f.state.map(Into::into),
        endpoint: f.endpoint,
    };
    let size = args.first.unwrap_or(50);
    let limit = i64::try_from(size).unwrap_or(100).saturating_add(1);
    let mut rows = store_of(ctx, "webhook deliveries")?
        .list_deliveries(&filter, after.as_deref(), limit)
        .await
        .map_err(store_failed("webhook deliveries"))?;
    let more = rows.len() > size;
    rows.truncate(size);
    let page_info = PageInfo::of_ids(
        DELIVERY_ORDER,
        more,
        after.is_some(),
        rows.first().map(|d| d.id.clone()),
        rows.last().map(|d| d.id.clone()),
    );
    Ok(WebhookDeliveryConnection {
        page_info: Box::new(page_info),
        edges: rows
            .into_iter()
            .map(|d| WebhookDeliveryEdge {
                cursor: delivery_cursor(&d.id),
                node: WebhookDelivery { row: Box::new(d) },
            })
            .collect(),
    })
}
