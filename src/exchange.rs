//! The use case of a pull request: authenticate → validate → gather facts → decide → (deny: audit,
//! 403) → fetch from the source → redact → audit → respond.
//!
//! INVARIANT: nothing from a source leaves the gateway unless its audit record — with the fields
//! actually disclosed and a digest of the payload — is committed first. The source is asked only
//! after a permit, so a refusal never reveals whether a record exists.

use axum::{Json, extract::State, http::StatusCode};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::{
    api::{ApiError, ApiJson, Problem},
    app::AppState,
    audit::{AuditDecision, AuditReason, AuditRecord, Outcome, Requester, payload_digest},
    auth::Principal,
    cpr::Cpr,
    facts,
    policy::{self, Basis, Decision, Mode},
    redact,
    sources::{SourceError, SourceQuery},
};

/// `POST /v1/requests` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PullRequest {
    subject: Cpr,
    category: String,
    purpose: String,
    source: String,
}

/// A permitted disclosure.
#[derive(Debug, Serialize)]
pub struct Disclosure {
    disclosure_id: String,
    decision: &'static str,
    basis: Basis,
    category: String,
    data: Value,
    redacted: Vec<String>,
}

/// Checks that the category, purpose and source named in a request exist in the bundle.
pub fn check_known(
    state: &AppState,
    category: &str,
    purpose: &str,
    source: Option<&str>,
) -> Result<(), ApiError> {
    let bundle = state.bundle();
    if bundle.category(category).is_none() {
        return Err(ApiError::unprocessable(
            "unknown_id",
            "category",
            format!("unknown category `{category}`"),
        ));
    }
    if bundle.purpose(purpose).is_none() {
        return Err(ApiError::unprocessable(
            "unknown_id",
            "purpose",
            format!("unknown purpose `{purpose}`"),
        ));
    }
    if let Some(source) = source
        && bundle.department(source).is_none()
    {
        return Err(ApiError::unprocessable(
            "unknown_id",
            "source",
            format!("unknown department `{source}`"),
        ));
    }
    Ok(())
}

/// Handles `POST /v1/requests`.
pub async fn request(
    State(state): State<AppState>,
    principal: Principal,
    ApiJson(body): ApiJson<PullRequest>,
) -> Result<Json<Disclosure>, ApiError> {
    check_known(&state, &body.category, &body.purpose, Some(&body.source))?;
    let today = state.clock().today();
    let facts = facts::gather(state.store(), state.pseudonym_key(), &body.subject, today).await?;
    let request = policy::Request {
        requester: principal.clone(),
        category: body.category.clone(),
        purpose: body.purpose.clone(),
        source: body.source.clone(),
        recipient: principal.dept.clone(),
        mode: Mode::Pull,
        payload: None,
    };
    let decision = policy::decide(&state.bundle(), &request, &facts, today);
    let mut record = base_record(&state, &principal, &body, &decision);

    let (basis, plan) = match decision {
        Decision::Deny { reasons, .. } => {
            record.reasons = reasons.iter().map(AuditReason::from).collect();
            let id = append(&state, record).await?;
            return Err(denied(&id, &reasons));
        }
        Decision::Permit { basis, plan, .. } => (basis, plan),
    };

    let query = SourceQuery {
        subject: &subject_text(&body.subject),
        category: &body.category,
        purpose: &body.purpose,
    };
    let fetched = state.sources().fetch(&body.source, &query).await;
    let source_record = match fetched {
        Ok(value) => value,
        Err(error) => {
            let (outcome, status) = match &error {
                SourceError::NotFound => (Outcome::NotFound, StatusCode::NOT_FOUND),
                SourceError::Timeout(_) => {
                    (Outcome::SourceUnavailable, StatusCode::GATEWAY_TIMEOUT)
                }
                _ => (Outcome::SourceUnavailable, StatusCode::BAD_GATEWAY),
            };
            record.outcome = outcome;
            if outcome == Outcome::SourceUnavailable {
                record.reasons = vec![AuditReason {
                    code: "source_unavailable".to_owned(),
                    message: error.to_string(),
                }];
            }
            let id = append(&state, record).await?;
            return Err(source_failed(&id, status, &error));
        }
    };

    let redacted = redact::apply(&plan, &source_record);
    let body_bytes = serde_json::to_vec(&redacted.data)
        .map_err(|_| ApiError::Unavailable("the disclosure could not be encoded".to_owned()))?;
    record.outcome = Outcome::Disclosed;
    record.fields_disclosed = redacted.disclosed.clone();
    record.fields_redacted = redacted.withheld.clone();
    record.payload_digest = Some(payload_digest(&body_bytes));
    // Durable before anything is released.
    let id = append(&state, record).await?;
    Ok(Json(Disclosure {
        disclosure_id: id,
        decision: "permit",
        basis,
        category: body.category,
        data: redacted.data,
        // The plan's withheld fields, not the record's: listing what the record held would tell
        // the caller that, say, a diagnosis exists. The audit record keeps the exact list.
        redacted: withheld_paths(&plan),
    }))
}

