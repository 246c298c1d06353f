//! Request ids and the one log line per request.
//!
//! A client may send `X-Request-Id` to correlate logs; it is accepted only when it looks like an id
//! (short, `[A-Za-z0-9._-]`, no long digit run that could be a CPR number), else a fresh UUID is
//! used. The id is returned on the response either way.

use std::time::Instant;

use axum::{
    extract::{MatchedPath, Request},
    http::HeaderValue,
    middleware::Next,
    response::Response,
};
use tracing::Instrument;

/// The header carrying the request id.
pub const REQUEST_ID: &str = "x-request-id";

/// Middleware: assign the request id, log the request's route, status and latency.
pub async fn log_requests(mut request: Request, next: Next) -> Response {
    let started = Instant::now();
    let id = request
        .headers()
        .get(REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| acceptable_id(v))
        .map(str::to_owned)
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    let header = HeaderValue::from_str(&id).unwrap_or_else(|_| HeaderValue::from_static("invalid"));
    request.headers_mut().insert(REQUEST_ID, header.clone());

    let method = request.method().clone();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "<unmatched>".to_owned(), |m| m.as_str().to_owned());
    let span = tracing::info_span!("request", request_id = %id, method = %method, route = %route);

    let mut response = next.run(request).instrument(span.clone()).await;
    response.headers_mut().insert(REQUEST_ID, header);
    let status = response.status().as_u16();
    let elapsed = started.elapsed();
    let latency_us = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
    crate::ops::metrics::inc(
        "sluse_http_requests_total",
        &[
            ("route", &route),
            ("method", method.as_str()),
            ("status", &status.to_string()),
        ],
    );
    crate::ops::metrics::observe_latency(
        "sluse_http_request_duration_seconds",
        &[("route", &route)],
        elapsed,
    );
    span.in_scope(|| {
        if status >= 500 {
            tracing::warn!(status, latency_us, "request finished");
        } else {
            tracing::info!(status, latency_us, "request finished");
        }
    });
    response
}

fn acceptable_id(id: &str) -> bool {
    let mut digit_run = 0usize;
    (1..=64).contains(&id.len())
        && id.bytes().all(|b| {
            digit_run = if b.is_ascii_digit() { digit_run + 1 } else { 0 };
            digit_run < 6 && (b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        })
}

#[cfg(test)]
mod tests {
    use super::acceptable_id;

    #[test]
    fn request_ids_that_could_carry_a_cpr_number_are_replaced() {
        assert!(acceptable_id("2b9f2c1e-6a4d-4b8e-9c1f-0a1b2c3d4e5f"));
        assert!(acceptable_id("req-42"));
        assert!(!acceptable_id("0102031234"));
        assert!(!acceptable_id("abc 010203"));
        assert!(!acceptable_id(""));
        assert!(!acceptable_id(&"a".repeat(65)));
    }
}
