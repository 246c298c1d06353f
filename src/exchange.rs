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
    audit::{
        Appended, AuditDecision, AuditReason, AuditRecord, Entry, FactsStamp, Outcome, Requester,
        payload_digest,
    },
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

/// How many times one request is decided before it gives up on facts that keep changing under it.
pub const ATTEMPTS: usize = 3;

/// Handles `POST /v1/requests`.
pub async fn request(
    State(state): State<AppState>,
    principal: Principal,
    ApiJson(body): ApiJson<PullRequest>,
) -> Result<Json<Disclosure>, ApiError> {
    check_known(&state, &body.category, &body.purpose, Some(&body.source))?;
    for _ in 0..ATTEMPTS {
        if let Some(disclosure) = attempt(&state, &principal, &body).await? {
            return Ok(Json(disclosure));
        }
    }
    Err(changing_facts())
}

/// One decision of a request, carried through. `None`: a registry write changed the facts after
/// the decision and before its record was durable; nothing was released, and it is decided again.
async fn attempt(
    state: &AppState,
    principal: &Principal,
    body: &PullRequest,
) -> Result<Option<Disclosure>, ApiError> {
    let today = state.clock().today();
    let gathered =
        facts::gather(state.store(), state.pseudonym_key(), &body.subject, today).await?;
    let request = policy::Request {
        requester: principal.clone(),
        category: body.category.clone(),
        purpose: body.purpose.clone(),
        source: body.source.clone(),
        recipient: principal.dept.clone(),
        mode: Mode::Pull,
        payload: None,
    };
    let decision = policy::decide(&state.bundle(), &request, &gathered.facts, today);
    let mut record = base_record(state, principal, body, &decision);

    let (basis, plan) = match decision {
        Decision::Deny { reasons, .. } => {
            record.reasons = reasons.iter().map(AuditReason::from).collect();
            let Some(id) = append_decided(state, record, &gathered.stamp).await? else {
                return Ok(None);
            };
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
            let Some(id) = append_decided(state, record, &gathered.stamp).await? else {
                return Ok(None);
            };
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
    let Some(id) = append_decided(state, record, &gathered.stamp).await? else {
        return Ok(None);
    };
    Ok(Some(Disclosure {
        disclosure_id: id,
        decision: "permit",
        basis,
        category: body.category.clone(),
        data: redacted.data,
        // The plan's withheld fields, not the record's: listing what the record held would tell
        // the caller that, say, a diagnosis exists. The audit record keeps the exact list.
        redacted: withheld_paths(&plan),
    }))
}

/// The 503 of a request decided [`ATTEMPTS`] times, each time overtaken by a registry write.
pub fn changing_facts() -> ApiError {
    ApiError::Unavailable(
        "the subject's consents or assignments changed while the request was decided, \
         each time it was tried; nothing was released"
            .to_owned(),
    )
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

/// Appends the record of a decision made on the facts `stamp` names and waits until it is
/// durable; `None` when the facts changed first (nothing written). An outage releases nothing
/// (503).
async fn append_decided(
    state: &AppState,
    record: AuditRecord,
    stamp: &FactsStamp,
) -> Result<Option<String>, ApiError> {
    let id = record.disclosure_id.to_string();
    let entry = Entry {
        facts: Some(stamp.clone()),
        ..Entry::records(vec![record])
    };
    match append_entry(state, entry).await? {
        Appended::Chained(_) => Ok(Some(id)),
        Appended::Stale => {
            crate::ops::metrics::inc("sluse_stale_decisions_total", &[("path", "requests")]);
            Ok(None)
        }
        Appended::KeyTaken => Err(ApiError::Unavailable(
            "the appender skipped a record; nothing was released".to_owned(),
        )),
    }
}

/// Appends an entry and waits until it is durable or skipped; an outage releases nothing (503).
pub async fn append_entry(state: &AppState, entry: Entry) -> Result<Appended, ApiError> {
    state
        .audit()
        .append_entry(entry)
        .await
        .map_err(|e| ApiError::Unavailable(format!("{e}; nothing was released")))
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
