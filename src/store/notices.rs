//! `NoticeStore` for the backend-neutral [`Store`], and the row conversions both backends share.

use jiff::Timestamp;

use super::{Store, StoreError, assignments::parse_instant};
use crate::notices::{
    InboxItem, NoticeRecord, NoticeStore, Received,
    withdrawal::{ConsentDisclosures, PastDisclosure},
};

/// A notice row (instants and JSON as text).
#[derive(Debug, sqlx::FromRow)]
pub(super) struct NoticeRow {
    pub id: String,
    pub sender_dept: String,
    pub sender_sub: String,
    pub idempotency_key: String,
    pub body_digest: String,
    pub kind: String,
    pub subject_pseudonym: String,
    pub response: Option<String>,
    pub created_at: String,
}

impl TryFrom<NoticeRow> for NoticeRecord {
    type Error = StoreError;

    fn try_from(row: NoticeRow) -> Result<Self, Self::Error> {
        let corrupt = |what: &str| StoreError::Corrupt(format!("notice {}: {what}", row.id));
        Ok(NoticeRecord {
            response: row
                .response
                .as_deref()
                .map(|r| serde_json::from_str(r).map_err(|_| corrupt("response")))
                .transpose()?,
            created_at: parse_instant(&row.created_at).ok_or_else(|| corrupt("created_at"))?,
            id: row.id,
            sender_dept: row.sender_dept,
            sender_sub: row.sender_sub,
            idempotency_key: row.idempotency_key,
            body_digest: row.body_digest,
            kind: row.kind,
            subject_pseudonym: row.subject_pseudonym,
        })
    }
}

/// The database form of an inbox cursor (`None`: before the first item). One past every seq a
/// database can hold stands for the end, after which there is nothing.
pub(super) fn after_seq(after: Option<u64>) -> i64 {
    after.map_or(0, |seq| i64::try_from(seq).unwrap_or(i64::MAX))
}

/// An inbox row.
#[derive(Debug, sqlx::FromRow)]
pub(super) struct InboxRow {
    pub seq: i64,
    pub id: String,
    pub notice_id: String,
    pub recipient_dept: String,
    pub kind: String,
    pub sealed: Vec<u8>,
    pub redacted: String,
    pub basis: Option<String>,
    pub disclosure_id: String,
    pub received_at: String,
    pub acked_at: Option<String>,
    pub acked_by: Option<String>,
}

impl TryFrom<InboxRow> for Received {
    type Error = StoreError;

    fn try_from(row: InboxRow) -> Result<Self, Self::Error> {
        let corrupt = |what: &str| StoreError::Corrupt(format!("inbox item {}: {what}", row.id));
        let seq = u64::try_from(row.seq).map_err(|_| corrupt("seq"))?;
        let item = InboxItem {
            redacted: serde_json::from_str(&row.redacted).map_err(|_| corrupt("redacted"))?,
            basis: row
                .basis
                .as_deref()
                .map(|b| serde_json::from_str(b).map_err(|_| corrupt("basis")))
                .transpose()?,
            received_at: parse_instant(&row.received_at).ok_or_else(|| corrupt("received_at"))?,
            acked_at: row
                .acked_at
                .as_deref()
                .map(|t| parse_instant(t).ok_or_else(|| corrupt("acked_at")))
                .transpose()?,
            id: row.id,
            notice_id: row.notice_id,
            recipient: row.recipient_dept,
            kind: row.kind,
            sealed: row.sealed,
            disclosure_id: row.disclosure_id,
            acked_by: row.acked_by,
        };
        Ok(Received { seq, item })
    }
}

impl NoticeStore for Store {
    async fn notice_by_key(
        &self,
        dept: &str,
        key: &str,
    ) -> Result<Option<NoticeRecord>, StoreError> {
        match self {
            Store::Sqlite(s) => s.notice_by_key(dept, key).await,
            Store::Postgres(s) => s.notice_by_key(dept, key).await,
        }
    }

    async fn notified_recipients(&self, notice_id: &str) -> Result<Vec<String>, StoreError> {
        match self {
            Store::Sqlite(s) => s.notified_recipients(notice_id).await,
            Store::Postgres(s) => s.notified_recipients(notice_id).await,
        }
    }

    async fn inbox(
        &self,
        recipient: &str,
        after: Option<u64>,
        limit: u32,
    ) -> Result<Vec<Received>, StoreError> {
        match self {
            Store::Sqlite(s) => s.inbox(recipient, after, limit).await,
            Store::Postgres(s) => s.inbox(recipient, after, limit).await,
        }
    }

    async fn ack(
        &self,
        recipient: &str,
        notice_id: &str,
        by: &str,
        at: Timestamp,
    ) -> Result<bool, StoreError> {
        match self {
            Store::Sqlite(s) => s.ack(recipient, notice_id, by, at).await,
            Store::Postgres(s) => s.ack(recipient, notice_id, by, at).await,
        }
    }
}

impl ConsentDisclosures for Store {
    async fn disclosures_on_consent(
        &self,
        consent_id: &str,
    ) -> Result<Vec<PastDisclosure>, StoreError> {
        match self {
            Store::Sqlite(s) => s.disclosures_on_consent(consent_id).await,
            Store::Postgres(s) => s.disclosures_on_consent(consent_id).await,
        }
    }
}

/// A past disclosure as both backends return it.
#[derive(Debug, sqlx::FromRow)]
pub(super) struct PastDisclosureRow {
    pub disclosure_id: String,
    pub recipient: Option<String>,
    pub category: String,
    pub purpose: String,
}

impl PastDisclosureRow {
    pub(super) fn into_disclosure(self) -> Option<PastDisclosure> {
        Some(PastDisclosure {
            disclosure_id: self.disclosure_id,
            recipient: self.recipient?,
            category: self.category,
            purpose: self.purpose,
        })
    }
}

/// The query on PostgreSQL (its basis index serves it); SQLite's finds the seqs through its
/// trailing lookup table instead.
pub(super) const DISCLOSURES_ON_CONSENT: &str = "SELECT CAST(disclosure_id AS TEXT) AS disclosure_id, \
     recipient, category, purpose \
     FROM audit_log WHERE basis_id = $1 AND basis_kind = 'consent' \
     AND outcome IN ('disclosed', 'delivered') ORDER BY seq";
