//! Withdrawal reaches past recipients: when a consent is withdrawn, every department that received
//! data on it (found in the audit trail) gets an inbox item `consent_withdrawn` naming the consent,
//! the categories and the disclosures concerned — no payload — so it can stop using and delete what
//! it holds. Each such notification is itself audited; an ack records that the recipient acted.
//!
//! Idempotent: a department already notified about the consent is not notified again, so a client
//! that retries a withdrawal after an outage completes the notifications.

use std::collections::BTreeMap;

use serde_json::json;

use super::{InboxItem, NoticeStore, Sealed};
use crate::{
    api::ApiError,
    app::AppState,
    audit::{AuditDecision, AuditRecord, Entry, Outcome, Requester},
    auth::Principal,
    consent::Consent,
    store::StoreError,
};

/// The kind of inbox item a withdrawal produces.
pub const KIND: &str = "consent_withdrawn";

/// A disclosure made on a consent, as the audit trail records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PastDisclosure {
    /// The audit record's id.
    pub disclosure_id: String,
    /// The department that received the data.
    pub recipient: String,
    /// The category disclosed.
    pub category: String,
    /// The purpose it was disclosed for.
    pub purpose: String,
}

/// Finding the disclosures made on a consent.
pub trait ConsentDisclosures {
    /// Every record with outcome `disclosed` or `delivered` whose basis is consent `consent_id`.
    fn disclosures_on_consent(
        &self,
        consent_id: &str,
    ) -> impl Future<Output = Result<Vec<PastDisclosure>, StoreError>> + Send;
}

/// Notifies every past recipient of data disclosed on `consent` that has not been notified yet.
/// Returns the departments notified now.
pub async fn notify_past_recipients(
    state: &AppState,
    actor: &Principal,
    consent: &Consent,
) -> Result<Vec<String>, ApiError> {
    let Some(withdrawal) = &consent.withdrawal else {
        return Ok(Vec::new());
    };
    let past = state.store().disclosures_on_consent(&consent.id).await?;
    let notified = state.store().notified_recipients(&consent.id).await?;
    let mut by_recipient: BTreeMap<String, Vec<PastDisclosure>> = BTreeMap::new();
    for disclosure in past {
        if !notified.contains(&disclosure.recipient) {
            by_recipient
                .entry(disclosure.recipient.clone())
                .or_default()
                .push(disclosure);
        }
    }
    if by_recipient.is_empty() {
        return Ok(Vec::new());
    }
    let sealer = state.sealer();
    let mut records = Vec::new();
    let mut items = Vec::new();
    for (recipient, disclosures) in &by_recipient {
        let mut categories: Vec<String> = disclosures.iter().map(|d| d.category.clone()).collect();
        categories.sort();
        categories.dedup();
        let data = json!({
            "consent_id": consent.id,
            "withdrawn_at": withdrawal.at,
            "categories": categories,
            "disclosures": disclosures.iter().map(|d| &d.disclosure_id).collect::<Vec<_>>(),
            "action": "stop using and delete the data received under this consent, then acknowledge",
        });
        let record = AuditRecord {
            disclosure_id: uuid::Uuid::now_v7(),
            at: state.clock().now(),
            requester: Requester::from(actor),
            subject_pseudonym: Some(consent.subject.clone()),
            category: categories.join(","),
            purpose: disclosures
                .first()
                .map(|d| d.purpose.clone())
                .unwrap_or_default(),
            source: Some(actor.dept.clone()),
            recipient: Some(recipient.clone()),
            decision: AuditDecision::Permit,
            outcome: Outcome::Delivered,
            basis: None,
            reasons: Vec::new(),
            fields_disclosed: vec![
                "consent_id".to_owned(),
                "withdrawn_at".to_owned(),
                "categories".to_owned(),
                "disclosures".to_owned(),
            ],
            fields_redacted: Vec::new(),
            payload_digest: Some(crate::audit::payload_digest(data.to_string().as_bytes())),
            policy_version: state.bundle().version().to_owned(),
        };
        let item_id = uuid::Uuid::now_v7().to_string();
        let sealed = sealer
            .seal(
                &Sealed {
                    subject: None,
                    data,
                },
                &item_id,
                recipient,
            )
            .map_err(|e| ApiError::Unavailable(e.to_string()))?;
        items.push(InboxItem {
            id: item_id,
            notice_id: consent.id.clone(),
            recipient: recipient.clone(),
            kind: KIND.to_owned(),
            sealed,
            redacted: Vec::new(),
            basis: None,
            disclosure_id: record.disclosure_id.to_string(),
            received_at: crate::store::stored_instant(state.clock().now()),
            acked_at: None,
            acked_by: None,
        });
        records.push(record);
    }
    // Every notification's record and item in one transaction: no item without its record.
    state
        .audit()
        .append_entry(Entry {
            records,
            notice: None,
            items,
            // The notifications follow from the withdrawal itself, not from facts that may change.
            facts: None,
        })
        .await
        .map_err(|e| ApiError::Unavailable(format!("{e}; nothing was delivered")))?;
    Ok(by_recipient.into_keys().collect())
}
