//! The load generator: a fixed number of in-process clients, each sending the same request back
//! to back for a fixed time; every answer is checked and every latency kept.

use std::time::{Duration, Instant};

use crate::client::Gql;

/// What one run measured (after its warm-up).
pub struct LoadResult {
    /// Answers that were 200 with the expected body length.
    pub ok: u64,
    /// Anything else (another status, another length, a transport error).
    pub bad: u64,
    pub elapsed: Duration,
    /// Latencies of the good answers, sorted, in microseconds.
    lat_us: Vec<u32>,
}

impl LoadResult {
    pub fn rps(&self) -> f64 {
        self.ok as f64 / self.elapsed.as_secs_f64()
    }

    /// The `q`-quantile latency (nearest rank).
    pub fn quantile(&self, q: f64) -> Duration {
        if self.lat_us.is_empty() {
            return Duration::ZERO;
        }
        let rank = ((q * self.lat_us.len() as f64).ceil() as usize).clamp(1, self.lat_us.len());
        Duration::from_micros(u64::from(self.lat_us[rank - 1]))
    }

    pub fn p50(&self) -> Duration {
        self.quantile(0.50)
    }

    pub fn p99(&self) -> Duration {
        self.quantile(0.99)
    }
}

/// Runs `concurrency` clients for `warmup + duration`, each POSTing `body` to `gql` as fast as
/// answers come; only requests started after the warm-up count. An answer is good when it is
/// a 200 of `expect_len` bytes (the length of an answer checked beforehand).
pub async fn run(
    gql: &Gql,
    body: &str,
    expect_len: usize,
    concurrency: usize,
    warmup: Duration,
    duration: Duration,
) -> LoadResult {
    run_varied(gql, body, None, expect_len, concurrency, warmup, duration).await
}

/// [`run`], with every request's `variables` a new `{"n": i}` when `varied` is `Some(query)`
/// (the body is then built per request from `query`): the same operation, never the same
/// request twice (a response cache's misses). The operation must ignore `n`.
pub async fn run_varied(
    gql: &Gql,
    body: &str,
    varied: Option<&str>,
    expect_len: usize,
    concurrency: usize,
    warmup: Duration,
    duration: Duration,
) -> LoadResult {
    let varied = varied.map(str::to_owned);
    let counter = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    // Fresh connections per run, one per client, so no run inherits another's pool.
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(concurrency)
        .build()
        .expect("HTTP client");
    let started = Instant::now();
    let measure_from = started + warmup;
    let end = measure_from + duration;
    let body = axum::body::Bytes::copy_from_slice(body.as_bytes());
    let tasks: Vec<_> = (0..concurrency)
        .map(|_| {
            let (gql, http, body) = (gql.clone(), http.clone(), body.clone());
            let (varied, counter) = (varied.clone(), counter.clone());
            tokio::spawn(async move {
                let mut lat = Vec::with_capacity(16_384);
                let mut bad = 0u64;
                loop {
                    let t0 = Instant::now();
                    if t0 >= end {
                        break;
                    }
                    let body = match &varied {
                        Some(query) => {
                            let n = counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                            let text =
                                serde_json::json!({ "query": query, "variables": { "n": n } })
                                    .to_string();
                            axum::body::Bytes::from(text)
                        }
                        None => body.clone(),
                    };
                    let result = gql.request(&http, body.into()).send().await;
                    let good = match result {
                        Ok(r) if r.status().is_success() => {
                            r.bytes().await.is_ok_and(|b| b.len() == expect_len)
                        }
                        _ => false,
                    };
                    if t0 < measure_from {
                        continue;
                    }
                    if good {
                        lat.push(u32::try_from(t0.elapsed().as_micros()).unwrap_or(u32::MAX));
                    } else {
                        bad += 1;
                    }
                }
                (lat, bad)
            })
        })
        .collect();
    let mut lat_us = Vec::new();
    let mut bad = 0;
    for task in tasks {
        let (lat, b) = task.await.expect("a load task");
        lat_us.extend(lat);
        bad += b;
    }
    lat_us.sort_unstable();
    LoadResult {
        ok: lat_us.len() as u64,
        bad,
        elapsed: duration,
        lat_us,
    }
}
