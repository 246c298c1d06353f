//! The one place where errors become HTTP responses: `application/problem+json` (RFC 9457).
//!
//! Handlers return [`ApiError`]; everything else that can fail on a request (axum's own rejections,
//! the body limit, the timeout, unknown routes) is turned into a problem by [`problem_for_bare_errors`],
//! so a client never sees a plain-text error.

use axum::{
    Json,
    body::Body,
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde::Serialize;
use serde_json::{Map, Value};

/// The media type of every error body.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// An RFC 9457 problem document with Sluse's extension members.
#[derive(Debug, Clone, Serialize)]
pub struct Problem {
    /// A URI naming the problem type: `urn:sluse:problem:<code>`.
    #[serde(rename = "type")]
    pub type_uri: String,
    /// Short, stable summary of the problem type.
    pub title: String,
    /// The HTTP status.
    pub status: u16,
    /// What went wrong in this occurrence, for a developer; never holds a CPR number or a token.
    pub detail: String,
    /// Stable machine-readable code (the last part of `type`).
    pub code: String,
    /// Extension members (`field`, `decision`, `reasons`, `disclosure_id`, …).
    #[serde(flatten)]
    pub extensions: Map<String, Value>,
}

impl Problem {
    /// A problem with the given status, stable code and detail.
    pub fn new(status: StatusCode, code: &str, detail: impl Into<String>) -> Problem {
        Problem {
            type_uri: format!("urn:sluse:problem:{code}"),
            title: status.canonical_reason().unwrap_or("Error").to_owned(),
            status: status.as_u16(),
            detail: mask_numbers(&detail.into()),
            code: code.to_owned(),
            extensions: Map::new(),
        }
    }

    /// Adds an extension member.
    pub fn with(mut self, key: &str, value: impl Into<Value>) -> Problem {
        self.extensions.insert(key.to_owned(), value.into());
        self
    }

    fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let status = self.status_code();
        let mut response = (status, Json(self)).into_response();
        response
            .headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        response
    }
}

/// What a handler can fail with. Each variant maps to one status; details never carry secrets.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400: the request is malformed; `field` names the offending input when known.
    #[error("{detail}")]
    BadRequest {
        /// Dotted path of the offending field, if one.
        field: Option<String>,
        /// What is wrong.
        detail: String,
    },
    /// 422: well-formed but not acceptable (unknown id, invalid CPR, rule violated).
    #[error("{detail}")]
    Unprocessable {
        /// Stable code, e.g. `invalid_cpr`, `consent_giver_invalid`.
        code: &'static str,
        /// Dotted path of the offending field, if one.
        field: Option<String>,
        /// What is wrong.
        detail: String,
    },
    /// 401: no valid token.
    #[error("{0}")]
    Unauthorized(String),
    /// 403: a valid caller that may not do this.
    #[error("{0}")]
    Forbidden(String),
    /// 404: no such resource.
    #[error("{0}")]
    NotFound(String),
    /// 409: conflicts with existing state.
    #[error("{0}")]
    Conflict(String),
    /// 415: the body is not JSON.
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// 413: the body is larger than the configured limit.
    #[error("request body is larger than the limit")]
    PayloadTooLarge,
    /// 503: a dependency (database, audit log) is down; nothing was released.
    #[error("{0}")]
    Unavailable(String),
    /// Any other, already-built problem (policy denials carry their reasons this way).
    #[error("{}", .0.detail)]
    Problem(Box<Problem>),
}

impl ApiError {
    /// A 400 naming `field`.
    pub fn bad_field(field: impl Into<String>, detail: impl Into<String>) -> ApiError {
        ApiError::BadRequest {
            field: Some(field.into()),
            detail: detail.into(),
        }
    }

    /// A 422 with a code, naming `field`.
    pub fn unprocessable(
        code: &'static str,
        field: impl Into<String>,
        detail: impl Into<String>,
    ) -> ApiError {
        ApiError::Unprocessable {
            code,
            field: Some(field.into()),
            detail: detail.into(),
        }
    }

    /// The problem document for this error.
    pub fn to_problem(&self) -> Problem {
        let with_field = |p: Problem, field: &Option<String>| match field {
            Some(f) => p.with("field", f.clone()),
            None => p,
        };
        match self {
            ApiError::BadRequest { field, detail } => with_field(
                Problem::new(StatusCode::BAD_REQUEST, "bad_request", detail.clone()),
                field,
            ),
            ApiError::Unprocessable {
                code,
                field,
                detail,
            } => with_field(
                Problem::new(StatusCode::UNPROCESSABLE_ENTITY, code, detail.clone()),
                field,
            ),
            ApiError::Unauthorized(d) => {
                Problem::new(StatusCode::UNAUTHORIZED, "unauthorized", d.clone())
            }
            ApiError::Forbidden(d) => Problem::new(StatusCode::FORBIDDEN, "forbidden", d.clone()),
            ApiError::NotFound(d) => Problem::new(StatusCode::NOT_FOUND, "not_found", d.clone()),
            ApiError::Conflict(d) => Problem::new(StatusCode::CONFLICT, "conflict", d.clone()),
            ApiError::UnsupportedMediaType(d) => Problem::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                d.clone(),
            ),
            ApiError::PayloadTooLarge => Problem::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                "the request body is larger than the configured limit",
            ),
            ApiError::Unavailable(d) => {
                Problem::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", d.clone())
            }
            ApiError::Problem(p) => (**p).clone(),
        }
    }
}

