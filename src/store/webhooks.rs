//! The webhook outbox: deliveries filled from the event log up to each endpoint's cursor (one
//! per endpoint and event, whoever fills it), taken with a lease so one replica sends each try,
//! and endpoints a receiver disabled with `410 Gone`.

use serde::{Deserialize, Serialize};
use sqlx::Row;
use sqlx::any::AnyRow;

use super::{Arg, Store, StoreError};

/// Where a delivery is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum DeliveryState {
    /// Waiting for its first try or its next retry.
    Pending,
    /// The receiver answered 2xx.
    Delivered,
    /// Parked: every retry failed, or the receiver answered 410 Gone.
    Failed,
}

impl DeliveryState {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryState::Pending => "pending",
            DeliveryState::Delivered => "delivered",
            DeliveryState::Failed => "failed",
        }
    }

    fn parse(s: &str) -> Option<DeliveryState> {
        Some(match s {
            "pending" => DeliveryState::Pending,
            "delivered" => DeliveryState::Delivered,
            "failed" => DeliveryState::Failed,
            _ => return None,
        })
    }
}

/// A delivery to add to the outbox.
#[derive(Clone, Debug)]
pub struct NewDelivery {
    pub endpoint: String,
    pub org: String,
    pub seq: i64,
    pub kind: String,
    /// The JSON body, signed as it is.
    pub body: String,
    pub created_ms: i64,
}

/// A delivery as stored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delivery {
    pub id: String,
    pub endpoint: String,
    pub org: String,
    pub seq: i64,
    pub kind: String,
    pub body: String,
    pub state: DeliveryState,
    pub attempts: i64,
    pub next_try_ms: i64,
    pub created_ms: i64,
    pub delivered_ms: Option<i64>,
    pub last_status: Option<i64>,
    pub last_error: String,
}

impl Delivery {
    /// The `webhook-id` every try sends: the same on every try, distinct per event.
    pub fn message_id(&self) -> String {
        format!("evt_{}_{}", self.org, self.seq)
    }
}

/// Which deliveries to list.
#[derive(Clone, Debug, Default)]
pub struct DeliveryFilter {
    pub org: String,
    pub state: Option<DeliveryState>,
    pub endpoint: Option<String>,
}

const COLUMNS: &str = "id, endpoint, org, seq, kind, body, state, attempts, next_try_ms, created_ms, delivered_ms, last_status, last_error";

fn delivery_of(row: &AnyRow) -> Result<Delivery, StoreError> {
    let state: String = row.try_get("state")?;
    Ok(Delivery {
        id: row.try_get("id")?,
        endpoint: row.try_get("endpoint")?,
        org: row.try_get("org")?,
        seq: row.try_get("seq")?,
        kind: row.try_get("kind")?,
        body: row.try_get("body")?,
        state: DeliveryState::parse(&state)
            .ok_or_else(|| StoreError::Corrupt(format!("delivery state {state:?}")))?,
        attempts: row.try_get("attempts")?,
        next_try_ms: row.try_get("next_try_ms")?,
        created_ms: row.try_get("created_ms")?,
        delivered_ms: row.try_get("delivered_ms")?,
        last_status: row.try_get("last_status")?,
        last_error: row.try_get("last_error")?,
    })
}

impl Store {
    /// How far `endpoint` has taken events into its outbox (`None`: never).
    pub async fn webhook_cursor(&self, endpoint: &str) -> Result<Option<i64>, StoreError> {
        let row = sqlx::query("SELECT seq FROM webhook_cursors WHERE endpoint = $1")
            .bind(endpoint)
            .fetch_optional(self.pool())
            .await?;
        Ok(row.map(|r| r.try_get("seq")).transpose()?)
    }

