//! The DPO's review of statutory disclosures: every disclosure made on a legal basis without consent
//! (basis kind `legal`, outcome `disclosed` or `delivered`) waits in a queue until a DPO marks it
//! reviewed. The mark is itself an audit record ([`review_record`]), so the chain shows who reviewed
//! what and when; the `audit_reviews` table is only the index the queue reads.

use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

use super::{AuditDecision, AuditReason, AuditRecord, ChainedRecord, Outcome, Requester};
use crate::policy::BasisKind;

/// The category of a review record.
pub const REVIEW_CATEGORY: &str = "audit.review";
/// The purpose of a review record.
pub const REVIEW_PURPOSE: &str = "dpo.review";
/// The reason code a review record carries.
pub const REVIEW_CODE: &str = "reviewed";

/// Which part of the queue.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ReviewStatus {
    /// Not reviewed yet.
    #[default]
    Pending,
    /// Reviewed.
    Reviewed,
    /// Both.
    All,
}

/// A DPO's mark on a statutory disclosure.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReviewMark {
    /// The reviewed disclosure's seq.
    pub record_seq: u64,
    /// The reviewed disclosure's id.
    pub record_disclosure_id: String,
    /// The reviewing DPO's `sub`.
    pub reviewed_by: String,
    /// The reviewing DPO's department.
    pub reviewed_dept: String,
    /// When.
    #[serde(with = "super::record::canonical_instant")]
    pub reviewed_at: Timestamp,
    /// The review's own audit record.
    pub review_seq: u64,
}

/// One statutory disclosure and its mark, if reviewed.
#[derive(Debug, Clone)]
pub struct ReviewItem {
    /// The disclosure.
    pub record: ChainedRecord,
    /// The mark.
    pub review: Option<ReviewMark>,
}

/// Whether a record belongs in the review queue: a disclosure on a legal basis (no consent).
pub fn is_statutory(record: &AuditRecord) -> bool {
    record
        .basis
        .as_ref()
        .is_some_and(|b| b.kind == BasisKind::Legal)
        && matches!(record.outcome, Outcome::Disclosed | Outcome::Delivered)
}

/// The instant before which an unreviewed disclosure is overdue.
pub fn overdue_before(now: Timestamp, overdue_days: u32) -> Timestamp {
    let days = SignedDuration::from_hours(24 * i64::from(overdue_days));
    now.checked_sub(days).unwrap_or(Timestamp::MIN)
}

/// The audit record of a review (`docs/audit-format.md`, "Review records"): by the DPO, about the
/// reviewed disclosure's subject, category `audit.review`, purpose `dpo.review`, decision `permit`
/// and outcome `withheld` (nothing is released), the reviewed disclosure's basis, and one reason
/// `reviewed` naming the disclosure's seq and id.
pub fn review_record(
    reviewed: &ChainedRecord,
    dpo: Requester,
    at: Timestamp,
    policy_version: &str,
) -> AuditRecord {
    let r = &reviewed.record;
    AuditRecord {
        disclosure_id: uuid::Uuid::now_v7(),
        at,
        requester: dpo,
        subject_pseudonym: r.subject_pseudonym.clone(),
        category: REVIEW_CATEGORY.to_owned(),
        purpose: REVIEW_PURPOSE.to_owned(),
        source: None,
        recipient: None,
        decision: AuditDecision::Permit,
        outcome: Outcome::Withheld,
        basis: r.basis.clone(),
        reasons: vec![AuditReason {
            code: REVIEW_CODE.to_owned(),
            message: format!(
                "statutory disclosure seq {} ({}) reviewed",
                reviewed.seq, r.disclosure_id
            ),
        }],
        fields_disclosed: Vec::new(),
        fields_redacted: Vec::new(),
        payload_digest: None,
        policy_version: policy_version.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overdue_is_days_before_now() {
        let now: Timestamp = "2026-03-15T12:00:00Z".parse().unwrap();
        assert_eq!(
            overdue_before(now, 14),
            "2026-03-01T12:00:00Z".parse::<Timestamp>().unwrap()
        );
        assert_eq!(overdue_before(now, 0), now);
    }
}
