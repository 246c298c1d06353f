//! Rate limits per principal and per department (token buckets, checked right after the token is
//! verified), and a limit on requests in flight (excess answered 503 at once instead of queued).

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use axum::{
    extract::{Request, State},
    http::{HeaderValue, StatusCode, header},
    middleware::Next,
    response::{IntoResponse, Response},
};
use tokio::sync::Semaphore;

use crate::{
    api::{ApiError, Problem},
    auth::Principal,
    config::LimitsConfig,
};

/// Buckets kept before idle (full) ones are dropped.
const MAX_BUCKETS: usize = 100_000;

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

/// Token buckets keyed by a string: `rate` tokens a second, at most `burst`.
#[derive(Debug)]
struct Buckets {
    rate: f64,
    burst: f64,
    buckets: Mutex<HashMap<String, Bucket>>,
}

impl Buckets {
    fn new(rate: f64, burst: u32) -> Option<Buckets> {
        (rate > 0.0).then(|| Buckets {
            rate,
            burst: f64::from(burst.max(1)),
            buckets: Mutex::new(HashMap::new()),
        })
    }

    /// Takes one token for `key`; when there is none, how long until there is.
    fn take(&self, key: &str, now: Instant) -> Result<(), Duration> {
        let mut buckets = self
            .buckets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if buckets.len() >= MAX_BUCKETS && !buckets.contains_key(key) {
            let (rate, burst) = (self.rate, self.burst);
            buckets.retain(|_, b| {
                b.tokens + now.saturating_duration_since(b.at).as_secs_f64() * rate < burst
            });
        }
        let bucket = buckets.entry(key.to_owned()).or_insert(Bucket {
            tokens: self.burst,
            at: now,
        });
        let refill = now.saturating_duration_since(bucket.at).as_secs_f64() * self.rate;
        bucket.tokens = (bucket.tokens + refill).min(self.burst);
        bucket.at = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - bucket.tokens) / self.rate))
        }
    }
}

/// The configured rate limits; a limit whose rate is 0 is off.
#[derive(Debug)]
pub struct RateLimits {
    principal: Option<Buckets>,
    department: Option<Buckets>,
}

impl RateLimits {
    /// The limits of `[limits]`.
    pub fn new(config: &LimitsConfig) -> RateLimits {
        RateLimits {
            principal: Buckets::new(config.per_principal_per_s, config.per_principal_burst),
            department: Buckets::new(config.per_department_per_s, config.per_department_burst),
        }
    }

    /// Counts one request of `principal`; 429 with `Retry-After` when a limit is reached.
    pub fn check(&self, principal: &Principal) -> Result<(), ApiError> {
        let now = Instant::now();
        if let Some(b) = &self.principal {
            let key = format!("{}\u{0}{}", principal.dept, principal.sub);
            b.take(&key, now)
                .map_err(|wait| limited("principal", wait))?;
        }
        if let Some(b) = &self.department {
            b.take(&principal.dept, now)
                .map_err(|wait| limited("department", wait))?;
        }
        Ok(())
    }
}

fn limited(limit: &'static str, wait: Duration) -> ApiError {
    super::metrics::inc("sluse_rate_limited_total", &[("limit", limit)]);
    let retry_after_s = wait.as_secs_f64().ceil().max(1.0) as u64;
    let problem = Problem::new(
        StatusCode::TOO_MANY_REQUESTS,
        "rate_limited",
        format!("too many requests for this {limit}; retry after {retry_after_s} s"),
    )
    .with("limit", limit)
    .with("retry_after", retry_after_s);
    ApiError::Problem(Box::new(problem))
}

/// The limit on requests in flight; `None` when off.
#[derive(Debug, Clone)]
pub struct ConcurrencyLimit(Option<Arc<Semaphore>>);

impl ConcurrencyLimit {
    /// At most `max` requests at once (`0`: no limit).
    pub fn new(max: usize) -> ConcurrencyLimit {
        ConcurrencyLimit((max > 0).then(|| Arc::new(Semaphore::new(max))))
    }
}

/// Middleware: answers 503 at once when the limit is reached. Health probes and `/metrics` are not
/// counted, so an overloaded replica can still be observed.
pub async fn shed_load(
    State(limit): State<ConcurrencyLimit>,
    request: Request,
    next: Next,
) -> Response {
    let path = request.uri().path();
    let exempt = matches!(path, "/healthz" | "/readyz" | "/metrics");
    let Some(semaphore) = limit.0.as_ref().filter(|_| !exempt) else {
        return next.run(request).await;
    };
    match semaphore.clone().try_acquire_owned() {
        Ok(permit) => {
            let response = next.run(request).await;
            drop(permit);
            response
        }
        Err(_) => {
            super::metrics::inc("sluse_load_shed_total", &[]);
            let mut response = Problem::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "overloaded",
                "the gateway is at its concurrency limit; retry shortly",
            )
            .into_response();
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            response
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bucket_allows_its_burst_then_refills_at_its_rate() {
        let Some(b) = Buckets::new(2.0, 3) else {
            return;
        };
        let t0 = Instant::now();
        for _ in 0..3 {
            assert!(b.take("k", t0).is_ok());
        }
        let wait = b.take("k", t0).err();
        assert!(wait.is_some_and(|w| w <= Duration::from_millis(500)));
        assert!(b.take("other", t0).is_ok(), "keys have their own buckets");
        assert!(b.take("k", t0 + Duration::from_millis(500)).is_ok());
    }

    #[test]
    fn a_zero_rate_is_no_limit() {
        assert!(Buckets::new(0.0, 10).is_none());
    }
}
