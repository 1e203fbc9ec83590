//! Webhooks: each configured endpoint receives its organization's events (those it asked for)
//! as signed POSTs from a durable outbox. A step fills the outbox from the event log up to the
//! endpoint's cursor (a new endpoint starts at the log's head: events from then on), then sends
//! what is due. A try that fails is retried on a schedule of about three days (5 s, 5 min,
//! 30 min, 2 h, 5 h, 10 h, 10 h, 14 h, 24 h, each plus up to a tenth of jitter; a later
//! `Retry-After` wins), then parked as failed; `410 Gone` disables the endpoint until a
//! delivery is redelivered. Deliveries never touch the SCIM budget.

pub mod sign;

use std::sync::Arc;
use std::time::Duration;

use futures_util::future::join_all;
use secrecy::ExposeSecret;

use crate::config::WebhookConfig;
use crate::store::{
    Delivery, DeliveryState, Event, NewDelivery, Resume, Store, StoreError, now_ms,
};

/// The pause after failed try `n` (1-based), before jitter; past the last, the delivery is
/// parked as failed.
const SCHEDULE_S: [u64; 9] = [5, 300, 1_800, 7_200, 18_000, 36_000, 36_000, 50_400, 86_400];
/// Events taken into an outbox per read, deliveries sent per step.
const PAGE: i64 = 200;
const SENDS: i64 = 50;
/// How long a replica holds a delivery it is sending: longer than a try can take.
const LEASE_MS: i64 = 60_000;
const TIMEOUT: Duration = Duration::from_secs(10);

/// One endpoint as the service uses it.
struct Endpoint {
    name: String,
    org: String,
    url: String,
    kinds: Vec<String>,
    key: ring::hmac::Key,
}

impl Endpoint {
    /// Whether `kind` is one this endpoint asked for (`grant.*` takes a family).
    fn wants(&self, kind: &str) -> bool {
        self.kinds.is_empty()
            || self.kinds.iter().any(|k| match k.strip_suffix('*') {
                Some(prefix) => kind.starts_with(prefix),
                None => k == kind,
            })
    }
}

/// What one step did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WebhookReport {
    pub enqueued: u32,
    pub delivered: u32,
    pub retrying: u32,
    pub failed: u32,
}

/// The webhooks service: the endpoints, the store that holds the outbox, one HTTP client.
#[derive(Clone)]
pub struct Webhooks {
    store: Store,
    endpoints: Arc<Vec<Endpoint>>,
    http: reqwest::Client,
}

/// A try's outcome.
enum Try {
    Delivered(u16),
    Failed {
        status: Option<u16>,
        error: String,
        retry_after: Option<Duration>,
    },
    Gone,
}

