//! `server.max_header_bytes`, enforced here rather than by hyper so that an oversized request head
//! is answered with a problem document like every other refusal.
//!
//! hyper refuses a head that overflows its own buffer (HTTP/1) or header list limit (HTTP/2) with a
//! bare 431 that has no body and cannot be customised. `server.rs` therefore gives hyper a ceiling
//! of [`hyper_ceiling`] — twice the configured limit — and this middleware refuses anything between
//! the limit and that ceiling with a 431 problem. Only heads beyond the ceiling (or, on HTTP/1, with
//! more than hyper's 100 header fields) still get hyper's empty 431.

use axum::{
    extract::{Request, State},
    http::{HeaderMap, StatusCode},
    middleware::Next,
    response::{IntoResponse, Response},
};

use super::{Problem, problem::mask_numbers};

/// The size hyper is allowed to buffer for a request head: twice `max_header_bytes`, so that a
/// head over the limit by up to as much again reaches [`limit_head`] and gets a problem document.
/// Doubling also bounds what one connection can make the server hold while its head arrives.
pub fn hyper_ceiling(max_header_bytes: usize) -> usize {
    max_header_bytes.saturating_mul(2)
}

/// Middleware: refuses a request whose head is larger than `max_header_bytes` with 431
/// `request_header_too_large`, naming the largest header field (never its value).
pub async fn limit_head(
    State(max_header_bytes): State<usize>,
    request: Request,
    next: Next,
) -> Response {
    let size = head_size(
        request.method().as_str(),
        &request.uri().to_string(),
        request.headers(),
    );
    if size <= max_header_bytes {
        return next.run(request).await;
    }
    let mut problem = Problem::new(
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
        "request_header_too_large",
        "the request's header fields are larger than the configured limit",
    )
    .with("size_bytes", size)
    .with("max_header_bytes", max_header_bytes);
    if let Some(name) = largest_field(request.headers()) {
        // A header name is chosen by the client; mask it like any detail in case it is a number.
        problem = problem.with("field", mask_numbers(name));
    }
    problem.into_response()
}

/// The size of the request head as HTTP/1.1 puts it on the wire: the request line, each field as
/// `name: value` with its line end, and the empty line. For HTTP/2 it is the same measure of the
/// decoded header list, so one limit means the same on both.
fn head_size(method: &str, target: &str, headers: &HeaderMap) -> usize {
    // The two spaces around the target, and the version with its line end.
    const REQUEST_LINE_OVERHEAD: usize = 2 + "HTTP/1.1\r\n".len();
    const FIELD_OVERHEAD: usize = ": \r\n".len();
    let fields: usize = headers
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len() + FIELD_OVERHEAD)
        .sum();
    method.len() + target.len() + REQUEST_LINE_OVERHEAD + fields + "\r\n".len()
}

/// The name of the header whose values take the most room, all its occurrences together.
fn largest_field(headers: &HeaderMap) -> Option<&str> {
    headers
        .keys()
        .map(|name| {
            let size: usize = headers.get_all(name).iter().map(|v| v.len()).sum();
            (size, name.as_str())
        })
        .max_by_key(|(size, _)| *size)
        .map(|(_, name)| name)
}

#[cfg(test)]
mod tests {
    use axum::http::{HeaderName, HeaderValue};

    use super::*;

    #[test]
    fn head_size_counts_the_bytes_of_an_http1_head() {
        let mut headers = HeaderMap::new();
        headers.insert("host", HeaderValue::from_static("sluse"));
        headers.append("x-a", HeaderValue::from_static("12"));
        let wire = "GET /healthz HTTP/1.1\r\nhost: sluse\r\nx-a: 12\r\n\r\n";
        assert_eq!(head_size("GET", "/healthz", &headers), wire.len());
    }

    #[test]
    fn the_largest_field_counts_every_occurrence_of_a_name() {
        let mut headers = HeaderMap::new();
        headers.insert("authorization", HeaderValue::from_static("Bearer abcdef"));
        for _ in 0..3 {
            headers.append(
                HeaderName::from_static("x-many"),
                HeaderValue::from_static("123456"),
            );
        }
        assert_eq!(largest_field(&headers), Some("x-many"));
        assert_eq!(largest_field(&HeaderMap::new()), None);
    }
}
