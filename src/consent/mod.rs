//! The consent registry: who consented to which disclosures about a young person, for how long, on
//! what evidence — and when it was withdrawn. Consents are never deleted; withdrawal is an event.
//!
//! Recording checks the givers against the subject's age on the day of recording (a subject under
//! the policy's minimum age cannot consent; a custody holder cannot consent for an adult). Whether the
//! givers *suffice* is judged at every decision on that day's age (see `policy::decide`).

mod receipt;

use jiff::{Timestamp, civil::Date};
use serde::{Deserialize, Serialize};

pub use receipt::Receipt;

use crate::{cpr::Pseudonym, policy::GiverRole, store::StoreError};

/// One person who gave the consent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Giver {
    /// The young person or a custody holder.
    pub role: GiverRole,
    /// The giver's pseudonym, when the giver's CPR number was recorded (custody holders).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub pseudonym: Option<Pseudonym>,
}

/// What a consent covers: all of the categories, to all of the recipients, for all of the purposes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Scope {
    /// Data category ids.
    pub categories: Vec<String>,
    /// Recipient department ids.
    pub recipients: Vec<String>,
    /// Purpose ids.
    pub purposes: Vec<String>,
    /// Explicit consent to the special-category fields of the categories (GDPR Art. 9(2)(a)).
    pub special_categories: bool,
}

/// A withdrawal: it takes effect for every decision made after it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Withdrawal {
    /// When it was withdrawn.
    pub at: Timestamp,
    /// Who recorded the withdrawal (`sub`).
    pub by: String,
    /// Why, if said.
    pub reason: Option<String>,
}

/// The state of a consent on a given day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ConsentStatus {
    /// Not withdrawn and not past `valid_until` (it may not have started yet).
    Active,
    /// Past `valid_until`.
    Expired,
    /// Withdrawn.
    Withdrawn,
}

/// A recorded consent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Consent {
    /// Opaque id.
    pub id: String,
    /// The young person, as a pseudonym.
    pub subject: Pseudonym,
    /// Everyone who consented.
    pub givers: Vec<Giver>,
    /// What it covers.
    pub scope: Scope,
    /// First day it covers.
    pub valid_from: Date,
    /// Last day it covers.
    pub valid_until: Date,
    /// A journal or document reference proving the consent.
    pub evidence: String,
    /// The policy bundle version in force when it was recorded.
    pub policy_version: String,
    /// Who recorded it (`sub`).
    pub recorded_by: String,
    /// The recorder's department.
    pub recorded_by_dept: String,
    /// When it was recorded.
    pub recorded_at: Timestamp,
    /// The withdrawal, if any.
    pub withdrawal: Option<Withdrawal>,
}

impl Consent {
    /// Its status on `today`.
    pub fn status(&self, today: Date) -> ConsentStatus {
        if self.withdrawal.is_some() {
            ConsentStatus::Withdrawn
        } else if today > self.valid_until {
            ConsentStatus::Expired
        } else {
            ConsentStatus::Active
        }
    }

    /// The givers' roles.
    pub fn giver_roles(&self) -> Vec<GiverRole> {
        self.givers.iter().map(|g| g.role).collect()
    }
}

/// Storage of consents and their events.
pub trait ConsentStore {
    /// Records a consent and its `recorded` event in one transaction.
    fn insert_consent(
        &self,
        consent: &Consent,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Withdraws a consent and records the `withdrawn` event in one transaction. Returns the consent
    /// as it is afterwards; a consent already withdrawn keeps its first withdrawal.
    fn withdraw_consent(
        &self,
        id: &str,
        withdrawal: &Withdrawal,
    ) -> impl Future<Output = Result<Option<Consent>, StoreError>> + Send;

    /// One consent by id.
    fn consent(&self, id: &str)
    -> impl Future<Output = Result<Option<Consent>, StoreError>> + Send;

    /// Every consent about a subject (active, expired and withdrawn), oldest first.
    fn consents_of(
        &self,
        subject: &Pseudonym,
    ) -> impl Future<Output = Result<Vec<Consent>, StoreError>> + Send;
}
