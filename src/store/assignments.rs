//! `AssignmentStore` for the backend-neutral [`Store`], and the row conversions both backends share.

use jiff::{Timestamp, civil::Date};

use super::{Store, StoreError};
use crate::{
    cpr::Pseudonym,
    registry::{Assignment, AssignmentStatus, AssignmentStore, EndReason},
};

/// An assignment row with every column as text, as both backends return it.
#[derive(Debug, sqlx::FromRow, serde::Deserialize)]
pub(super) struct AssignmentRow {
    pub id: String,
    pub subject_pseudonym: String,
    pub contact_person: String,
    pub department: String,
    pub start_date: String,
    pub status: String,
    pub end_reason: Option<String>,
    pub ended_at: Option<String>,
    pub created_by: String,
    pub created_at: String,
}

impl TryFrom<AssignmentRow> for Assignment {
    type Error = StoreError;

    fn try_from(row: AssignmentRow) -> Result<Self, Self::Error> {
        let corrupt = |what: &str| StoreError::Corrupt(format!("assignment {}: {what}", row.id));
        let status = match row.status.as_str() {
            "active" => AssignmentStatus::Active,
            "ended" => AssignmentStatus::Ended,
            _ => return Err(corrupt("status")),
        };
        let end_reason = row
            .end_reason
            .as_deref()
            .map(|r| r.parse::<EndReason>().map_err(|_| corrupt("end_reason")))
            .transpose()?;
        let ended_at = row
            .ended_at
            .as_deref()
            .map(|t| parse_instant(t).ok_or_else(|| corrupt("ended_at")))
            .transpose()?;
        Ok(Assignment {
            start: row
                .start_date
                .parse::<Date>()
                .map_err(|_| corrupt("start_date"))?,
            created_at: parse_instant(&row.created_at).ok_or_else(|| corrupt("created_at"))?,
            id: row.id,
            subject: Pseudonym::from_stored(row.subject_pseudonym),
            contact_person: row.contact_person,
            department: row.department,
            status,
            end_reason,
            ended_at,
            created_by: row.created_by,
        })
    }
}

/// Reads an instant as either backend writes it (RFC 3339 text, or PostgreSQL's text output).
pub(super) fn parse_instant(text: &str) -> Option<Timestamp> {
    text.parse::<Timestamp>().ok()
}

impl AssignmentStore for Store {
    async fn insert_assignment(&self, assignment: &Assignment) -> Result<(), StoreError> {
        match self {
            Store::Sqlite(s) => s.insert_assignment(assignment).await,
            Store::Postgres(s) => s.insert_assignment(assignment).await,
        }
    }

    async fn end_assignment(
        &self,
        id: &str,
        reason: EndReason,
        at: Timestamp,
    ) -> Result<Option<Assignment>, StoreError> {
        match self {
            Store::Sqlite(s) => s.end_assignment(id, reason, at).await,
            Store::Postgres(s) => s.end_assignment(id, reason, at).await,
        }
    }

    async fn assignment(&self, id: &str) -> Result<Option<Assignment>, StoreError> {
        match self {
            Store::Sqlite(s) => s.assignment(id).await,
            Store::Postgres(s) => s.assignment(id).await,
        }
    }

    async fn assignments_of(&self, subject: &Pseudonym) -> Result<Vec<Assignment>, StoreError> {
        match self {
            Store::Sqlite(s) => s.assignments_of(subject).await,
            Store::Postgres(s) => s.assignments_of(subject).await,
        }
    }
}
