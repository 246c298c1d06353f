//! The review queue: disclosures made on a legal basis without consent, which a DPO marks reviewed.
//! Marking is a POSTed, CSRF-checked form; the mark is an audit record first and then an entry in
//! `audit_reviews` (the record is the evidence, the table the index).

use askama::Template;
use axum::{
    Form,
    extract::{Path, Query, State, rejection::QueryRejection},
    http::StatusCode,
    response::{IntoResponse, Redirect, Response},
};
use serde::Deserialize;

use super::{
    SignedIn, WebState, error_page,
    login::CsrfForm,
    pages::{basis_text, csrf_ok, render, stale_form, unavailable},
};
use crate::{
    api::review_queue,
    audit::{
        Requester,
        report::{self, instant_text},
        review::{ReviewMark, ReviewStatus, is_statutory, review_record},
    },
    auth::Role,
};

/// Items per page of the queue.
const PAGE: u32 = 50;

/// The queue's query: which part, and where the page starts.
#[derive(Debug, Default, Deserialize)]
pub struct QueueParams {
    #[serde(default)]
    status: Option<ReviewStatus>,
    #[serde(default)]
    after: Option<u64>,
    #[serde(default)]
    marked: Option<u64>,
}

struct Item {
    seq: u64,
    at: String,
    requester: String,
    source: String,
    recipient: String,
    category: String,
    purpose: String,
    basis: String,
    overdue: bool,
    reviewed: Option<String>,
}

#[derive(Template)]
#[template(path = "dpo/review.html")]
struct ReviewPage {
    csrf: String,
    who: String,
    status: &'static str,
    overdue_days: u32,
    pending: u64,
    overdue: u64,
    items: Vec<Item>,
    next: Option<String>,
    marked: Option<u64>,
}

/// `GET /dpo/review`: the queue, oldest first; overdue items flagged.
pub async fn queue(
    State(state): State<WebState>,
    signed: SignedIn,
    params: Result<Query<QueueParams>, QueryRejection>,
) -> Response {
    let params = params.map(|Query(p)| p).unwrap_or_default();
    let status = params.status.unwrap_or_default();
    let status_name = match status {
        ReviewStatus::Pending => "pending",
        ReviewStatus::Reviewed => "reviewed",
        ReviewStatus::All => "all",
    };
    let q = match review_queue(&state.app, status, params.after.unwrap_or(0), PAGE).await {
        Ok(q) => q,
        Err(e) => return unavailable(e),
    };
    let items = q
        .items
        .iter()
        .map(|i| {
            let r = &i.record.record;
            Item {
                seq: i.record.seq,
                at: instant_text(r.at),
                requester: format!("{} ({})", r.requester.sub, r.requester.dept),
                source: r.source.clone().unwrap_or_else(|| "–".to_owned()),
                recipient: r.recipient.clone().unwrap_or_else(|| "–".to_owned()),
                category: r.category.clone(),
                purpose: r.purpose.clone(),
                basis: basis_text(r.basis.as_ref()),
                overdue: i.overdue,
                reviewed: i.review.as_ref().map(|m| {
                    format!(
                        "by {} on {} (record {})",
                        m.reviewed_by,
                        instant_text(m.reviewed_at),
                        m.review_seq
                    )
                }),
            }
        })
        .collect();
    render(&ReviewPage {
        csrf: signed.session.csrf.clone(),
        who: signed.session.sub.clone(),
        status: status_name,
        overdue_days: q.overdue_days,
        pending: q.pending,
        overdue: q.overdue,
        items,
        next: q
            .next_after
            .map(|a| format!("/dpo/review?status={status_name}&after={a}")),
        marked: params.marked,
    })
}

/// `POST /dpo/review/{seq}`: marks a statutory disclosure reviewed — an audit record by this DPO,
/// then the mark. A disclosure marked before is left as it is.
pub async fn mark(
    State(state): State<WebState>,
    signed: SignedIn,
    Path(seq): Path<String>,
    Form(form): Form<CsrfForm>,
) -> Response {
    if !csrf_ok(&signed, &form.csrf) {
        return stale_form();
    }
    let Ok(seq) = seq.parse::<u64>() else {
        return error_page(StatusCode::NOT_FOUND, "There is no such record.");
    };
    let store = state.app.store();
    let reviewed = match report::record_at(store, seq).await {
        Err(e) => return unavailable(e),
        Ok(Some(c)) if is_statutory(&c.record) => c,
        Ok(_) => {
            return error_page(
                StatusCode::NOT_FOUND,
                "There is no statutory disclosure with that number.",
            );
        }
    };
    let done = match store.review_queue(ReviewStatus::Reviewed, seq - 1, 1).await {
        Ok(page) => page.iter().any(|i| i.record.seq == seq),
        Err(e) => return unavailable(e),
    };
    if !done {
        let dpo = Requester {
            sub: signed.session.sub.clone(),
            dept: signed.session.dept.clone(),
            role: Role::Dpo,
        };
        let now = state.app.clock().now();
        let record = review_record(&reviewed, dpo, now, state.app.bundle().version());
        let chained = match state.app.audit().append(record).await {
            Ok(c) => c,
            Err(e) => {
                tracing::error!(error = %e, seq, "a review could not be recorded in the audit log");
                return error_page(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "The review could not be recorded in the audit log; nothing was marked.",
                );
            }
        };
        let mark = ReviewMark {
            record_seq: seq,
            record_disclosure_id: reviewed.record.disclosure_id.to_string(),
            reviewed_by: signed.session.sub.clone(),
            reviewed_dept: signed.session.dept.clone(),
            reviewed_at: chained.record.at,
            review_seq: chained.seq,
        };
        if let Err(e) = store.insert_review(&mark).await {
            return unavailable(e);
        }
        tracing::info!(
            seq,
            review_seq = chained.seq,
            "statutory disclosure reviewed"
        );
    }
    Redirect::to(&format!("/dpo/review?marked={seq}")).into_response()
}
