//! Reading the trail for the DPO: filtered, keyset-paged queries and grouped counts.
//!
//! The queries are a separate capability from the chain itself ([`super::AuditStore`]): the
//! appender and the verifier never need them, and the DPO's tools never write.

use std::future::Future;

use jiff::Timestamp;

use super::{AuditDecision, StoredRecord};
use crate::{cpr::Pseudonym, store::StoreError};

/// Which records a DPO query selects. Every filter that is set must hold.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditFilter {
    /// Records about this subject.
    pub subject: Option<Pseudonym>,
    /// Records of requests made by this `sub`.
    pub requester: Option<String>,
    /// Records whose source **or** recipient is this department.
    pub department: Option<String>,
    /// Permits or denials only.
    pub decision: Option<AuditDecision>,
    /// Records at or after this instant.
    pub from: Option<Timestamp>,
    /// Records strictly before this instant.
    pub to: Option<Timestamp>,
}

/// How many records of one kind of decision fell into one group (see [`AuditQuery::audit_counts`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditCount {
    /// The UTC hour the records fall in, as `YYYY-MM-DDTHH` (Copenhagen's offset is whole hours,
    /// so the caller can place each hour in a local day and ISO week exactly).
    pub hour: String,
    /// The recipient department, if any.
    pub recipient: Option<String>,
    /// The data category.
    pub category: String,
    /// `consent` or `legal`, if the record has a basis.
    pub basis_kind: Option<String>,
    /// The consent's or legal basis's id.
    pub basis_id: Option<String>,
    /// `permit` or `deny`.
    pub decision: String,
    /// The outcome's wire name.
    pub outcome: String,
    /// How many records.
    pub count: u64,
}

/// The DPO's read-only queries over the trail.
pub trait AuditQuery {
    /// Up to `limit` records matching `filter`, newest first (by `seq` descending), with
    /// `seq < before` when `before` is given (keyset paging).
    fn query_audit(
        &self,
        filter: &AuditFilter,
        before: Option<u64>,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<StoredRecord>, StoreError>> + Send;

    /// The record at `seq`, if there is one.
    fn audit_record(
        &self,
        seq: u64,
    ) -> impl Future<Output = Result<Option<StoredRecord>, StoreError>> + Send;

    /// Records at or after `since`, counted per UTC hour, recipient, category, basis, decision and
    /// outcome.
    fn audit_counts(
        &self,
        since: Timestamp,
    ) -> impl Future<Output = Result<Vec<AuditCount>, StoreError>> + Send;

    /// Reason codes of the denials at or after `since`, each with the number of denials that give
    /// it, most frequent first.
    fn refusal_reasons(
        &self,
        since: Timestamp,
    ) -> impl Future<Output = Result<Vec<(String, u64)>, StoreError>> + Send;
}
