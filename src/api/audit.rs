//! `/v1/audit/*` (role `dpo` only): verify the chain, list the signed checkpoints, query the
//! trail, a subject's report and statistics. The export is in `audit_export`.

use axum::{
    Json,
    extract::{Query, State, rejection::QueryRejection},
};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::{Access, ApiError, ApiJson};
use crate::{
    app::AppState,
    audit::{
        self, AuditDecision, AuditFilter, ChainedRecord, CheckpointSet, Verification,
        checkpoint::verification_keys,
        query,
        report::{self, AuditStats, SubjectReport},
        witness::WitnessSignature,
    },
    auth::{Principal, Role},
    cpr::Cpr,
};

/// `GET /v1/audit/verify`: recompute the whole chain and check it against the stored checkpoints.
pub async fn verify(
    State(state): State<AppState>,
    principal: Principal,
) -> Result<Json<Verification>, ApiError> {
    principal.require_role(&[Role::Dpo])?;
    let keys = verification_keys(&state.signing_key(), &state.config().audit.signing_key);
    let result = audit::verify(state.store(), &keys, None, |_| {}).await?;
    if let Some(bad) = &result.first_bad {
        tracing::warn!(seq = bad.seq, problem = %bad.problem, "audit chain verification failed");
    }
    Ok(Json(result))
}

/// `GET /v1/audit/checkpoints` answer: the checkpoint file's fields and the witnesses'
/// co-signatures.
#[derive(Debug, Serialize)]
pub struct CheckpointsAnswer {
    /// Checkpoints and public keys.
    #[serde(flatten)]
    pub set: CheckpointSet,
    /// Every witness co-signature, by `(seq, key_id, witness_key_id)`.
    pub witnesses: Vec<WitnessSignature>,
}

/// `GET /v1/audit/checkpoints`: every signed checkpoint, the public keys that verify them, and the
/// witnesses' co-signatures.
pub async fn checkpoints(
    State(state): State<AppState>,
    principal: Principal,
) -> Result<Json<CheckpointsAnswer>, ApiError> {
    principal.require_role(&[Role::Dpo])?;
    Ok(Json(CheckpointsAnswer {
        set: CheckpointSet {
            checkpoints: audit::all_checkpoints(state.store()).await?,
            public_keys: verification_keys(&state.signing_key(), &state.config().audit.signing_key),
        },
        witnesses: state.store().witness_signatures().await?,
    }))
}

/// Records per page when the caller does not say.
pub const DEFAULT_LIMIT: u32 = 100;
/// The largest page a caller may ask for.
pub const MAX_LIMIT: u32 = 1000;

/// `POST /v1/audit/query` body. The subject is a CPR number, so it travels in the body only.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueryBody {
    subject: Option<Cpr>,
    requester: Option<String>,
    department: Option<String>,
    decision: Option<AuditDecision>,
    from: Option<String>,
    to: Option<String>,
    limit: Option<u32>,
    cursor: Option<String>,
}

/// `POST /v1/audit/query` answer.
#[derive(Debug, Serialize)]
pub struct QueryAnswer {
    records: Vec<ChainedRecord>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_cursor: Option<String>,
}

/// A time bound of a query, or a 400 naming the field.
pub(crate) fn bound(
    text: Option<&str>,
    field: &str,
    upper: bool,
) -> Result<Option<Timestamp>, ApiError> {
    text.filter(|t| !t.trim().is_empty())
        .map(|t| {
            query::parse_bound(t, upper).ok_or_else(|| {
                ApiError::bad_field(
                    field,
                    format!("`{field}` must be an RFC 3339 instant or a date"),
                )
            })
        })
        .transpose()
}

/// A page size, or a 400 naming `limit`.
pub(crate) fn page_limit(limit: Option<u32>) -> Result<u32, ApiError> {
    match limit.unwrap_or(DEFAULT_LIMIT) {
        n @ 1..=MAX_LIMIT => Ok(n),
        _ => Err(ApiError::bad_field(
            "limit",
            format!("`limit` must be between 1 and {MAX_LIMIT}"),
        )),
    }
}

/// A cursor, or a 400 naming `cursor`.
pub(crate) fn page_cursor(cursor: Option<&str>) -> Result<Option<u64>, ApiError> {
    cursor
        .filter(|c| !c.is_empty())
        .map(|c| {
            query::decode_cursor(c).ok_or_else(|| {
                ApiError::bad_field("cursor", "`cursor` is not a cursor this gateway gave")
            })
        })
        .transpose()
}

/// `POST /v1/audit/query`: records matching every filter given, **newest first** (by `seq`
/// descending), a page at a time; `next_cursor` fetches the next older page.
pub async fn query(
    State(state): State<AppState>,
    principal: Principal,
    ApiJson(body): ApiJson<QueryBody>,
) -> Result<Json<QueryAnswer>, ApiError> {
    principal.require_role(&[Role::Dpo])?;
    let filter = AuditFilter {
        subject: body.subject.map(|cpr| cpr.pseudonym(state.pseudonym_key())),
        requester: body.requester,
        department: body.department,
        decision: body.decision,
        from: bound(body.from.as_deref(), "from", false)?,
        to: bound(body.to.as_deref(), "to", true)?,
    };
    let limit = page_limit(body.limit)?;
    let cursor = page_cursor(body.cursor.as_deref())?;
    let page = query::page(state.store(), &filter, cursor, limit).await?;
    Ok(Json(QueryAnswer {
        records: page.records,
        next_cursor: page.next_cursor,
    }))
}

/// `POST /v1/audit/subject-report` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubjectReportBody {
    subject: Cpr,
}

/// `POST /v1/audit/subject-report`: what a subject may learn under GDPR Art. 15 as read by CJEU
/// C-579/21 — dates, purposes, categories, bases and recipient departments, no employees.
pub async fn subject_report(
    State(state): State<AppState>,
    principal: Principal,
    ApiJson(body): ApiJson<SubjectReportBody>,
) -> Result<Json<SubjectReport>, ApiError> {
    principal.require_role(&[Role::Dpo])?;
    let pseudonym = body.subject.pseudonym(state.pseudonym_key());
    Ok(Json(
        report::subject_report(state.store(), pseudonym).await?,
    ))
}

/// `GET /v1/audit/stats` query.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatsParams {
    weeks: Option<u32>,
}

/// Weeks of statistics when the caller does not say.
pub const DEFAULT_WEEKS: u32 = 12;
/// The most weeks one statistics call covers (ten years).
pub const MAX_WEEKS: u32 = 520;

/// `GET /v1/audit/stats?weeks=N`: disclosures and refusals per recipient department, category,
/// basis and ISO week over the last N weeks (default 12).
pub async fn stats(
    State(state): State<AppState>,
    principal: Principal,
    params: Result<Query<StatsParams>, QueryRejection>,
) -> Result<Json<AuditStats>, ApiError> {
    principal.require_role(&[Role::Dpo])?;
    let Query(params) = params.map_err(|e| ApiError::bad_field("weeks", e.body_text()))?;
    let weeks = match params.weeks.unwrap_or(DEFAULT_WEEKS) {
        n @ 1..=MAX_WEEKS => n,
        _ => {
            return Err(ApiError::bad_field(
                "weeks",
                format!("`weeks` must be between 1 and {MAX_WEEKS}"),
            ));
        }
    };
    Ok(Json(
        report::stats(state.store(), state.clock().now(), weeks).await?,
    ))
}
