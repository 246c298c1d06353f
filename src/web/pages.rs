//! The console's trail pages (search, one record, chain status) and the helpers every page
//! shares: thin handlers that read through the same store traits as the API and
//! render auto-escaped templates from `templates/dpo/`.

use askama::Template;
use axum::{
    Form,
    extract::{Path, Query, State, rejection::QueryRejection},
    http::{HeaderValue, StatusCode, header},
    response::{Html, IntoResponse, Redirect, Response},
};
use serde::Deserialize;

use std::sync::Arc;

use super::{
    SignedIn, WebState, error_page,
    login::CsrfForm,
    session::{VerifyJob, same_secret},
};
use crate::{
    audit::{
        self, AuditDecision, AuditFilter, AuditStore, ChainedRecord, Verification,
        checkpoint::verification_keys,
        query,
        report::{self, instant_text},
    },
    cpr::Pseudonym,
    policy::{Basis, BasisKind},
};

/// Records per page of the search.
const PAGE: u32 = 50;

/// Renders a template, or a 500 page naming nothing internal.
pub(super) fn render(template: &impl Template) -> Response {
    match template.render() {
        Ok(html) => Html(html).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "console template failed");
            error_page(
                StatusCode::INTERNAL_SERVER_ERROR,
                "The page could not be shown.",
            )
        }
    }
}

/// A page that the store could not serve.
pub(super) fn unavailable(e: impl std::fmt::Display) -> Response {
    tracing::error!(error = %e, "console could not read the audit trail");
    error_page(
        StatusCode::SERVICE_UNAVAILABLE,
        "The audit trail cannot be read right now.",
    )
}

/// Whether the form carries this session's CSRF token.
pub(super) fn csrf_ok(signed: &SignedIn, sent: &str) -> bool {
    same_secret(&signed.session.csrf, sent)
}

/// The 403 for a form without this session's CSRF token.
pub(super) fn stale_form() -> Response {
    error_page(
        StatusCode::FORBIDDEN,
        "The form is stale or did not come from this console. Reload the page and try again.",
    )
}

/// `GET /dpo/console.css`.
pub async fn stylesheet() -> Response {
    let mut response = include_str!("../../templates/dpo/console.css").into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/css; charset=utf-8"),
    );
    response
}

/// Anything else under `/dpo`.
pub async fn not_found() -> Response {
    error_page(
        StatusCode::NOT_FOUND,
        "There is no such page in the console.",
    )
}

// ---------------------------------------------------------------------------------------------
// Disclosure search and one record

/// The search filters, as the form sends them (GET: no CPR number here, only a pseudonym).
#[derive(Debug, Default, Deserialize)]
pub struct SearchParams {
    #[serde(default)]
    subject: String,
    #[serde(default)]
    requester: String,
    #[serde(default)]
    department: String,
    #[serde(default)]
    decision: String,
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
    #[serde(default)]
    cursor: String,
}

/// One row of the search results.
struct Row {
    seq: u64,
    at: String,
    requester: String,
    subject: String,
    category: String,
    purpose: String,
    source: String,
    recipient: String,
    decision: String,
    outcome: String,
}

impl Row {
    fn new(c: &ChainedRecord) -> Row {
        let r = &c.record;
        Row {
            seq: c.seq,
            at: instant_text(r.at),
            requester: format!(
                "{} ({}, {})",
                r.requester.sub, r.requester.dept, r.requester.role
            ),
            subject: r
                .subject_pseudonym
                .as_ref()
                .map(|p| short(p.as_str()))
                .unwrap_or_else(|| "–".to_owned()),
            category: r.category.clone(),
            purpose: r.purpose.clone(),
            source: r.source.clone().unwrap_or_else(|| "–".to_owned()),
            recipient: r.recipient.clone().unwrap_or_else(|| "–".to_owned()),
            decision: r.decision.to_string(),
            outcome: r.outcome.to_string(),
        }
    }
}

/// A pseudonym shortened for a table cell.
fn short(pseudonym: &str) -> String {
    pseudonym.chars().take(15).collect::<String>() + "…"
}

#[derive(Template)]
#[template(path = "dpo/search.html")]
struct SearchPage {
    csrf: String,
    who: String,
    f: SearchParams,
    rows: Vec<Row>,
    next: Option<String>,
    error: Option<String>,
}

