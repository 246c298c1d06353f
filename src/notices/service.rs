//! The use case of a notice: decide each recipient, then hand the appender one entry — the audit
//! record of every decision, the permitted copies for the inboxes, and the notice with its answer
//! under its idempotency key — which commits whole or not at all.
//!
//! INVARIANT: an inbox item is written in the transaction that makes the audit record of its
//! delivery durable, and the answer of a notice with them, so a retry either finds the complete
//! answer or nothing delivered.

use axum::http::StatusCode;
use serde::Serialize;
use serde_json::{Value, json};

use super::{InboxItem, NoticeRecord, NoticeStore, Sealed};
use crate::{
    api::{ApiError, Problem},
    app::AppState,
    audit::{
        Appended, AuditDecision, AuditReason, AuditRecord, Entry, Outcome, Requester,
        payload_digest,
    },
    auth::Principal,
    cpr::Cpr,
    exchange::{self, subject_text},
    facts,
    policy::{self, Decision, Mode, ReasonCode},
    redact,
};

/// A notice as submitted.
#[derive(Debug)]
pub struct Submission {
    /// The client's `Idempotency-Key`.
    pub key: String,
    /// SHA-256 hex of the canonical body.
    pub digest: String,
    /// `absence`, `education` or `concern`.
    pub kind: String,
    /// The subject.
    pub subject: Cpr,
    /// The notice's data.
    pub data: Value,
}

/// The stored answer of a notice: the status and body that every retry gets again.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct Answer {
    /// HTTP status (202, or 403 for a sender with no flow).
    pub status: u16,
    /// The JSON body.
    pub body: Value,
}

/// Submits a notice (or replays the answer of an earlier one with the same key).
///
/// Optimistic: the notice is decided first and its key taken in the appender's transaction, with
/// its audit records and inbox items. A key found taken there means a retry (or its concurrent
/// twin, which has then committed): nothing of this attempt is written and the stored answer is
/// replayed. Facts changed by a registry write before that transaction (a consent withdrawn, say)
/// also leave nothing written: the notice is decided again on the facts as they are now.
pub async fn submit(
    state: &AppState,
    sender: &Principal,
    notice: Submission,
) -> Result<Answer, ApiError> {
    let bundle = state.bundle().clone();
    let Some(category) = bundle.category_for_notice_kind(&notice.kind) else {
        return Err(ApiError::unprocessable(
            "unknown_id",
            "kind",
            format!(
                "unknown notice kind `{}`; expected `absence`, `education` or `concern`",
                notice.kind
            ),
        ));
    };
    let category = category.id.clone();
    let notice_id = uuid::Uuid::now_v7().to_string();
    for _ in 0..exchange::ATTEMPTS {
        let (answer, mut entry) = decide(state, sender, &notice, &notice_id, &category).await?;
        let response = serde_json::to_value(&answer)
            .map_err(|_| ApiError::Unavailable("the answer could not be encoded".to_owned()))?;
        entry.notice = Some(NoticeRecord {
            id: notice_id.clone(),
            sender_dept: sender.dept.clone(),
            sender_sub: sender.sub.clone(),
            idempotency_key: notice.key.clone(),
            body_digest: notice.digest.clone(),
            kind: notice.kind.clone(),
            subject_pseudonym: notice
                .subject
                .pseudonym(state.pseudonym_key())
                .as_str()
                .to_owned(),
            response: Some(response),
            created_at: state.clock().now(),
        });
        match exchange::append_entry(state, entry).await? {
            Appended::Chained(_) => return Ok(answer),
            Appended::KeyTaken => return replay(state, sender, &notice).await,
            // A registry write overtook the decisions; nothing was written: decide again.
            Appended::Stale => {
                crate::ops::metrics::inc("sluse_stale_decisions_total", &[("path", "notices")]);
            }
        }
    }
    Err(exchange::changing_facts())
}

