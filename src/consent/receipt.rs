//! The consent receipt (after the Kantara Initiative's Consent Receipt specification): what the young
//! person or custody holder can be handed as proof of what they agreed to.

use jiff::{Timestamp, civil::Date};
use serde::Serialize;

use super::{Consent, Scope};
use crate::{cpr::Pseudonym, policy::GiverRole};

/// The receipt's format version.
pub const RECEIPT_VERSION: &str = "sluse-consent-receipt/1";

/// A consent receipt.
#[derive(Debug, Clone, Serialize)]
pub struct Receipt {
    /// The receipt format.
    pub version: &'static str,
    /// The receipt id (the consent's id: one receipt per consent).
    pub receipt_id: String,
    /// The legal system the consent is given under.
    pub jurisdiction: &'static str,
    /// The subject's pseudonym (the receipt is itself safe to store and forward).
    pub subject_pseudonym: Pseudonym,
    /// The roles of those who consented.
    pub given_by: Vec<GiverRole>,
    /// What was consented to.
    pub scope: Scope,
    /// Whether the consent is explicit consent to special categories (GDPR Art. 9(2)(a)).
    pub sensitive: bool,
    /// First day covered.
    pub valid_from: Date,
    /// Last day covered.
    pub valid_until: Date,
    /// The evidence reference.
    pub evidence: String,
    /// The department that recorded it (the controller's unit).
    pub recorded_by_department: String,
    /// When it was recorded.
    pub consent_timestamp: Timestamp,
    /// The policy bundle version in force.
    pub policy_version: String,
    /// How it can be withdrawn.
    pub withdrawal: &'static str,
}

impl Receipt {
    /// The receipt of a consent.
    pub fn of(consent: &Consent) -> Receipt {
        Receipt {
            version: RECEIPT_VERSION,
            receipt_id: consent.id.clone(),
            jurisdiction: "DK",
            subject_pseudonym: consent.subject.clone(),
            given_by: consent.giver_roles(),
            sensitive: consent.scope.special_categories,
            scope: consent.scope.clone(),
            valid_from: consent.valid_from,
            valid_until: consent.valid_until,
            evidence: consent.evidence.clone(),
            recorded_by_department: consent.recorded_by_dept.clone(),
            consent_timestamp: consent.recorded_at,
            policy_version: consent.policy_version.clone(),
            withdrawal: "at any time, without effect on disclosures made before, by asking the municipality; \
                         POST /v1/consents/{id}/withdraw",
        }
    }
}
