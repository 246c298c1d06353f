//! `/v1/assignments`: a youth-unit caseworker assigns a contact person to a young person, ends the
//! assignment with a reason, and the unit queries who is assigned.

use axum::{
    Json,
    extract::{Path, State},
    http::StatusCode,
};
use jiff::civil::Date;
use serde::{Deserialize, Serialize};

use super::{Access, ApiError, ApiJson, subject::SubjectView};
use crate::{
    app::AppState,
    auth::{Principal, Role},
    cpr::Cpr,
    registry::{Assignment, AssignmentStatus, AssignmentStore, EndReason, YOUTH_UNIT_AGE_LIMIT},
};

const YOUTH_UNIT: &[&str] = &["youth_unit"];

/// `POST /v1/assignments` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateAssignment {
    subject: Cpr,
    contact_person: String,
    start: Option<Date>,
}

/// `POST /v1/assignments/{id}/end` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EndAssignment {
    reason: EndReason,
}

/// `POST /v1/assignments/query` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueryAssignments {
    subject: Cpr,
}

/// An assignment as the API shows it.
#[derive(Debug, Serialize)]
pub struct AssignmentView {
    id: String,
    subject: SubjectView,
    contact_person: String,
    department: String,
    start: Date,
    status: AssignmentStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    end_reason: Option<EndReason>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ended_at: Option<jiff::Timestamp>,
    created_at: jiff::Timestamp,
}

impl AssignmentView {
    fn new(a: Assignment, subject: SubjectView) -> Self {
        AssignmentView {
            id: a.id,
            subject,
            contact_person: a.contact_person,
            department: a.department,
            start: a.start,
            status: a.status,
            end_reason: a.end_reason,
            ended_at: a.ended_at,
            created_at: a.created_at,
        }
    }
}

/// The assignments of a subject.
#[derive(Debug, Serialize)]
pub struct AssignmentList {
    assignments: Vec<AssignmentView>,
}

/// Creates (or re-establishes) an assignment.
pub async fn create(
    State(state): State<AppState>,
    principal: Principal,
    ApiJson(body): ApiJson<CreateAssignment>,
) -> Result<(StatusCode, Json<AssignmentView>), ApiError> {
    principal.require(&state, &[Role::Caseworker], YOUTH_UNIT)?;
    let contact_person = body.contact_person.trim();
    if contact_person.is_empty() || contact_person.len() > 256 {
        return Err(ApiError::unprocessable(
            "invalid_contact_person",
            "contact_person",
            "`contact_person` must be the contact person's `sub`, 1 to 256 characters",
        ));
    }
    // As stored, so that this answer and a later query agree to the microsecond.
    let now = crate::store::stored_instant(state.clock().now());
    let today = state.clock().today();
    let age = body.subject.age_on(today);
    if age >= YOUTH_UNIT_AGE_LIMIT {
        return Err(ApiError::unprocessable(
            "subject_out_of_scope",
            "subject",
            format!(
                "the youth unit's contact-person scheme ends at {YOUTH_UNIT_AGE_LIMIT}; the subject is {age}"
            ),
        ));
    }
    let assignment = Assignment {
        id: uuid::Uuid::now_v7().to_string(),
        subject: body.subject.pseudonym(state.pseudonym_key()),
        contact_person: contact_person.to_owned(),
        department: principal.dept.clone(),
        start: body.start.unwrap_or(today),
        status: AssignmentStatus::Active,
        end_reason: None,
        ended_at: None,
        created_by: principal.sub.clone(),
        created_at: now,
    };
    state
        .store()
        .insert_assignment(&assignment)
        .await
        .map_err(|e| match e {
            crate::store::StoreError::Conflict(_) => ApiError::Conflict(
                "this contact person is already actively assigned to the subject".to_owned(),
            ),
            other => other.into(),
        })?;
    let view = AssignmentView::new(assignment, SubjectView::from(&body.subject));
    Ok((StatusCode::CREATED, Json(view)))
}

/// Ends an active assignment with a reason.
pub async fn end(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<EndAssignment>,
) -> Result<Json<AssignmentView>, ApiError> {
    principal.require(&state, &[Role::Caseworker], YOUTH_UNIT)?;
    let existing = state
        .store()
        .assignment(&id)
        .await?
        .filter(|a| a.department == principal.dept)
        .ok_or_else(|| ApiError::NotFound("no such assignment in your department".to_owned()))?;
    if existing.status == AssignmentStatus::Ended {
        return Err(ApiError::Conflict(
            "the assignment has already ended".to_owned(),
        ));
    }
    let ended = state
        .store()
        .end_assignment(
            &id,
            body.reason,
            crate::store::stored_instant(state.clock().now()),
        )
        .await?
        .ok_or_else(|| ApiError::Conflict("the assignment has already ended".to_owned()))?;
    Ok(Json(AssignmentView::new(ended, SubjectView::Pseudonymous)))
}

/// Lists a subject's assignments in the caller's department.
pub async fn query(
    State(state): State<AppState>,
    principal: Principal,
    ApiJson(body): ApiJson<QueryAssignments>,
) -> Result<Json<AssignmentList>, ApiError> {
    principal.require(&state, &[Role::Caseworker, Role::ContactPerson], YOUTH_UNIT)?;
    let pseudonym = body.subject.pseudonym(state.pseudonym_key());
    let assignments = state
        .store()
        .assignments_of(&pseudonym)
        .await?
        .into_iter()
        .filter(|a| a.department == principal.dept)
        .map(|a| AssignmentView::new(a, SubjectView::from(&body.subject)))
        .collect();
    Ok(Json(AssignmentList { assignments }))
}