/// The record of a pull decision before its outcome is known.
fn base_record(
    state: &AppState,
    principal: &Principal,
    body: &PullRequest,
    decision: &Decision,
) -> AuditRecord {
    AuditRecord {
        disclosure_id: uuid::Uuid::now_v7(),
        at: state.clock().now(),
        requester: Requester::from(principal),
        subject_pseudonym: Some(body.subject.pseudonym(state.pseudonym_key())),
        category: body.category.clone(),
        purpose: body.purpose.clone(),
        source: Some(body.source.clone()),
        recipient: Some(principal.dept.clone()),
        decision: if decision.is_permit() {
            AuditDecision::Permit
        } else {
            AuditDecision::Deny
        },
        outcome: if decision.is_permit() {
            Outcome::Disclosed
        } else {
            Outcome::Denied
        },
        basis: decision.basis().cloned(),
        reasons: Vec::new(),
        fields_disclosed: Vec::new(),
        fields_redacted: Vec::new(),
        payload_digest: None,
        policy_version: decision.policy_version().to_owned(),
    }
}

/// Appends one record and waits until it is durable; an outage releases nothing (503).
pub async fn append(state: &AppState, record: AuditRecord) -> Result<String, ApiError> {
    let id = record.disclosure_id.to_string();
    state
        .audit()
        .append(record)
        .await
        .map_err(|e| ApiError::Unavailable(format!("{e}; nothing was released")))?;
    Ok(id)
}

/// The 403 problem of a denial: every reason, and the id of its audit record.
pub fn denied(disclosure_id: &str, reasons: &[policy::Reason]) -> ApiError {
    let reasons: Vec<Value> = reasons
        .iter()
        .map(|r| serde_json::json!({"code": r.code.as_str(), "message": r.message}))
        .collect();
    let detail = format!(
        "the request was refused: {}",
        reasons
            .iter()
            .filter_map(|r| r["code"].as_str())
            .collect::<Vec<_>>()
            .join(", ")
    );
    ApiError::Problem(Box::new(
        Problem::new(StatusCode::FORBIDDEN, "denied", detail)
            .with("decision", "deny")
            .with("disclosure_id", disclosure_id)
            .with("reasons", reasons),
    ))
}

fn source_failed(disclosure_id: &str, status: StatusCode, error: &SourceError) -> ApiError {
    let code = if status == StatusCode::NOT_FOUND {
        "not_found"
    } else {
        "source_unavailable"
    };
    let mut problem = Problem::new(status, code, error.to_string())
        .with("decision", "permit")
        .with("disclosure_id", disclosure_id);
    if code == "source_unavailable" {
        problem = problem.with(
            "reasons",
            serde_json::json!([{"code": "source_unavailable", "message": error.to_string()}]),
        );
    }
    ApiError::Problem(Box::new(problem))
}

/// The declared fields of the category that the plan withholds.
pub fn withheld_paths(plan: &policy::RedactionPlan) -> Vec<String> {
    plan.withheld()
        .iter()
        .map(|p| p.as_str().to_owned())
        .collect()
}

/// The CPR number as the source protocol carries it (`DDMMYY-SSSS`).
pub fn subject_text(cpr: &Cpr) -> String {
    let digits = cpr.expose_digits();
    format!("{}-{}", &digits[..6], &digits[6..])
}
