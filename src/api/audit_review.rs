//! `GET /v1/audit/review` (role `dpo`): the review queue of statutory disclosures, and
//! `POST /v1/audit/checkpoints/{seq}/witness` (role `dpo`): a witness's co-signature.

use axum::{
    Json,
    extract::{Path, Query, State, rejection::QueryRejection},
    http::StatusCode,
};
use serde::{Deserialize, Serialize};

use super::{Access, ApiError, ApiJson, Problem, audit::page_limit};
use crate::{
    app::AppState,
    audit::{
        self, ChainedRecord,
        review::{ReviewItem, ReviewMark, ReviewStatus, overdue_before},
        witness::{WitnessBody, WitnessSignature, check_cosignature},
    },
    auth::{Principal, Role},
};

/// `GET /v1/audit/review` query.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReviewParams {
    status: Option<ReviewStatus>,
    after: Option<u64>,
    limit: Option<u32>,
}

/// One statutory disclosure in the queue.
#[derive(Debug, Serialize)]
pub struct QueueItem {
    /// The disclosure's record.
    #[serde(flatten)]
    pub record: ChainedRecord,
    /// Not reviewed and older than `audit.review_overdue_days`.
    pub overdue: bool,
    /// The DPO's mark, once reviewed.
    pub review: Option<ReviewMark>,
}

/// `GET /v1/audit/review` answer.
#[derive(Debug, Serialize)]
pub struct ReviewQueue {
    /// Days after which an unreviewed statutory disclosure is overdue.
    pub overdue_days: u32,
    /// Statutory disclosures not reviewed yet (in all, not just this page).
    pub pending: u64,
    /// Of those, how many are overdue.
    pub overdue: u64,
    /// This page, oldest first.
    pub items: Vec<QueueItem>,
    /// `after` for the next page, when there may be one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_after: Option<u64>,
}

/// The queue page after `after`, with the counts, as the API and the console show it.
pub async fn queue(
    state: &AppState,
    status: ReviewStatus,
    after: u64,
    limit: u32,
) -> Result<ReviewQueue, crate::store::StoreError> {
    let days = state.config().audit.review_overdue_days;
    let cutoff = overdue_before(state.clock().now(), days);
    let (pending, overdue) = state.store().review_counts(cutoff).await?;
    let page: Vec<ReviewItem> = state.store().review_queue(status, after, limit).await?;
    let next_after = (page.len() == limit as usize)
        .then(|| page.last().map(|i| i.record.seq))
        .flatten();
    let items = page
        .into_iter()
        .map(|i| QueueItem {
            overdue: i.review.is_none() && i.record.record.at < cutoff,
            record: i.record,
            review: i.review,
        })
        .collect();
    Ok(ReviewQueue {
        overdue_days: days,
        pending,
        overdue,
        items,
        next_after,
    })
}

/// `GET /v1/audit/review?status=pending|reviewed|all&after=SEQ&limit=N`: disclosures made on a
/// legal basis without consent, oldest first, with whether each is overdue and its review mark.
pub async fn review(
    State(state): State<AppState>,
    principal: Principal,
    params: Result<Query<ReviewParams>, QueryRejection>,
) -> Result<Json<ReviewQueue>, ApiError> {
    principal.require_role(&[Role::Dpo])?;
    let Query(params) = params.map_err(|e| ApiError::bad_field("query", e.body_text()))?;
    let limit = page_limit(params.limit)?;
    Ok(Json(
        queue(
            &state,
            params.status.unwrap_or_default(),
            params.after.unwrap_or(0),
            limit,
        )
        .await?,
    ))
}

/// `POST /v1/audit/checkpoints/{seq}/witness`: stores a witness's co-signature of the gateway's
/// checkpoint at `seq` once it verifies. 201 when new, 200 when it was stored before.
pub async fn witness(
    State(state): State<AppState>,
    principal: Principal,
    Path(seq): Path<String>,
    ApiJson(body): ApiJson<WitnessBody>,
) -> Result<(StatusCode, Json<WitnessSignature>), ApiError> {
    principal.require_role(&[Role::Dpo])?;
    let seq: u64 = seq
        .parse()
        .map_err(|_| ApiError::NotFound("no checkpoint at that seq".to_owned()))?;
    let own = state.signing_key().key_id.clone();
    let checkpoint = audit::all_checkpoints(state.store())
        .await?
        .into_iter()
        .find(|c| c.seq == seq && c.key_id == own)
        .ok_or_else(|| ApiError::NotFound(format!("no checkpoint at seq {seq}")))?;
    check_cosignature(&checkpoint, &body)
        .map_err(|(field, detail)| ApiError::unprocessable("invalid_signature", field, detail))?;
    let Some(witness) = state.config().audit.witnesses.iter().find(|w| {
        w.key_bytes()
            .is_some_and(|k| body.public_key_bytes() == Some(k))
    }) else {
        return Err(ApiError::Problem(Box::new(
            Problem::new(
                StatusCode::FORBIDDEN,
                "witness_not_allowed",
                "this witness key is not listed in the gateway's `audit.witnesses`",
            )
            .with("field", "public_key"),
        )));
    };
    let signature = WitnessSignature {
        seq,
        key_id: checkpoint.key_id,
        witness_key_id: body.witness_key_id,
        public_key: body.public_key,
        signature: body.signature,
        received_at: crate::audit::canonical::truncate_instant(state.clock().now()),
    };
    let new = state.store().insert_witness(&signature).await?;
    tracing::info!(
        seq,
        witness = %witness.name,
        witness_key_id = %signature.witness_key_id,
        new,
        "witness co-signature of an audit checkpoint"
    );
    let status = if new {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(signature)))
}
