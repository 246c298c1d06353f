//! One audit record: who asked for what about whom, on which basis, what was decided and what left.
//!
//! A record never holds a CPR number (the subject is a keyed [`Pseudonym`]) nor a payload: only the
//! names of the fields that were disclosed or redacted and a SHA-256 digest of what was released.

use std::fmt;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::{
    auth::{Principal, Role},
    cpr::Pseudonym,
    policy::{Basis, Reason},
};

/// Who made the request (the verified token's claims).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Requester {
    /// The acting person or system (`sub`).
    pub sub: String,
    /// The caller's department id.
    pub dept: String,
    /// The caller's role.
    pub role: Role,
}

/// The policy decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuditDecision {
    /// The policy allowed the exchange.
    Permit,
    /// The policy refused it.
    Deny,
}

impl AuditDecision {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            AuditDecision::Permit => "permit",
            AuditDecision::Deny => "deny",
        }
    }

    /// Parses a wire name.
    pub fn parse(s: &str) -> Option<AuditDecision> {
        [AuditDecision::Permit, AuditDecision::Deny]
            .into_iter()
            .find(|d| d.as_str() == s)
    }
}

impl fmt::Display for AuditDecision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What happened after the decision (API.md §5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// A pull request's data was released to the caller.
    Disclosed,
    /// A notice was delivered to a recipient's inbox.
    Delivered,
    /// The request was refused.
    Denied,
    /// A notice recipient was refused and got nothing.
    Withheld,
    /// Permitted, but the source had no record; nothing was released.
    NotFound,
    /// Permitted, but the source failed; nothing was released.
    SourceUnavailable,
}

impl Outcome {
    /// Every outcome, in a stable order.
    pub const ALL: [Outcome; 6] = [
        Outcome::Disclosed,
        Outcome::Delivered,
        Outcome::Denied,
        Outcome::Withheld,
        Outcome::NotFound,
        Outcome::SourceUnavailable,
    ];

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Disclosed => "disclosed",
            Outcome::Delivered => "delivered",
            Outcome::Denied => "denied",
            Outcome::Withheld => "withheld",
            Outcome::NotFound => "not_found",
            Outcome::SourceUnavailable => "source_unavailable",
        }
    }

    /// Parses a wire name.
    pub fn parse(s: &str) -> Option<Outcome> {
        Outcome::ALL.into_iter().find(|o| o.as_str() == s)
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One reason of a denial, as recorded. The code is kept as text so that a record written by a
/// later version with a new code still reads back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditReason {
    /// The stable reason code (API.md §7).
    pub code: String,
    /// The human explanation.
    pub message: String,
}

impl From<&Principal> for Requester {
    fn from(principal: &Principal) -> Self {
        Requester {
            sub: principal.sub.clone(),
            dept: principal.dept.clone(),
            role: principal.role,
        }
    }
}

impl From<&Reason> for AuditReason {
    fn from(reason: &Reason) -> Self {
        AuditReason {
            code: reason.code.as_str().to_owned(),
            message: reason.message.clone(),
        }
    }
}

/// One audit record, before it is chained (API.md §5 audit).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditRecord {
    /// The decision's id (UUID v7), returned to the caller as `disclosure_id`.
    pub disclosure_id: uuid::Uuid,
    /// When the decision was made. Kept to the microsecond (finer digits are cut when chained).
    #[serde(with = "canonical_instant")]
    pub at: Timestamp,
    /// Who asked.
    pub requester: Requester,
    /// The subject's keyed pseudonym; `None` for a record about no subject.
    pub subject_pseudonym: Option<Pseudonym>,
    /// The data category.
    pub category: String,
    /// The purpose.
    pub purpose: String,
    /// The department that holds (or sent) the data, where there is one.
    pub source: Option<String>,
    /// The department that receives the data, where there is one.
    pub recipient: Option<String>,
    /// Permit or deny.
    pub decision: AuditDecision,
    /// What happened.
    pub outcome: Outcome,
    /// What a permit rests on.
    pub basis: Option<Basis>,
    /// Every reason of a denial (empty for a permit).
    pub reasons: Vec<AuditReason>,
    /// Names (paths) of the fields that left the gateway.
    pub fields_disclosed: Vec<String>,
    /// Names (paths) of the fields that were cut.
    pub fields_redacted: Vec<String>,
    /// Lowercase hex SHA-256 of the payload bytes released, when something was released.
    pub payload_digest: Option<String>,
    /// The version of the policy bundle that decided.
    pub policy_version: String,
}

/// A record in the chain: its position and the two hashes that link it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChainedRecord {
    /// Position in the chain, from 1, without gaps.
    pub seq: u64,
    /// The record's fields.
    #[serde(flatten)]
    pub record: AuditRecord,
    /// `hash` of the record at `seq - 1`; 64 zeros for the first record.
    pub prev_hash: String,
    /// `SHA-256(prev_hash || canonical(record))`, lowercase hex.
    pub hash: String,
}

/// The lowercase hex SHA-256 of `payload`, for [`AuditRecord::payload_digest`]: the exact bytes
/// released (the JSON body of `data`, as sent).
pub fn payload_digest(payload: &[u8]) -> String {
    super::canonical::hex(ring::digest::digest(&ring::digest::SHA256, payload).as_ref())
}

/// Serializes an instant in the canonical form (`YYYY-MM-DDTHH:MM:SS.ffffffZ`), so the JSON export
/// carries exactly the text that is hashed.
pub(crate) mod canonical_instant {
    use jiff::Timestamp;
    use serde::{Deserialize, Deserializer, Serializer, de};

    pub fn serialize<S: Serializer>(at: &Timestamp, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&super::super::canonical::format_instant(*at))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Timestamp, D::Error> {
        let text = String::deserialize(d)?;
        text.parse::<Timestamp>().map_err(de::Error::custom)
    }
}