    /// Adds `deliveries` (each once: one already there is skipped) and moves `endpoint`'s
    /// cursor to `through`, in one transaction; the cursor never moves back.
    pub async fn enqueue_deliveries(
        &self,
        endpoint: &str,
        deliveries: &[NewDelivery],
        through: i64,
    ) -> Result<(), StoreError> {
        let result = async {
            let mut tx = self.pool().begin().await?;
            for d in deliveries {
                let id = format!("{:012x}{:016x}", d.created_ms.max(0), rand::random::<u64>());
                sqlx::query(
                    "INSERT INTO webhook_deliveries (id, endpoint, org, seq, kind, body, state, attempts, next_try_ms, created_ms, delivered_ms, last_status, last_error, lease_owner, lease_until_ms) \
                     VALUES ($1, $2, $3, $4, $5, $6, 'pending', 0, $7, $7, NULL, NULL, '', '', 0) ON CONFLICT (endpoint, org, seq) DO NOTHING",
                )
                .bind(&id)
                .bind(&d.endpoint)
                .bind(&d.org)
                .bind(d.seq)
                .bind(&d.kind)
                .bind(&d.body)
                .bind(d.created_ms)
                .execute(&mut *tx)
                .await?;
            }
            sqlx::query(
                "INSERT INTO webhook_cursors (endpoint, seq) VALUES ($1, $2) \
                 ON CONFLICT (endpoint) DO UPDATE SET seq = excluded.seq WHERE webhook_cursors.seq < excluded.seq",
            )
            .bind(endpoint)
            .bind(through)
            .execute(&mut *tx)
            .await?;
            tx.commit().await
        }
        .await;
        self.noted(result)
    }

