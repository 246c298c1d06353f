//! The use case of a notice: claim the idempotency key, decide each recipient, audit each decision,
//! then deliver the permitted copies and store the answer in one transaction.
//!
//! INVARIANT: an inbox item is written only after the audit record of its delivery is durable, and
//! the answer of a notice is stored in the same transaction as its inbox items, so a retry either
//! finds the complete answer or nothing delivered.

use std::time::Duration;

use axum::http::StatusCode;
use serde::Serialize;
use serde_json::{Value, json};

use super::{Claim, InboxItem, NoticeRecord, NoticeStore, Sealed, Sealer};
use crate::{
    api::{ApiError, Problem},
    app::AppState,
    audit::{AuditDecision, AuditReason, AuditRecord, Outcome, Requester, payload_digest},
    auth::Principal,
    cpr::Cpr,
    exchange::{self, subject_text},
    facts,
    policy::{self, Decision, Mode, ReasonCode},
    redact,
};

/// How long a retry waits for a concurrent request with the same key to finish.
const IN_PROGRESS_WAIT: Duration = Duration::from_secs(10);

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

/// Submits a notice (or replays the answer of an earlier identical one).
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
    let claim = NoticeRecord {
        id: uuid::Uuid::now_v7().to_string(),
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
        response: None,
        created_at: state.clock().now(),
    };
    if let Claim::Existing(existing) = state.store().claim_notice(&claim).await? {
        return replay(state, &notice, *existing).await;
    }
    let notice_id = claim.id;
    let result = decide_and_deliver(state, sender, &notice, &notice_id, &category).await;
    if result.is_err() {
        // Nothing was delivered: free the key so the client's retry is decided afresh.
        let _ = state.store().release_claim(&notice_id).await;
    }
    result
}

async fn decide_and_deliver(
    state: &AppState,
    sender: &Principal,
    notice: &Submission,
    notice_id: &str,
    category: &str,
) -> Result<Answer, ApiError> {
    let bundle = state.bundle().clone();
    let category = category.to_owned();
    let notice_id = notice_id.to_owned();

    let today = state.clock().today();
    let facts = facts::gather(state.store(), state.pseudonym_key(), &notice.subject, today).await?;
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
        let id = exchange::append(state, record).await?;
        let problem = Problem::new(StatusCode::FORBIDDEN, "denied", message.clone())
            .with("decision", "deny")
            .with("disclosure_id", id)
            .with("reasons", json!([{"code": "no_flow", "message": message}]));
        let answer = Answer {
            status: 403,
            body: serde_json::to_value(&problem).unwrap_or(Value::Null),
        };
        store_answer(state, &notice_id, &answer, &[]).await?;
        return Ok(answer);
    }

    let sealer =
        Sealer::new(state.pseudonym_key()).map_err(|e| ApiError::Unavailable(e.to_string()))?;
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
        let decision = policy::decide(&bundle, &request, &facts, today);
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

    // Every decision durable before anything is delivered, all in one transaction: were they
    // appended one by one, a failure could leave some records ("delivered") durable and others not
    // while nothing is delivered, and the client's retry would then decide those recipients twice.
    state
        .audit()
        .append_many(records)
        .await
        .map_err(|e| ApiError::Unavailable(format!("{e}; nothing was released")))?;
    let answer = Answer {
        status: 202,
        body: json!({"notice_id": notice_id, "deliveries": deliveries, "withheld": withheld}),
    };
    store_answer(state, &notice_id, &answer, &items).await?;
    Ok(answer)
}

/// Stores the answer and delivers the items in one transaction.
async fn store_answer(
    state: &AppState,
    notice_id: &str,
    answer: &Answer,
    items: &[InboxItem],
) -> Result<(), ApiError> {
    let value = serde_json::to_value(answer)
        .map_err(|_| ApiError::Unavailable("the answer could not be encoded".to_owned()))?;
    state
        .store()
        .complete_notice(notice_id, &value, items, state.clock().now())
        .await?;
    Ok(())
}

/// The answer for a key claimed before: the same answer for the same body (waiting for a
/// concurrent twin to finish), 409 for another body.
async fn replay(
    state: &AppState,
    notice: &Submission,
    mut existing: NoticeRecord,
) -> Result<Answer, ApiError> {
    if existing.body_digest != notice.digest {
        return Err(ApiError::Conflict(
            "this Idempotency-Key was used with another body".to_owned(),
        ));
    }
    let deadline = tokio::time::Instant::now() + IN_PROGRESS_WAIT;
    loop {
        if let Some(response) = existing.response {
            return serde_json::from_value(response)
                .map_err(|_| ApiError::Unavailable("the stored answer is unreadable".to_owned()));
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(ApiError::Conflict(
                "a notice with this Idempotency-Key is still being processed; retry later"
                    .to_owned(),
            ));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
        existing = state
            .store()
            .notice_by_key(&existing.sender_dept, &existing.idempotency_key)
            .await?
            .ok_or_else(|| ApiError::Unavailable("the notice claim disappeared".to_owned()))?;
    }
}