impl Webhooks {
    pub fn new(store: Store, config: &[WebhookConfig]) -> Webhooks {
        crate::scim::install_crypto_provider();
        let endpoints = config
            .iter()
            .map(|c| Endpoint {
                name: c.name.clone(),
                org: c.org.clone(),
                url: c.url.clone(),
                kinds: c.events.clone(),
                key: sign::key_of(c.secret.as_ref().map_or("", |s| s.expose_secret())),
            })
            .collect();
        let http = reqwest::Client::builder()
            .timeout(TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("scimgate/", env!("CARGO_PKG_VERSION")))
            .build()
            .unwrap_or_default();
        Webhooks {
            store,
            endpoints: Arc::new(endpoints),
            http,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.endpoints.is_empty()
    }

    /// One step at `now_ms`: the outboxes filled from the event log, then what is due sent.
    pub async fn run_once(&self, now_ms: i64) -> Result<WebhookReport, StoreError> {
        let mut report = WebhookReport::default();
        for endpoint in self.endpoints.iter() {
            report.enqueued += self.enqueue(endpoint, now_ms).await?;
        }
        let due = self
            .store
            .claim_deliveries(now_ms, now_ms.saturating_add(LEASE_MS), SENDS)
            .await?;
        let tries = join_all(due.iter().map(|d| self.send(d))).await;
        for (delivery, outcome) in due.iter().zip(tries) {
            self.record(delivery, outcome, now_ms, &mut report).await?;
        }
        Ok(report)
    }

    /// Runs steps every second until the task is dropped.
    pub async fn run_loop(self) {
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            match self.run_once(now_ms()).await {
                Ok(r) if r != WebhookReport::default() => tracing::info!(report = ?r, "webhooks"),
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "webhook step failed; trying again in a second");
                }
            }
        }
    }

    /// Takes `endpoint`'s new events into its outbox; how many it added.
    async fn enqueue(&self, endpoint: &Endpoint, now_ms: i64) -> Result<u32, StoreError> {
        let Some(mut cursor) = self.store.webhook_cursor(&endpoint.name).await? else {
            // A new endpoint: events from now on.
            let head = self
                .store
                .events_page(&endpoint.org, &[], Resume::Before(i64::MAX), 1)
                .await?;
            let start = head.events.first().map_or(0, |e| e.seq);
            self.store
                .enqueue_deliveries(&endpoint.name, &[], start)
                .await?;
            return Ok(0);
        };
        let mut added = 0;
        loop {
            let page = self
                .store
                .events_page(&endpoint.org, &[], Resume::After(cursor), PAGE)
                .await?;
            let Some(last) = page.events.last().map(|e| e.seq) else {
                return Ok(added);
            };
            let deliveries: Vec<NewDelivery> = page
                .events
                .iter()
                .filter(|e| endpoint.wants(&e.kind))
                .map(|e| NewDelivery {
                    endpoint: endpoint.name.clone(),
                    org: e.org.clone(),
                    seq: e.seq,
                    kind: e.kind.clone(),
                    body: body_of(e),
                    created_ms: now_ms,
                })
                .collect();
            added += deliveries.len() as u32;
            self.store
                .enqueue_deliveries(&endpoint.name, &deliveries, last)
                .await?;
            cursor = last;
            if (page.events.len() as i64) < PAGE {
                return Ok(added);
            }
        }
    }

    /// One try of `delivery`, signed now.
    async fn send(&self, delivery: &Delivery) -> Try {
        let Some(endpoint) = self.endpoints.iter().find(|e| e.name == delivery.endpoint) else {
            return Try::Failed {
                status: None,
                error: "the endpoint is no longer configured".into(),
                retry_after: None,
            };
        };
        let id = delivery.message_id();
        let timestamp = now_ms() / 1_000;
        let signature = sign::sign(&endpoint.key, &id, timestamp, delivery.body.as_bytes());
        let answer = self
            .http
            .post(&endpoint.url)
            .header("content-type", "application/json")
            .header("webhook-id", &id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signature)
            .body(delivery.body.clone())
            .send()
            .await;
        match answer {
            Ok(r) if r.status().is_success() => Try::Delivered(r.status().as_u16()),
            Ok(r) if r.status().as_u16() == 410 => Try::Gone,
            Ok(r) => Try::Failed {
                status: Some(r.status().as_u16()),
                error: format!("the receiver answered {}", r.status()),
                retry_after: r
                    .headers()
                    .get("retry-after")
                    .and_then(|v| v.to_str().ok())
                    .and_then(retry_after),
            },
            Err(e) => Try::Failed {
                status: None,
                error: if e.is_timeout() {
                    format!("no answer within {} s", TIMEOUT.as_secs())
                } else {
                    "the receiver could not be reached".into()
                },
                retry_after: None,
            },
        }
    }

    async fn record(
        &self,
        d: &Delivery,
        outcome: Try,
        now_ms: i64,
        report: &mut WebhookReport,
    ) -> Result<(), StoreError> {
        let attempts = d.attempts + 1;
        match outcome {
            Try::Delivered(status) => {
                report.delivered += 1;
                crate::metrics::webhook_try(&d.endpoint, "delivered");
                let at = crate::store::now_ms().max(now_ms);
                self.store
                    .record_delivery(
                        &d.id,
                        DeliveryState::Delivered,
                        attempts,
                        now_ms,
                        at,
                        Some(status),
                        "",
                    )
                    .await
            }
            Try::Gone => {
                report.failed += 1;
                crate::metrics::webhook_try(&d.endpoint, "gone");
                let why = "the receiver answered 410 Gone: the endpoint is disabled until a delivery is redelivered";
                self.store
                    .disable_endpoint(&d.endpoint, now_ms, why)
                    .await?;
                self.store
                    .record_delivery(
                        &d.id,
                        DeliveryState::Failed,
                        attempts,
                        now_ms,
                        now_ms,
                        Some(410),
                        why,
                    )
                    .await
            }
            Try::Failed {
                status,
                error,
                retry_after,
            } => match next_try(attempts, now_ms, retry_after) {
                Some(next) => {
                    report.retrying += 1;
                    crate::metrics::webhook_try(&d.endpoint, "retrying");
                    self.store
                        .record_delivery(
                            &d.id,
                            DeliveryState::Pending,
                            attempts,
                            next,
                            now_ms,
                            status,
                            &error,
                        )
                        .await
                }
                None => {
                    report.failed += 1;
                    crate::metrics::webhook_try(&d.endpoint, "failed");
                    let error = format!("{error}; gave up after {attempts} tries");
                    self.store
                        .record_delivery(
                            &d.id,
                            DeliveryState::Failed,
                            attempts,
                            now_ms,
                            now_ms,
                            status,
                            &error,
                        )
                        .await
                }
            },
        }
    }
}

