//! `POST /v1/notices`, `GET /v1/inbox`, `POST /v1/inbox/{notice_id}/ack`.

use axum::{
    Json,
    body::Bytes,
    extract::{Path, Query, State},
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{ApiError, json};
use crate::{
    app::AppState,
    auth::Principal,
    cpr::Cpr,
    notices::{NoticeStore, Received, service},
    policy::Basis,
};

/// `POST /v1/notices` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoticeBody {
    kind: String,
    subject: Cpr,
    data: serde_json::Map<String, Value>,
}

/// Submits a notice: 202 with deliveries and withheld recipients.
pub async fn submit(
    State(state): State<AppState>,
    principal: Principal,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let key = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|k| !k.is_empty())
        .ok_or_else(|| {
            ApiError::bad_field(
                "Idempotency-Key",
                "the `Idempotency-Key` header is required",
            )
        })?;
    if key.len() > 200 {
        return Err(ApiError::bad_field(
            "Idempotency-Key",
            "the `Idempotency-Key` header is longer than 200 characters",
        ));
    }
    json::require_json(&headers)?;
    let parsed: Value = json::parse(&body)?;
    // The digest is over the parsed body in canonical key order, so formatting does not matter.
    let digest = crate::audit::payload_digest(parsed.to_string().as_bytes());
    let notice: NoticeBody = json::from_value(parsed)?;
    let answer = service::submit(
        &state,
        &principal,
        service::Submission {
            key: key.to_owned(),
            digest,
            kind: notice.kind,
            subject: notice.subject,
            data: Value::Object(notice.data),
        },
    )
    .await?;
    let status = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::ACCEPTED);
    let mut response = (status, Json(answer.body)).into_response();
    if status != StatusCode::ACCEPTED {
        response.headers_mut().insert(
            axum::http::header::CONTENT_TYPE,
            axum::http::HeaderValue::from_static(super::problem::PROBLEM_JSON),
        );
    }
    Ok(response)
}

/// `GET /v1/inbox` query.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InboxQuery {
    limit: Option<u32>,
    cursor: Option<String>,
}

/// One item as the recipient reads it.
#[derive(Debug, Serialize)]
pub struct InboxView {
    notice_id: String,
    kind: String,
    subject: Option<String>,
    data: Value,
    redacted: Vec<String>,
    basis: Option<Basis>,
    disclosure_id: String,
    received_at: jiff::Timestamp,
    #[serde(skip_serializing_if = "Option::is_none")]
    acked_at: Option<jiff::Timestamp>,
}

/// A page of the inbox.
#[derive(Debug, Serialize)]
pub struct InboxPage {
    items: Vec<InboxView>,
    /// After this page's last item: the next page now, or the items delivered later. An empty page
    /// has none; the client asks again with the cursor it sent.
    #[serde(skip_serializing_if = "Option::is_none")]
    next_cursor: Option<String>,
}

/// The caller's department's inbox in the order of delivery (commit order, so a client that
/// follows the cursors misses no item, also one whose notice was decided earlier but committed
/// later).
pub async fn inbox(
    State(state): State<AppState>,
    principal: Principal,
    Query(query): Query<InboxQuery>,
) -> Result<Json<InboxPage>, ApiError> {
    let limit = query.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::bad_field(
            "limit",
            "`limit` must be between 1 and 1000",
        ));
    }
    let after = query.cursor.as_deref().map(decode_cursor).transpose()?;
    let items = state.store().inbox(&principal.dept, after, limit).await?;
    let sealer = state.sealer();
    let next_cursor = items.last().map(|r| encode_cursor(r.seq));
    let items = items
        .into_iter()
        .map(|Received { item, .. }| {
            let sealed = sealer
                .open(&item.sealed, &item.id, &item.recipient)
                .map_err(|e| ApiError::Unavailable(e.to_string()))?;
            Ok(InboxView {
                notice_id: item.notice_id,
                kind: item.kind,
                subject: sealed.subject,
                data: sealed.data,
                redacted: item.redacted,
                basis: item.basis,
                disclosure_id: item.disclosure_id,
                received_at: item.received_at,
                acked_at: item.acked_at,
            })
        })
        .collect::<Result<Vec<_>, ApiError>>()?;
    Ok(Json(InboxPage { items, next_cursor }))
}

/// Acknowledges a notice in the caller's department's inbox.
pub async fn ack(
    State(state): State<AppState>,
    principal: Principal,
    Path(notice_id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let at = state.clock().now();
    let found = state
        .store()
        .ack(&principal.dept, &notice_id, &principal.sub, at)
        .await?;
    if !found {
        return Err(ApiError::NotFound(
            "no such notice in your department's inbox".to_owned(),
        ));
    }
    Ok(Json(
        serde_json::json!({"notice_id": notice_id, "acked": true}),
    ))
}

/// The cursor after the item at `seq`. It is opaque to clients; the prefix tells it from the
/// `received_at|id` cursors of earlier versions, which are refused like any other stranger.
fn encode_cursor(seq: u64) -> String {
    URL_SAFE_NO_PAD.encode(format!("inbox:{seq}"))
}

fn decode_cursor(cursor: &str) -> Result<u64, ApiError> {
    let bad = || ApiError::bad_field("cursor", "`cursor` is not a cursor this gateway returned");
    let text = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| bad())?;
    let seq = std::str::from_utf8(&text)
        .ok()
        .and_then(|t| t.strip_prefix("inbox:"))
        .ok_or_else(bad)?;
    if seq.is_empty() || !seq.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    seq.parse().map_err(|_| bad())
}
