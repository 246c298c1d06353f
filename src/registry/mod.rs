//! Contact-person assignments: who has a need to know about which young person.
//!
//! A youth-unit caseworker assigns a contact person to a young person under 25; the assignment ends
//! with a reason (anchored in education or work, turned 25, moved) and can be re-established while
//! the young person is under 25. Only an active assignment gives a contact person a need to know.

use std::{fmt, str::FromStr};

use jiff::{Timestamp, civil::Date};
use serde::{Deserialize, Serialize};

use crate::{cpr::Pseudonym, store::StoreError};

/// The age from which youth-unit measures no longer apply (KUI-loven: young people under 25).
pub const YOUTH_UNIT_AGE_LIMIT: u32 = 25;

/// Whether an assignment is in force.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AssignmentStatus {
    /// In force: the contact person has a need to know.
    Active,
    /// Ended; kept for the record.
    Ended,
}

/// Why an assignment ended (API.md §5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EndReason {
    /// The young person is anchored in education.
    AnchoredEducation,
    /// The young person is anchored in employment.
    AnchoredEmployment,
    /// The young person turned 25. Named explicitly: `snake_case` alone would make it `turned25`.
    #[serde(rename = "turned_25")]
    Turned25,
    /// The young person moved to another municipality.
    Moved,
    /// Any other reason.
    Other,
}

impl EndReason {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            EndReason::AnchoredEducation => "anchored_education",
            EndReason::AnchoredEmployment => "anchored_employment",
            EndReason::Turned25 => "turned_25",
            EndReason::Moved => "moved",
            EndReason::Other => "other",
        }
    }
}

impl FromStr for EndReason {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        serde_json::from_value(serde_json::Value::String(s.to_owned()))
            .map_err(|_| format!("unknown end reason `{s}`"))
    }
}

impl fmt::Display for EndReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for AssignmentStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            AssignmentStatus::Active => "active",
            AssignmentStatus::Ended => "ended",
        })
    }
}

/// A recorded assignment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assignment {
    /// Opaque id.
    pub id: String,
    /// The young person, as a pseudonym.
    pub subject: Pseudonym,
    /// The contact person's `sub`.
    pub contact_person: String,
    /// The youth-unit department that made the assignment.
    pub department: String,
    /// The first day of the assignment.
    pub start: Date,
    /// Active or ended.
    pub status: AssignmentStatus,
    /// Why it ended.
    pub end_reason: Option<EndReason>,
    /// When it ended.
    pub ended_at: Option<Timestamp>,
    /// Who made it.
    pub created_by: String,
    /// When it was made.
    pub created_at: Timestamp,
}

/// Storage of assignments.
pub trait AssignmentStore {
    /// Records a new active assignment; [`StoreError::Conflict`] if the same contact person is
    /// already actively assigned to the subject.
    fn insert_assignment(
        &self,
        assignment: &Assignment,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Ends an active assignment; `None` if there is no such active assignment.
    fn end_assignment(
        &self,
        id: &str,
        reason: EndReason,
        at: Timestamp,
    ) -> impl Future<Output = Result<Option<Assignment>, StoreError>> + Send;

    /// One assignment by id.
    fn assignment(
        &self,
        id: &str,
    ) -> impl Future<Output = Result<Option<Assignment>, StoreError>> + Send;

    /// Every assignment of a subject, newest first.
    fn assignments_of(
        &self,
        subject: &Pseudonym,
    ) -> impl Future<Output = Result<Vec<Assignment>, StoreError>> + Send;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_end_reason_has_one_wire_name_in_json_and_in_the_database() {
        let all = [
            EndReason::AnchoredEducation,
            EndReason::AnchoredEmployment,
            EndReason::Turned25,
            EndReason::Moved,
            EndReason::Other,
        ];
        let names = [
            "anchored_education",
            "anchored_employment",
            "turned_25",
            "moved",
            "other",
        ];
        for (reason, name) in all.into_iter().zip(names) {
            assert_eq!(reason.as_str(), name);
            assert_eq!(
                serde_json::to_value(reason).ok(),
                Some(serde_json::Value::from(name))
            );
            assert_eq!(name.parse::<EndReason>(), Ok(reason));
        }
    }
}