impl From<crate::store::StoreError> for ApiError {
    fn from(error: crate::store::StoreError) -> Self {
        use crate::store::StoreError;
        match error {
            StoreError::Conflict(d) => ApiError::Conflict(d),
            // Every other store failure is an outage as far as the caller is concerned: fail closed.
            other => ApiError::Unavailable(other.to_string()),
        }
    }
}

impl From<crate::audit::AuditError> for ApiError {
    fn from(error: crate::audit::AuditError) -> Self {
        // No durable audit record, no data: fail closed.
        ApiError::Unavailable(error.to_string())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let problem = self.to_problem();
        if problem.status >= 500 {
            // The detail is safe to log: it never carries request data.
            tracing::error!(code = %problem.code, detail = %problem.detail, "request failed");
        }
        // A rate-limit problem says how long to wait; `Retry-After` says it to HTTP clients.
        let retry_after = (problem.status == 429).then(|| {
            problem
                .extensions
                .get("retry_after")
                .and_then(serde_json::Value::as_u64)
                .unwrap_or(1)
        });
        let mut response = problem.into_response();
        if matches!(self, ApiError::Unauthorized(_)) {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"sluse\""),
            );
        }
        if let Some(seconds) = retry_after
            && let Ok(v) = HeaderValue::from_str(&seconds.to_string())
        {
            response.headers_mut().insert(header::RETRY_AFTER, v);
        }
        if matches!(self, ApiError::Unavailable(_)) {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
        }
        response
    }
}

/// Middleware body: any error response that is not yet a problem (axum's 404/405, the body limit's
/// 413, the timeout's 503) is replaced by one with the same status.
pub async fn problem_for_bare_errors(response: Response) -> Response {
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let is_problem = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(PROBLEM_JSON.as_bytes()));
    // The DPO console answers its errors with HTML pages of its own.
    let is_html = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"text/html"));
    if is_problem || is_html {
        return response;
    }
    let (code, detail) = match status {
        StatusCode::NOT_FOUND => ("not_found", "no such endpoint"),
        StatusCode::METHOD_NOT_ALLOWED => (
            "method_not_allowed",
            "this endpoint does not take that method",
        ),
        StatusCode::PAYLOAD_TOO_LARGE => (
            "payload_too_large",
            "the request body is larger than the configured limit",
        ),
        StatusCode::SERVICE_UNAVAILABLE | StatusCode::REQUEST_TIMEOUT => (
            "timeout",
            "the request took longer than the configured timeout",
        ),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => {
            ("unsupported_media_type", "expected `application/json`")
        }
        _ => ("error", "the request could not be handled"),
    };
    let mut out = Problem::new(status, code, detail).into_response();
    // Keep headers that matter to the client (`Allow` on 405, `Retry-After`).
    for name in [header::ALLOW, header::RETRY_AFTER] {
        if let Some(v) = response.headers().get(&name) {
            out.headers_mut().insert(name, v.clone());
        }
    }
    let _: Body = response.into_body();
    out
}

/// Replaces every run of six or more digits, and the CPR shape `DDMMYY-SSSS` / `DDMMYY SSSS`, with
/// `[number]`: error details sometimes quote the input (serde does), and an input may be a CPR
/// number. Dates (`2026-11-29`) and positions (`line 1 column 42`) are left alone.
pub fn mask_numbers(text: &str) -> String {
    let bytes = text.as_bytes();
    let digit_run = |from: usize| {
        bytes[from..]
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .count()
    };
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    let mut i = 0;
    while i < bytes.len() {
        if !bytes[i].is_ascii_digit() {
            i += 1;
            continue;
        }
        let run = digit_run(i);
        let mut end = i + run;
        if run == 6 && matches!(bytes.get(end), Some(b'-' | b' ')) && digit_run(end + 1) >= 4 {
            end += 1 + digit_run(end + 1);
        }
        if run >= 6 {
            out.push_str(&text[copied..i]);
            out.push_str("[number]");
            copied = end;
        }
        i = end;
    }
    out.push_str(&text[copied..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mask_numbers_hides_cpr_like_runs_and_keeps_small_numbers() {
        assert_eq!(mask_numbers("bad 010203-1234 here"), "bad [number] here");
        assert_eq!(mask_numbers("x0102031234y"), "x[number]y");
        assert_eq!(mask_numbers("at 010203 1234"), "at [number]");
        assert_eq!(mask_numbers("line 1 column 42"), "line 1 column 42");
        assert_eq!(mask_numbers("2026-11-29"), "2026-11-29");
        assert_eq!(mask_numbers("æø 0102031234"), "æø [number]");
    }
}
