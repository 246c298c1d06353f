//! `/v1/consents`: record, withdraw and query consents (youth unit, and social services' caseworkers).

use axum::{
    Json,
    body::Bytes,
    extract::{Path, State},
    http::{HeaderMap, StatusCode},
};
use jiff::{Timestamp, civil::Date};
use serde::{Deserialize, Serialize};

use super::{Access, ApiError, ApiJson, json};
use crate::{
    app::AppState,
    auth::{Principal, Role},
    consent::{Consent, ConsentStatus, ConsentStore, Giver, Receipt, Scope, Withdrawal},
    cpr::{Cpr, Pseudonym},
    policy::GiverRole,
};

/// Who may record, withdraw and query consents: the youth unit's caseworkers and contact persons,
/// and social services' caseworkers.
fn require_consent_access(state: &AppState, principal: &Principal) -> Result<(), ApiError> {
    let youth_unit = principal.require(
        state,
        &[Role::Caseworker, Role::ContactPerson],
        &["youth_unit"],
    );
    let social = principal.require(state, &[Role::Caseworker], &["social_services"]);
    youth_unit.or(social)
}

/// One giver in a request.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GiverInput {
    role: GiverRole,
    cpr: Option<Cpr>,
}

/// The scope in a request.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScopeInput {
    categories: Vec<String>,
    recipients: Vec<String>,
    purposes: Vec<String>,
    #[serde(default)]
    special_categories: bool,
}

/// `POST /v1/consents` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordConsent {
    subject: Cpr,
    given_by: Vec<GiverInput>,
    scope: ScopeInput,
    valid_from: Option<Date>,
    valid_until: Date,
    evidence: String,
}

/// `POST /v1/consents/{id}/withdraw` body (may be empty).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WithdrawConsent {
    reason: Option<String>,
}

/// `POST /v1/consents/query` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueryConsents {
    subject: Cpr,
}

/// A consent as the API shows it.
#[derive(Debug, Serialize)]
pub struct ConsentView {
    id: String,
    status: ConsentStatus,
    subject_pseudonym: Pseudonym,
    given_by: Vec<GiverRole>,
    scope: Scope,
    valid_from: Date,
    valid_until: Date,
    evidence: String,
    recorded_at: Timestamp,
    recorded_by_department: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    withdrawn_at: Option<Timestamp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    withdraw_reason: Option<String>,
    receipt: Receipt,
}

impl ConsentView {
    fn new(consent: &Consent, today: Date) -> Self {
        ConsentView {
            id: consent.id.clone(),
            status: consent.status(today),
            subject_pseudonym: consent.subject.clone(),
            given_by: consent.giver_roles(),
            scope: consent.scope.clone(),
            valid_from: consent.valid_from,
            valid_until: consent.valid_until,
            evidence: consent.evidence.clone(),
            recorded_at: consent.recorded_at,
            recorded_by_department: consent.recorded_by_dept.clone(),
            withdrawn_at: consent.withdrawal.as_ref().map(|w| w.at),
            withdraw_reason: consent.withdrawal.as_ref().and_then(|w| w.reason.clone()),
            receipt: Receipt::of(consent),
        }
    }
}

/// The answer to a withdrawal.
#[derive(Debug, Serialize)]
pub struct Withdrawn {
    id: String,
    status: ConsentStatus,
    withdrawn_at: Timestamp,
}

/// The consents of a subject.
#[derive(Debug, Serialize)]
pub struct ConsentList {
    consents: Vec<ConsentView>,
}

/// Records a consent and returns it with its receipt.
pub async fn record(
    State(state): State<AppState>,
    principal: Principal,
    ApiJson(body): ApiJson<RecordConsent>,
) -> Result<(StatusCode, Json<ConsentView>), ApiError> {
    require_consent_access(&state, &principal)?;
    let bundle = state.bundle();
    let today = state.clock().today();
    check_ids(&state, &body.scope)?;
    if body.given_by.is_empty() {
        return Err(ApiError::unprocessable(
            "consent_giver_invalid",
            "given_by",
            "at least one giver is required",
        ));
    }
    let age = body.subject.age_on(today);
    let may_give = bundle
        .consent_rules()
        .band(age)
        .map(|b| b.may_give.clone())
        .unwrap_or_default();
    for (i, giver) in body.given_by.iter().enumerate() {
        if !may_give.contains(&giver.role) {
            return Err(ApiError::unprocessable(
                "consent_giver_invalid",
                format!("given_by[{i}].role"),
                format!(
                    "a `{}` may not consent for a subject aged {age} under the policy's consent rules",
                    giver.role
                ),
            ));
        }
        if giver.role == GiverRole::Subject
            && giver.cpr.as_ref().is_some_and(|c| *c != body.subject)
        {
            return Err(ApiError::unprocessable(
                "consent_giver_invalid",
                format!("given_by[{i}].cpr"),
                "a giver with role `subject` must be the subject",
            ));
        }
    }
    let valid_from = body.valid_from.unwrap_or(today);
    if body.valid_until < valid_from {
        return Err(ApiError::unprocessable(
            "invalid_validity",
            "valid_until",
            "`valid_until` is before `valid_from`",
        ));
    }
    let evidence = body.evidence.trim();
    if evidence.is_empty() || evidence.len() > 1000 {
        return Err(ApiError::unprocessable(
            "invalid_evidence",
            "evidence",
            "`evidence` must name the journal entry or document proving the consent (1 to 1000 characters)",
        ));
    }
    let key = state.pseudonym_key();
    let consent = Consent {
        id: uuid::Uuid::now_v7().to_string(),
        subject: body.subject.pseudonym(key),
        givers: body
            .given_by
            .iter()
            .map(|g| Giver {
                role: g.role,
                pseudonym: g.cpr.as_ref().map(|c| c.pseudonym(key)),
            })
            .collect(),
        scope: Scope {
            categories: dedup(body.scope.categories),
            recipients: dedup(body.scope.recipients),
            purposes: dedup(body.scope.purposes),
            special_categories: body.scope.special_categories,
        },
        valid_from,
        valid_until: body.valid_until,
        evidence: evidence.to_owned(),
        policy_version: bundle.version().to_owned(),
        recorded_by: principal.sub.clone(),
        recorded_by_dept: principal.dept.clone(),
        recorded_at: crate::store::stored_instant(state.clock().now()),
        withdrawal: None,
    };
    state.store().insert_consent(&consent).await?;
    Ok((StatusCode::CREATED, Json(ConsentView::new(&consent, today))))
}