/// Percent-encodes a query value.
fn pct(value: &str) -> String {
    let mut out = String::new();
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~' | b':') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The filter of the search form, or what is wrong with it.
fn search_filter(f: &SearchParams) -> Result<(AuditFilter, Option<u64>), String> {
    let text = |s: &str| Some(s.trim().to_owned()).filter(|s| !s.is_empty());
    let subject = match text(&f.subject) {
        None => None,
        Some(s) if s.starts_with(Pseudonym::PREFIX) => Some(Pseudonym::from_stored(s)),
        Some(_) => {
            return Err(
                "Search by a subject's pseudonym (ps_…). For a CPR number, use the subject report."
                    .to_owned(),
            );
        }
    };
    let decision = match f.decision.as_str() {
        "" => None,
        d => Some(AuditDecision::parse(d).ok_or("Decision must be permit or deny.")?),
    };
    let bound = |s: &str, upper| match text(s) {
        None => Ok(None),
        Some(t) => query::parse_bound(&t, upper)
            .map(Some)
            .ok_or_else(|| format!("`{t}` is not a date (YYYY-MM-DD) or an RFC 3339 instant.")),
    };
    let cursor = match text(&f.cursor) {
        None => None,
        Some(c) => Some(query::decode_cursor(&c).ok_or("The page link is not valid.")?),
    };
    Ok((
        AuditFilter {
            subject,
            requester: text(&f.requester),
            department: text(&f.department),
            decision,
            from: bound(&f.from, false)?,
            to: bound(&f.to, true)?,
        },
        cursor,
    ))
}

/// `GET /dpo/`: the disclosure search, newest first, a page at a time.
pub async fn search(
    State(state): State<WebState>,
    signed: SignedIn,
    params: Result<Query<SearchParams>, QueryRejection>,
) -> Response {
    let f = params.map(|Query(p)| p).unwrap_or_default();
    let (rows, next, error) = match search_filter(&f) {
        Err(e) => (Vec::new(), None, Some(e)),
        Ok((filter, cursor)) => match query::page(state.app.store(), &filter, cursor, PAGE).await {
            Err(e) => return unavailable(e),
            Ok(page) => {
                let next = page.next_cursor.map(|c| {
                    format!(
                        "/dpo/?subject={}&requester={}&department={}&decision={}&from={}&to={}&cursor={}",
                        pct(&f.subject),
                        pct(&f.requester),
                        pct(&f.department),
                        pct(&f.decision),
                        pct(&f.from),
                        pct(&f.to),
                        pct(&c)
                    )
                });
                (page.records.iter().map(Row::new).collect(), next, None)
            }
        },
    };
    render(&SearchPage {
        csrf: signed.session.csrf.clone(),
        who: signed.session.sub.clone(),
        f,
        rows,
        next,
        error,
    })
}

#[derive(Template)]
#[template(path = "dpo/record.html")]
struct RecordPage {
    csrf: String,
    who: String,
    seq: u64,
    fields: Vec<(&'static str, String)>,
}

pub(super) fn basis_text(basis: Option<&Basis>) -> String {
    match basis {
        None => "–".to_owned(),
        Some(b) => format!(
            "{} {}",
            match b.kind {
                BasisKind::Consent => "consent",
                BasisKind::Legal => "legal",
            },
            b.id
        ),
    }
}

/// `GET /dpo/records/{seq}`: one record, every field.
pub async fn record(
    State(state): State<WebState>,
    signed: SignedIn,
    Path(seq): Path<String>,
) -> Response {
    let Ok(seq) = seq.parse::<u64>() else {
        return error_page(StatusCode::NOT_FOUND, "There is no such record.");
    };
    let c = match report::record_at(state.app.store(), seq).await {
        Err(e) => return unavailable(e),
        Ok(None) => return error_page(StatusCode::NOT_FOUND, "There is no such record."),
        Ok(Some(c)) => c,
    };
    let r = &c.record;
    let opt = |v: &Option<String>| v.clone().unwrap_or_else(|| "–".to_owned());
    let list = |v: &[String]| {
        if v.is_empty() {
            "–".to_owned()
        } else {
            v.join(", ")
        }
    };
    let fields = vec![
        ("Disclosure id", r.disclosure_id.to_string()),
        ("At (UTC)", instant_text(r.at)),
        ("Requester", r.requester.sub.clone()),
        ("Requester's department", r.requester.dept.clone()),
        ("Requester's role", r.requester.role.to_string()),
        (
            "Subject (pseudonym)",
            r.subject_pseudonym
                .as_ref()
                .map(|p| p.as_str().to_owned())
                .unwrap_or_else(|| "–".to_owned()),
        ),
        ("Category", r.category.clone()),
        ("Purpose", r.purpose.clone()),
        ("Source", opt(&r.source)),
        ("Recipient", opt(&r.recipient)),
        ("Decision", r.decision.to_string()),
        ("Outcome", r.outcome.to_string()),
        ("Basis", basis_text(r.basis.as_ref())),
        (
            "Reasons",
            if r.reasons.is_empty() {
                "–".to_owned()
            } else {
                r.reasons
                    .iter()
                    .map(|x| format!("{}: {}", x.code, x.message))
                    .collect::<Vec<_>>()
                    .join("; ")
            },
        ),
        ("Fields disclosed", list(&r.fields_disclosed)),
        ("Fields redacted", list(&r.fields_redacted)),
        ("Payload digest", opt(&r.payload_digest)),
        ("Policy version", r.policy_version.clone()),
        ("Previous hash", c.prev_hash.clone()),
        ("Hash", c.hash.clone()),
    ];
    render(&RecordPage {
        csrf: signed.session.csrf.clone(),
        who: signed.session.sub.clone(),
        seq: c.seq,
        fields,
    })
}

// ---------------------------------------------------------------------------------------------
// Chain status

/// A witness co-signature as the chain page lists it.
pub(super) struct WitnessRow {
    seq: u64,
    witness_key_id: String,
    received_at: String,
}

/// A verification still running: records checked so far of the head when it started.
pub(super) struct Running {
    checked: u64,
    total: u64,
    started: String,
}

#[derive(Template)]
#[template(path = "dpo/chain.html")]
pub(super) struct ChainPage {
    csrf: String,
    who: String,
    head_seq: u64,
    head_hash: String,
    checkpoint: Option<(u64, String, String)>,
    running: Option<Running>,
    verification: Option<Verification>,
    verified_at: String,
    failure: Option<String>,
    witnesses: Vec<WitnessRow>,
}

/// Witness co-signatures shown on the chain page: the newest first.
const WITNESSES_SHOWN: usize = 20;

/// `GET /dpo/chain`: the head, the last checkpoint and its witnesses, and this session's
/// verification — with its progress while it runs (the page then refreshes itself).
pub async fn chain(State(state): State<WebState>, signed: SignedIn) -> Response {
    let store = state.app.store();
    let head = match store.audit_head().await {
        Ok(h) => h,
        Err(e) => return unavailable(e),
    };
    let checkpoint = match audit::all_checkpoints(store).await {
        Ok(all) => all
            .last()
            .map(|c| (c.seq, instant_text(c.at), c.key_id.clone())),
        Err(e) => return unavailable(e),
    };
    let witnesses = match store.witness_signatures().await {
        Ok(all) => all
            .iter()
            .rev()
            .take(WITNESSES_SHOWN)
            .map(|w| WitnessRow {
                seq: w.seq,
                witness_key_id: w.witness_key_id.clone(),
                received_at: instant_text(w.received_at),
            })
            .collect(),
        Err(e) => return unavailable(e),
    };
    let job = signed.session.verification.clone();
    let (running, verification, failure) = match job.as_ref().map(|j| (j, j.outcome())) {
        None => (None, None, None),
        Some((j, None)) => (
            Some(Running {
                checked: j.checked(),
                total: j.total,
                started: instant_text(j.started),
            }),
            None,
            None,
        ),
        Some((_, Some(Ok(v)))) => (None, Some(v), None),
        Some((_, Some(Err(e)))) => (None, None, Some(e)),
    };
    render(&ChainPage {
        csrf: signed.session.csrf.clone(),
        who: signed.session.sub.clone(),
        head_seq: head.seq,
        head_hash: head.hash,
        checkpoint,
        running,
        verification,
        verified_at: job.map(|j| instant_text(j.started)).unwrap_or_default(),
        failure,
        witnesses,
    })
}

/// `POST /dpo/chain/verify`: starts recomputing the whole chain in the background (unless this
/// session's verification is still running) and sends the browser to the chain page, which shows
/// the progress.
pub async fn verify_now(
    State(state): State<WebState>,
    signed: SignedIn,
    Form(form): Form<CsrfForm>,
) -> Response {
    if !csrf_ok(&signed, &form.csrf) {
        return stale_form();
    }
    let total = match state.app.store().audit_head().await {
        Ok(h) => h.seq,
        Err(e) => return unavailable(e),
    };
    let job = Arc::new(VerifyJob::new(total, state.app.clock().now()));
    if state.sessions.start_verification(&signed.id, job.clone()) {
        let store = state.app.store().clone();
        // The key in force and every retired one: checkpoints signed before a rotation verify too.
        let keys = verification_keys(
            &state.app.signing_key(),
            &state.app.config().audit.signing_key,
        );
        tokio::spawn(async move {
            let result = audit::verify(&store, &keys, None, |n| job.progress(n)).await;
            if let Ok(v) = &result
                && let Some(bad) = &v.first_bad
            {
                tracing::warn!(seq = bad.seq, problem = %bad.problem, "audit chain verification failed");
            }
            job.finish(result.map_err(|e| {
                tracing::error!(error = %e, "audit chain verification could not read the chain");
                "The audit trail could not be read.".to_owned()
            }));
        });
    }
    Redirect::to("/dpo/chain").into_response()
}
