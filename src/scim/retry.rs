//! The retry decision, as a pure function of what happened: the I/O loop in the client only
//! applies it. Tested as a table below.

use std::time::{Duration, SystemTime};

use reqwest::Method;

#[derive(Clone, Debug, PartialEq)]
pub struct RetryPolicy {
    /// Tries in all (the first one included) for 5xx, timeouts and connection errors.
    pub max_tries: u32,
    /// Tries in all for 429 answers, for any method (a 429 was not processed).
    pub max_rate_limited_tries: u32,
    /// First backoff; it doubles per try, up to `max_backoff`, with jitter.
    pub base_backoff: Duration,
    pub max_backoff: Duration,
    /// A `Retry-After` longer than this is not waited for: the call fails as rate limited.
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_tries: 3,
            max_rate_limited_tries: 5,
            base_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(30),
            max_retry_after: Duration::from_secs(120),
        }
    }
}

/// What one try ended with, short of success.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Failure {
    /// An HTTP status that is not 2xx.
    Status(u16),
    /// No answer in time: the request may or may not have been applied.
    Timeout,
    /// The connection could not be made: the request was not sent.
    Connect,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Decision {
    /// Give up and report the failure.
    Stop,
    /// Try again after `after`; with `pause_org`, every lane of the organization waits too.
    Retry { after: Duration, pause_org: bool },
}

/// GET, PUT and DELETE may be sent twice with the same effect; POST and PATCH may not.
pub(crate) fn is_idempotent(method: &Method) -> bool {
    matches!(
        *method,
        Method::GET | Method::HEAD | Method::PUT | Method::DELETE
    )
}

/// `Retry-After` as delay-seconds or an HTTP date (RFC 9110 §10.2.3), relative to `now`.
pub(crate) fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

/// Exponential backoff with "equal jitter": half the step fixed, half drawn from `jitter` ∈ [0, 1).
pub(crate) fn backoff(policy: &RetryPolicy, attempt: u32, jitter: f64) -> Duration {
    let exp = policy
        .base_backoff
        .saturating_mul(1u32 << attempt.saturating_sub(1).min(16))
        .min(policy.max_backoff);
    exp.mul_f64(0.5 + 0.5 * jitter.clamp(0.0, 1.0))
}

/// Decides what to do after try number `attempt` (1-based) failed with `failure`.
pub(crate) fn decide(
    policy: &RetryPolicy,
    method: &Method,
    failure: Failure,
    retry_after: Option<Duration>,
    attempt: u32,
    jitter: f64,
) -> Decision {
    match failure {
        Failure::Status(429) => {
            let after = retry_after.unwrap_or_else(|| backoff(policy, attempt, jitter));
            if attempt >= policy.max_rate_limited_tries || after > policy.max_retry_after {
                Decision::Stop
            } else {
                Decision::Retry {
                    after,
                    pause_org: true,
                }
            }
        }
        Failure::Status(s) if s >= 500 => retry_if_idempotent(policy, method, attempt, jitter),
        Failure::Timeout | Failure::Connect => retry_if_idempotent(policy, method, attempt, jitter),
        // 401 (credential revoked), the other 4xx, and anything else: retrying cannot help.
        Failure::Status(_) => Decision::Stop,
    }
}

