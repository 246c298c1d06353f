//! What the notice path keeps: the claimed notices (idempotency) and the inbox items.

use jiff::Timestamp;

use crate::{policy::Basis, store::StoreError};

/// A notice as claimed under its idempotency key.
#[derive(Debug, Clone, PartialEq)]
pub struct NoticeRecord {
    /// Opaque id (the `notice_id` of the answer).
    pub id: String,
    /// The sending department.
    pub sender_dept: String,
    /// The sender's `sub`.
    pub sender_sub: String,
    /// The client's `Idempotency-Key`.
    pub idempotency_key: String,
    /// SHA-256 hex of the request body: the same key with another body is a conflict.
    pub body_digest: String,
    /// `absence`, `education` or `concern`.
    pub kind: String,
    /// The subject's pseudonym.
    pub subject_pseudonym: String,
    /// The answer, once the notice is complete.
    pub response: Option<serde_json::Value>,
    /// When it was claimed.
    pub created_at: Timestamp,
}

/// The outcome of claiming an idempotency key.
#[derive(Debug, Clone, PartialEq)]
pub enum Claim {
    /// The key was new: this request owns the notice.
    New,
    /// The key was claimed before (possibly still in progress: `response` is `None`).
    Existing(Box<NoticeRecord>),
}

/// One delivery in a department's inbox.
#[derive(Debug, Clone, PartialEq)]
pub struct InboxItem {
    /// Opaque id.
    pub id: String,
    /// The notice (or, for `consent_withdrawn`, the consent) it belongs to.
    pub notice_id: String,
    /// The receiving department.
    pub recipient: String,
    /// `absence`, `education`, `concern` or `consent_withdrawn`.
    pub kind: String,
    /// The sealed subject and payload (see `seal`).
    pub sealed: Vec<u8>,
    /// Field paths withheld from this recipient.
    pub redacted: Vec<String>,
    /// The basis of the delivery.
    pub basis: Option<Basis>,
    /// The audit record of the delivery.
    pub disclosure_id: String,
    /// When it was delivered.
    pub received_at: Timestamp,
    /// When the recipient acknowledged it.
    pub acked_at: Option<Timestamp>,
    /// Who acknowledged it.
    pub acked_by: Option<String>,
}

/// Storage of notices and inboxes.
pub trait NoticeStore {
    /// Claims `(sender_dept, idempotency_key)` for `notice`, or returns the earlier claim.
    fn claim_notice(
        &self,
        notice: &NoticeRecord,
    ) -> impl Future<Output = Result<Claim, StoreError>> + Send;

    /// The notice claimed under a key, if any.
    fn notice_by_key(
        &self,
        sender_dept: &str,
        key: &str,
    ) -> impl Future<Output = Result<Option<NoticeRecord>, StoreError>> + Send;

    /// Stores the answer and delivers the items, in one transaction.
    fn complete_notice(
        &self,
        notice_id: &str,
        response: &serde_json::Value,
        items: &[InboxItem],
        at: Timestamp,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Gives up a claim whose notice failed before anything was delivered, so a retry can run.
    fn release_claim(&self, notice_id: &str)
    -> impl Future<Output = Result<(), StoreError>> + Send;

    /// The departments that already have an item of `notice_id` in their inbox.
    fn notified_recipients(
        &self,
        notice_id: &str,
    ) -> impl Future<Output = Result<Vec<String>, StoreError>> + Send;

    /// Delivers items that belong to no notice (e.g. `consent_withdrawn`).
    fn deliver(&self, items: &[InboxItem]) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// A department's inbox, oldest first, after the cursor `(received_at, id)`.
    fn inbox(
        &self,
        recipient: &str,
        after: Option<(Timestamp, String)>,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<InboxItem>, StoreError>> + Send;

    /// Acknowledges every item of `notice_id` in `recipient`'s inbox; false if there is none.
    fn ack(
        &self,
        recipient: &str,
        notice_id: &str,
        by: &str,
        at: Timestamp,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;
}
