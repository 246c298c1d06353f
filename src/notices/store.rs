//! What the notice path keeps: the claimed notices (idempotency) and the inbox items.

use jiff::Timestamp;

use crate::{policy::Basis, store::StoreError};

/// A notice as stored under its idempotency key, with its answer (written with its audit records
/// and inbox items in one transaction: see [`crate::audit::Entry`]).
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
    /// The answer every retry gets (`None` only in databases written before answers were stored
    /// with the notice; migration 0006 removes such rows).
    pub response: Option<serde_json::Value>,
    /// When it was submitted.
    pub created_at: Timestamp,
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

/// An inbox item read back, with its place in commit order.
#[derive(Debug, Clone, PartialEq)]
pub struct Received {
    /// Its place: an item committed later has a greater one, so a reader that has seen every item
    /// up to some `seq` misses none by asking for those after it.
    pub seq: u64,
    /// The item.
    pub item: InboxItem,
}

/// Storage of notices and inboxes.
pub trait NoticeStore {
    /// The notice stored under a key, if any.
    fn notice_by_key(
        &self,
        sender_dept: &str,
        key: &str,
    ) -> impl Future<Output = Result<Option<NoticeRecord>, StoreError>> + Send;

    /// The departments that already have an item of `notice_id` in their inbox.
    fn notified_recipients(
        &self,
        notice_id: &str,
    ) -> impl Future<Output = Result<Vec<String>, StoreError>> + Send;

    /// A department's inbox in commit order, the items after `after` (a [`Received::seq`]).
    fn inbox(
        &self,
        recipient: &str,
        after: Option<u64>,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<Received>, StoreError>> + Send;

    /// Acknowledges every item of `notice_id` in `recipient`'s inbox; false if there is none.
    fn ack(
        &self,
        recipient: &str,
        notice_id: &str,
        by: &str,
        at: Timestamp,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;
}