/// The body: the Standard Webhooks envelope (`type`, `timestamp`, `data`) around the event.
fn body_of(e: &Event) -> String {
    let at = std::time::UNIX_EPOCH + Duration::from_millis(u64::try_from(e.at_ms).unwrap_or(0));
    let details: serde_json::Value = serde_json::from_str(&e.data).unwrap_or_default();
    serde_json::json!({
        "type": e.kind,
        "timestamp": humantime::format_rfc3339_millis(at).to_string(),
        "data": {
            "org": e.org,
            "seq": e.seq,
            "subjectKind": e.object_kind,
            "subjectId": e.object_id,
            "actor": e.actor,
            "details": details,
        },
    })
    .to_string()
}

/// When try `attempts + 1` goes, after `attempts` failed ones: the schedule plus up to a tenth
/// of jitter, or a longer `Retry-After`; `None` past the last.
pub fn next_try(attempts: i64, now_ms: i64, retry_after: Option<Duration>) -> Option<i64> {
    let i = usize::try_from(attempts.max(1) - 1).ok()?;
    let base = SCHEDULE_S.get(i)? * 1_000;
    let jitter = rand::random::<u64>() % (base / 10 + 1);
    let wait = (base + jitter).max(retry_after.map_or(0, |d| d.as_millis() as u64));
    Some(now_ms.saturating_add(i64::try_from(wait).unwrap_or(i64::MAX)))
}

/// A `Retry-After` value: seconds, or an HTTP date.
fn retry_after(value: &str) -> Option<Duration> {
    if let Ok(secs) = value.trim().parse::<u64>() {
        return Some(Duration::from_secs(secs.min(86_400)));
    }
    let at = httpdate::parse_http_date(value.trim()).ok()?;
    at.duration_since(std::time::SystemTime::now()).ok()
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::{SCHEDULE_S, next_try, retry_after};

    #[test]
    fn retries_follow_the_schedule_with_a_tenth_of_jitter_for_about_three_days() {
        let mut total = 0;
        for (n, base) in SCHEDULE_S.iter().enumerate() {
            let next = next_try(n as i64 + 1, 0, None).unwrap();
            assert!(
                (*base as i64 * 1_000..=*base as i64 * 1_100).contains(&next),
                "try {n}: {next}"
            );
            total += base;
        }
        assert!(
            (2.5 * 86_400.0..=3.2 * 86_400.0).contains(&(total as f64)),
            "{total} s"
        );
        assert_eq!(
            next_try(SCHEDULE_S.len() as i64 + 1, 0, None),
            None,
            "then parked"
        );
        // A longer Retry-After wins; a shorter one does not shorten the schedule.
        assert_eq!(next_try(1, 0, Some(Duration::from_secs(60))), Some(60_000));
        assert!(next_try(3, 0, Some(Duration::from_secs(1))).unwrap() >= 1_800_000);
        assert_eq!(retry_after("120"), Some(Duration::from_secs(120)));
        assert_eq!(retry_after("soon"), None);
    }
}