/// Withdraws a consent; in force for every decision after this returns.
pub async fn withdraw(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Withdrawn>, ApiError> {
    require_consent_access(&state, &principal)?;
    // The body is optional: an empty one means no reason given.
    let body: WithdrawConsent = if body.is_empty() {
        WithdrawConsent::default()
    } else {
        json::require_json(&headers)?;
        json::parse(&body)?
    };
    let reason = body
        .reason
        .map(|r| r.trim().to_owned())
        .filter(|r| !r.is_empty());
    if reason.as_ref().is_some_and(|r| r.len() > 1000) {
        return Err(ApiError::unprocessable(
            "invalid_reason",
            "reason",
            "`reason` is longer than 1000 characters",
        ));
    }
    let withdrawal = Withdrawal {
        at: crate::store::stored_instant(state.clock().now()),
        by: principal.sub.clone(),
        reason,
    };
    let consent = state
        .store()
        .withdraw_consent(&id, &withdrawal)
        .await?
        .ok_or_else(|| ApiError::NotFound("no such consent".to_owned()))?;
    let withdrawn_at = consent.withdrawal.as_ref().map_or(withdrawal.at, |w| w.at);
    // The withdrawal is in force now; then every department that received data on the consent
    // is told. Retrying after a failure here completes the notifications.
    crate::notices::withdrawal::notify_past_recipients(&state, &principal, &consent).await?;
    Ok(Json(Withdrawn {
        id: consent.id,
        status: ConsentStatus::Withdrawn,
        withdrawn_at,
    }))
}

/// Every consent about a subject: active, expired and withdrawn.
pub async fn query(
    State(state): State<AppState>,
    principal: Principal,
    ApiJson(body): ApiJson<QueryConsents>,
) -> Result<Json<ConsentList>, ApiError> {
    require_consent_access(&state, &principal)?;
    let today = state.clock().today();
    let consents = state
        .store()
        .consents_of(&body.subject.pseudonym(state.pseudonym_key()))
        .await?;
    Ok(Json(ConsentList {
        consents: consents
            .iter()
            .map(|c| ConsentView::new(c, today))
            .collect(),
    }))
}

/// Whether an id is known to the bundle.
type IdCheck<'a> = dyn Fn(&str) -> bool + 'a;

/// Every id in the scope must be known to the policy bundle.
fn check_ids(state: &AppState, scope: &ScopeInput) -> Result<(), ApiError> {
    let bundle = state.bundle();
    let lists: [(&str, &Vec<String>, &IdCheck); 3] = [
        ("categories", &scope.categories, &|id| {
            bundle.category(id).is_some()
        }),
        ("recipients", &scope.recipients, &|id| {
            bundle.department(id).is_some()
        }),
        ("purposes", &scope.purposes, &|id| {
            bundle.purpose(id).is_some()
        }),
    ];
    for (name, ids, known) in lists {
        if ids.is_empty() {
            return Err(ApiError::unprocessable(
                "invalid_scope",
                format!("scope.{name}"),
                format!("`scope.{name}` must list at least one id"),
            ));
        }
        if let Some((i, id)) = ids.iter().enumerate().find(|(_, id)| !known(id)) {
            return Err(ApiError::unprocessable(
                "unknown_id",
                format!("scope.{name}[{i}]"),
                format!(
                    "unknown {} `{id}`",
                    name.trim_end_matches('s').replace("categorie", "category")
                ),
            ));
        }
    }
    Ok(())
}

fn dedup(mut ids: Vec<String>) -> Vec<String> {
    ids.sort();
    ids.dedup();
    ids
}
