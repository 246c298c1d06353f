//! The HTTP API: the router, thin handlers, and the one place errors become problem+json.

mod access;
mod assignments;
mod audit;
mod audit_export;
mod audit_review;
pub use audit_review::{ReviewQueue, queue as review_queue};
mod consents;
pub mod head_limit;
mod health;
pub mod json;
mod me;
mod notices;
pub mod openapi;
pub mod problem;
mod request_log;
mod subject;

use std::time::Duration;

use axum::{
    Router,
    extract::DefaultBodyLimit,
    http::StatusCode,
    middleware,
    response::IntoResponse,
    routing::{get, post},
};
use tower_http::{limit::RequestBodyLimitLayer, timeout::TimeoutLayer};

pub use access::Access;
pub use json::ApiJson;
pub use problem::{ApiError, Problem};
pub use request_log::REQUEST_ID;

use crate::app::AppState;

/// Builds the router with every endpoint and the cross-cutting layers.
pub fn router(state: AppState) -> Router {
    let limit = state.config().server.body_limit_bytes;
    let timeout = Duration::from_millis(state.config().server.request_timeout_ms);
    let max_header_bytes = state.config().server.max_header_bytes;
    Router::new()
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/openapi.json", get(openapi::openapi))
        .route("/metrics", get(crate::ops::metrics::metrics))
        .route("/v1/me", get(me::me))
        .route("/v1/assignments", post(assignments::create))
        .route("/v1/assignments/query", post(assignments::query))
        .route("/v1/assignments/{id}/end", post(assignments::end))
        .route("/v1/requests", post(crate::exchange::request))
        .route("/v1/notices", post(notices::submit))
        .route("/v1/inbox", get(notices::inbox))
        .route("/v1/inbox/{notice_id}/ack", post(notices::ack))
        .route("/v1/consents", post(consents::record))
        .route("/v1/consents/query", post(consents::query))
        .route("/v1/consents/{id}/withdraw", post(consents::withdraw))
        .route("/v1/audit/checkpoints", get(audit::checkpoints))
        .route("/v1/audit/query", post(audit::query))
        .route("/v1/audit/subject-report", post(audit::subject_report))
        .route("/v1/audit/export", get(audit_export::export))
        .route("/v1/audit/stats", get(audit::stats))
        .route("/v1/audit/review", get(audit_review::review))
        .route(
            "/v1/audit/checkpoints/{seq}/witness",
            post(audit_review::witness),
        )
        .nest_service("/dpo", crate::web::router(state.clone()))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        // Layers run bottom-up on the way in: the request id and log line wrap everything, so a
        // timeout or an oversized body is logged with its status like any other answer.
        .layer(DefaultBodyLimit::max(limit))
        .layer(RequestBodyLimitLayer::new(limit))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::SERVICE_UNAVAILABLE,
            timeout,
        ))
        // Verifying a long chain takes longer than any request should (16 s for a million
        // records here); it reads in constant memory, so it is exempt from the request timeout.
        .route("/v1/audit/verify", get(audit::verify))
        .layer(middleware::from_fn_with_state(
            state.concurrency().clone(),
            crate::ops::limits::shed_load,
        ))
        .layer(middleware::from_fn_with_state(
            max_header_bytes,
            head_limit::limit_head,
        ))
        .layer(middleware::map_response(problem::problem_for_bare_errors))
        .layer(middleware::from_fn(request_log::log_requests))
        .with_state(state)
}

async fn not_found() -> impl IntoResponse {
    ApiError::NotFound("no such endpoint".to_owned())
}

async fn method_not_allowed() -> impl IntoResponse {
    Problem::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "this endpoint does not take that method",
    )
}