/// Decides every recipient of the notice: the answer, and the entry (audit records and inbox
/// items) that must be durable before the answer is given.
async fn decide(
    state: &AppState,
    sender: &Principal,
    notice: &Submission,
    notice_id: &str,
    category: &str,
) -> Result<(Answer, Entry), ApiError> {
    let bundle = state.bundle().clone();
    let category = category.to_owned();
    let notice_id = notice_id.to_owned();

    let today = state.clock().today();
    let gathered =
        facts::gather(state.store(), state.pseudonym_key(), &notice.subject, today).await?;
    let sender_kind = bundle.department(&sender.dept).map(|d| d.kind);
    let routes: Vec<(String, policy::Flow)> = sender_kind
        .map(|kind| {
            bundle
                .notice_routes(kind, &category)
                .map(|(dept, flow)| (dept.to_owned(), flow.clone()))
                .collect()
        })
        .unwrap_or_default();

    let pseudonym = notice.subject.pseudonym(state.pseudonym_key());
    let base = |recipient: Option<String>, purpose: String| AuditRecord {
        disclosure_id: uuid::Uuid::now_v7(),
        at: state.clock().now(),
        requester: Requester::from(sender),
        subject_pseudonym: Some(pseudonym.clone()),
        category: category.clone(),
        purpose,
        source: Some(sender.dept.clone()),
        recipient,
        decision: AuditDecision::Deny,
        outcome: Outcome::Withheld,
        basis: None,
        reasons: Vec::new(),
        fields_disclosed: Vec::new(),
        fields_redacted: Vec::new(),
        payload_digest: None,
        policy_version: bundle.version().to_owned(),
    };

    if routes.is_empty() {
        // No flow starts at the sender's kind for this category: one audited refusal.
        let mut record = base(None, String::new());
        record.outcome = Outcome::Denied;
        let message = format!(
            "no flow carries `{category}` notices from department `{}`",
            sender.dept
        );
        record.reasons = vec![AuditReason {
            code: ReasonCode::NoFlow.as_str().to_owned(),
            message: message.clone(),
        }];
        let problem = Problem::new(StatusCode::FORBIDDEN, "denied", message.clone())
            .with("decision", "deny")
            .with("disclosure_id", record.disclosure_id.to_string())
            .with("reasons", json!([{"code": "no_flow", "message": message}]));
        let answer = Answer {
            status: 403,
            body: serde_json::to_value(&problem).unwrap_or(Value::Null),
        };
        return Ok((answer, Entry::records(vec![record])));
    }
    let sealer = state.sealer();
    let subject = subject_text(&notice.subject);
    let mut records = Vec::with_capacity(routes.len());
    let mut items = Vec::new();
    let mut deliveries = Vec::new();
    let mut withheld = Vec::new();
    for (recipient, flow) in &routes {
        let request = policy::Request {
            requester: sender.clone(),
            category: category.clone(),
            purpose: flow.purpose.clone(),
            source: sender.dept.clone(),
            recipient: recipient.clone(),
            mode: Mode::Notice,
            payload: Some(notice.data.clone()),
        };
        let decision = policy::decide(&bundle, &request, &gathered.facts, today);
        let mut record = base(Some(recipient.clone()), flow.purpose.clone());
        match decision {
            Decision::Permit { basis, plan, .. } => {
                let redacted = redact::apply(&plan, &notice.data);
                let bytes = serde_json::to_vec(&redacted.data).unwrap_or_default();
                record.decision = AuditDecision::Permit;
                record.outcome = Outcome::Delivered;
                record.basis = Some(basis.clone());
                record.fields_disclosed = redacted.disclosed.clone();
                record.fields_redacted = redacted.withheld.clone();
                record.payload_digest = Some(payload_digest(&bytes));
                let item_id = uuid::Uuid::now_v7().to_string();
                let sealed = sealer
                    .seal(
                        &Sealed {
                            subject: Some(subject.clone()),
                            data: redacted.data,
                        },
                        &item_id,
                        recipient,
                    )
                    .map_err(|e| ApiError::Unavailable(e.to_string()))?;
                items.push(InboxItem {
                    id: item_id,
                    notice_id: notice_id.clone(),
                    recipient: recipient.clone(),
                    kind: notice.kind.clone(),
                    sealed,
                    redacted: exchange::withheld_paths(&plan),
                    basis: Some(basis),
                    disclosure_id: record.disclosure_id.to_string(),
                    received_at: state.clock().now(),
                    acked_at: None,
                    acked_by: None,
                });
                deliveries.push(json!({"recipient": recipient, "disclosure_id": record.disclosure_id.to_string()}));
            }
            Decision::Deny { reasons, .. } => {
                record.reasons = reasons.iter().map(AuditReason::from).collect();
                withheld.push(json!({
                    "recipient": recipient,
                    "disclosure_id": record.disclosure_id.to_string(),
                    "reasons": reasons.iter().map(|r| json!({"code": r.code.as_str(), "message": r.message})).collect::<Vec<_>>(),
                }));
            }
        }
        records.push(record);
    }

    let answer = Answer {
        status: 202,
        body: json!({"notice_id": notice_id, "deliveries": deliveries, "withheld": withheld}),
    };
    // Every decision and every delivery in one transaction: were the records appended apart from
    // the items, a failure between them would leave "delivered" records with nothing delivered.
    let entry = Entry {
        records,
        notice: None,
        items,
        facts: Some(gathered.stamp),
    };
    Ok((answer, entry))
}

/// The answer for a key taken before: the stored answer for the same body, 409 for another.
async fn replay(
    state: &AppState,
    sender: &Principal,
    notice: &Submission,
) -> Result<Answer, ApiError> {
    let existing = state
        .store()
        .notice_by_key(&sender.dept, &notice.key)
        .await?
        .ok_or_else(|| ApiError::Unavailable("the notice under this key disappeared".to_owned()))?;
    if existing.body_digest != notice.digest {
        return Err(ApiError::Conflict(
            "this Idempotency-Key was used with another body".to_owned(),
        ));
    }
    let response = existing.response.ok_or_else(|| {
        ApiError::Conflict("the notice with this Idempotency-Key was never completed".to_owned())
    })?;
    serde_json::from_value(response)
        .map_err(|_| ApiError::Unavailable("the stored answer is unreadable".to_owned()))
}