fn retry_if_idempotent(
    policy: &RetryPolicy,
    method: &Method,
    attempt: u32,
    jitter: f64,
) -> Decision {
    if is_idempotent(method) && attempt < policy.max_tries {
        Decision::Retry {
            after: backoff(policy, attempt, jitter),
            pause_org: false,
        }
    } else {
        Decision::Stop
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: fn(u64) -> Duration = Duration::from_millis;

    fn retry(after: Duration) -> Decision {
        Decision::Retry {
            after,
            pause_org: false,
        }
    }

    fn pause(after: Duration) -> Decision {
        Decision::Retry {
            after,
            pause_org: true,
        }
    }

    /// method, failure, Retry-After, attempt, jitter → decision
    type Row<'a> = (&'a Method, Failure, Option<Duration>, u32, f64, Decision);

    #[test]
    fn decision_table() {
        let p = RetryPolicy::default();
        let (get, post, put, patch, delete) = (
            Method::GET,
            Method::POST,
            Method::PUT,
            Method::PATCH,
            Method::DELETE,
        );
        #[rustfmt::skip]
        let table: Vec<Row> = vec![
            // 429: wait as told, pause the whole organization, for any method.
            (&get,    Failure::Status(429), Some(MS(2000)), 1, 0.0, pause(MS(2000))),
            (&post,   Failure::Status(429), Some(MS(2000)), 1, 0.0, pause(MS(2000))),
            (&patch,  Failure::Status(429), Some(MS(0)),    4, 0.0, pause(MS(0))),
            // 429 without Retry-After: jittered exponential backoff.
            (&get,    Failure::Status(429), None,           1, 0.0, pause(MS(250))),
            (&get,    Failure::Status(429), None,           1, 1.0, pause(MS(500))),
            (&get,    Failure::Status(429), None,           3, 0.5, pause(MS(1500))),
            // 429: give up after the tries run out, or when told to wait too long.
            (&get,    Failure::Status(429), Some(MS(1000)), 5, 0.0, Decision::Stop),
            (&get,    Failure::Status(429), Some(MS(121_000)), 1, 0.0, Decision::Stop),
            // 5xx, timeouts and connection errors: idempotent methods only, at most 3 tries.
            (&get,    Failure::Status(500), None, 1, 0.0, retry(MS(250))),
            (&put,    Failure::Status(503), None, 2, 0.0, retry(MS(500))),
            (&delete, Failure::Timeout,     None, 1, 1.0, retry(MS(500))),
            (&get,    Failure::Connect,     None, 2, 0.0, retry(MS(500))),
            (&get,    Failure::Status(502), None, 3, 0.0, Decision::Stop),
            (&delete, Failure::Timeout,     None, 3, 0.0, Decision::Stop),
            (&post,   Failure::Status(500), None, 1, 0.0, Decision::Stop),
            (&post,   Failure::Timeout,     None, 1, 0.0, Decision::Stop),
            (&post,   Failure::Connect,     None, 1, 0.0, Decision::Stop),
            (&patch,  Failure::Status(500), None, 1, 0.0, Decision::Stop),
            (&patch,  Failure::Timeout,     None, 1, 0.0, Decision::Stop),
            // 401 and the other 4xx stop at once.
            (&get,    Failure::Status(401), None, 1, 0.0, Decision::Stop),
            (&get,    Failure::Status(400), None, 1, 0.0, Decision::Stop),
            (&delete, Failure::Status(404), None, 1, 0.0, Decision::Stop),
            (&post,   Failure::Status(409), None, 1, 0.0, Decision::Stop),
            (&put,    Failure::Status(403), None, 1, 0.0, Decision::Stop),
        ];
        for (i, (method, failure, retry_after, attempt, jitter, expected)) in
            table.into_iter().enumerate()
        {
            assert_eq!(
                decide(&p, method, failure, retry_after, attempt, jitter),
                expected,
                "row {i}: {method} {failure:?} retry_after={retry_after:?} attempt={attempt}"
            );
        }
    }

    #[test]
    fn backoff_doubles_and_is_capped() {
        let p = RetryPolicy::default();
        assert_eq!(backoff(&p, 1, 1.0), MS(500));
        assert_eq!(backoff(&p, 2, 1.0), MS(1000));
        assert_eq!(backoff(&p, 7, 1.0), MS(30_000));
        assert_eq!(backoff(&p, 40, 1.0), MS(30_000));
        assert_eq!(backoff(&p, 7, 0.0), MS(15_000));
    }

    #[test]
    fn retry_after_in_seconds_or_as_an_http_date() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        assert_eq!(parse_retry_after("2", now), Some(Duration::from_secs(2)));
        assert_eq!(parse_retry_after(" 0 ", now), Some(Duration::ZERO));
        let later = httpdate::fmt_http_date(now + Duration::from_secs(7));
        assert_eq!(parse_retry_after(&later, now), Some(Duration::from_secs(7)));
        let earlier = httpdate::fmt_http_date(now - Duration::from_secs(7));
        assert_eq!(parse_retry_after(&earlier, now), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("-3", now), None);
    }
}