    /// Takes up to `limit` pending deliveries due at `now_ms` of endpoints not disabled, whose
    /// lease is free, leasing each until `lease_until_ms`.
    pub async fn claim_deliveries(
        &self,
        now_ms: i64,
        lease_until_ms: i64,
        limit: i64,
    ) -> Result<Vec<Delivery>, StoreError> {
        let sql = format!(
            "SELECT id FROM webhook_deliveries WHERE state = 'pending' AND next_try_ms <= $1 AND lease_until_ms <= $1 \
             AND endpoint NOT IN (SELECT endpoint FROM webhook_endpoints) ORDER BY next_try_ms, id LIMIT {limit}"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(now_ms)
            .fetch_all(self.pool())
            .await?;
        let taken = self
            .lease_rows(
                "webhook_deliveries",
                "state = 'pending'",
                Store::ids_of(&rows)?,
                now_ms,
                lease_until_ms,
            )
            .await?;
        let mut claimed = Vec::with_capacity(taken.len());
        for id in taken {
            if let Some(d) = self.delivery(&id).await? {
                claimed.push(d);
            }
        }
        Ok(claimed)
    }

    pub async fn delivery(&self, id: &str) -> Result<Option<Delivery>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM webhook_deliveries WHERE id = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id)
            .fetch_optional(self.pool())
            .await?;
        row.as_ref().map(delivery_of).transpose()
    }

    /// Records a try: `state` after it, the attempts so far, the next try, the receiver's
    /// status (none when no answer came) and the error; the lease is freed.
    #[allow(clippy::too_many_arguments)]
    pub async fn record_delivery(
        &self,
        id: &str,
        state: DeliveryState,
        attempts: i64,
        next_try_ms: i64,
        at_ms: i64,
        status: Option<u16>,
        error: &str,
    ) -> Result<(), StoreError> {
        let result = sqlx::query(
            "UPDATE webhook_deliveries SET state = $1, attempts = $2, next_try_ms = $3, delivered_ms = $4, last_status = $5, last_error = $6, lease_owner = '', lease_until_ms = 0 WHERE id = $7",
        )
        .bind(state.as_str())
        .bind(attempts)
        .bind(next_try_ms)
        .bind((state == DeliveryState::Delivered).then_some(at_ms))
        .bind(status.map(i64::from))
        .bind(error)
        .bind(id)
        .execute(self.pool())
        .await;
        self.noted(result).map(|_| ())
    }

    /// Stops deliveries to `endpoint` (its receiver answered 410 Gone) until one is redelivered.
    pub async fn disable_endpoint(
        &self,
        endpoint: &str,
        at_ms: i64,
        reason: &str,
    ) -> Result<(), StoreError> {
        let result = sqlx::query(
            "INSERT INTO webhook_endpoints (endpoint, disabled_ms, reason) VALUES ($1, $2, $3) ON CONFLICT (endpoint) DO NOTHING",
        )
        .bind(endpoint)
        .bind(at_ms)
        .bind(reason)
        .execute(self.pool())
        .await;
        self.noted(result).map(|_| ())
    }

    /// When and why `endpoint` was disabled, if it is.
    pub async fn endpoint_disabled(
        &self,
        endpoint: &str,
    ) -> Result<Option<(i64, String)>, StoreError> {
        let row =
            sqlx::query("SELECT disabled_ms, reason FROM webhook_endpoints WHERE endpoint = $1")
                .bind(endpoint)
                .fetch_optional(self.pool())
                .await?;
        Ok(row
            .map(|r| Ok::<_, sqlx::Error>((r.try_get("disabled_ms")?, r.try_get("reason")?)))
            .transpose()?)
    }

    /// Sends a delivery again from its first try, at `now_ms`, and enables its endpoint
    /// again. False when there is no such delivery.
    pub async fn redeliver(&self, id: &str, now_ms: i64) -> Result<bool, StoreError> {
        let result = async {
            let mut tx = self.pool().begin().await?;
            let endpoint = sqlx::query("SELECT endpoint FROM webhook_deliveries WHERE id = $1")
                .bind(id)
                .fetch_optional(&mut *tx)
                .await?;
            let Some(endpoint) = endpoint else {
                return Ok(false);
            };
            let endpoint: String = endpoint.try_get("endpoint")?;
            sqlx::query(
                "UPDATE webhook_deliveries SET state = 'pending', attempts = 0, next_try_ms = $1, lease_owner = '', lease_until_ms = 0 WHERE id = $2",
            )
            .bind(now_ms)
            .bind(id)
            .execute(&mut *tx)
            .await?;
            sqlx::query("DELETE FROM webhook_endpoints WHERE endpoint = $1")
                .bind(&endpoint)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok(true)
        }
        .await;
        self.noted(result)
    }

    /// Up to `limit` deliveries matching `filter`, newest first, after the delivery `after`.
    pub async fn list_deliveries(
        &self,
        filter: &DeliveryFilter,
        after: Option<&str>,
        limit: i64,
    ) -> Result<Vec<Delivery>, StoreError> {
        let mut clauses = vec!["org = $1".to_owned()];
        let mut binds = vec![Arg::Text(filter.org.clone())];
        let mut push = |clause: &str, bind: Arg| {
            binds.push(bind);
            clauses.push(format!("{clause} ${}", binds.len()));
        };
        if let Some(state) = filter.state {
            push("state =", Arg::Text(state.as_str().to_owned()));
        }
        if let Some(endpoint) = &filter.endpoint {
            push("endpoint =", Arg::Text(endpoint.clone()));
        }
        if let Some(after) = after {
            push("id <", Arg::Text(after.to_owned()));
        }
        let sql = format!(
            "SELECT {COLUMNS} FROM webhook_deliveries WHERE {} ORDER BY id DESC LIMIT {}",
            clauses.join(" AND "),
            limit.max(0)
        );
        let rows = super::bound(sql, binds).fetch_all(self.pool()).await?;
        rows.iter().map(delivery_of).collect()
    }

    /// Pending deliveries per endpoint that has had any (the backlog; 0 once drained).
    pub async fn delivery_backlog(&self) -> Result<Vec<(String, i64)>, StoreError> {
        let rows = sqlx::query(
            "SELECT endpoint, SUM(CASE WHEN state = 'pending' THEN 1 ELSE 0 END) AS n FROM webhook_deliveries GROUP BY endpoint ORDER BY endpoint",
        )
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("endpoint")?, r.try_get("n")?)))
            .collect()
    }
}
