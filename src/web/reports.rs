//! The subject report (a CPR number in a POSTed form, shown by pseudonym) and the statistics.

use askama::Template;
use axum::{
    Form,
    extract::{Query, State, rejection::QueryRejection},
    http::StatusCode,
    response::Response,
};
use serde::Deserialize;

use super::{
    SignedIn, WebState,
    pages::{basis_text, csrf_ok, render, stale_form, unavailable},
    svg,
};
use crate::{
    audit::report::{self, instant_text},
    cpr::Cpr,
};

// ---------------------------------------------------------------------------------------------
// Subject report

/// One line of the report as shown.
struct ReportLine {
    at: String,
    purpose: String,
    recipient: String,
    category: String,
    basis: String,
    decision: String,
}

#[derive(Template)]
#[template(path = "dpo/subject.html")]
struct SubjectPage {
    csrf: String,
    who: String,
    pseudonym: Option<String>,
    lines: Vec<ReportLine>,
    error: Option<String>,
}

/// `GET /dpo/subject`: the form.
pub async fn subject_form(signed: SignedIn) -> Response {
    render(&SubjectPage {
        csrf: signed.session.csrf.clone(),
        who: signed.session.sub.clone(),
        pseudonym: None,
        lines: Vec::new(),
        error: None,
    })
}

/// The subject form: the CPR number travels in this POST body only.
#[derive(Debug, Deserialize)]
pub struct SubjectForm {
    #[serde(default)]
    cpr: String,
    #[serde(default)]
    csrf: String,
}

/// `POST /dpo/subject`: the report for the CPR number entered, shown by pseudonym.
pub async fn subject_report(
    State(state): State<WebState>,
    signed: SignedIn,
    Form(form): Form<SubjectForm>,
) -> Response {
    if !csrf_ok(&signed, &form.csrf) {
        return stale_form();
    }
    let page = |pseudonym, lines, error| SubjectPage {
        csrf: signed.session.csrf.clone(),
        who: signed.session.sub.clone(),
        pseudonym,
        lines,
        error,
    };
    let Ok(cpr) = Cpr::parse(&form.cpr) else {
        let mut response = render(&page(
            None,
            Vec::new(),
            Some("That is not a CPR number (DDMMYY-SSSS).".to_owned()),
        ));
        *response.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
        return response;
    };
    let pseudonym = cpr.pseudonym(state.app.pseudonym_key());
    let report = match report::subject_report(state.app.store(), pseudonym).await {
        Ok(r) => r,
        Err(e) => return unavailable(e),
    };
    let lines = report
        .disclosures
        .iter()
        .map(|d| ReportLine {
            at: instant_text(d.at),
            purpose: d.purpose.clone(),
            recipient: d.recipient.clone().unwrap_or_else(|| "–".to_owned()),
            category: d.category.clone(),
            basis: basis_text(d.basis.as_ref()),
            decision: d.decision.to_string(),
        })
        .collect();
    render(&page(
        Some(report.subject_pseudonym.as_str().to_owned()),
        lines,
        None,
    ))
}

// ---------------------------------------------------------------------------------------------
// Statistics

/// `GET /dpo/stats` query.
#[derive(Debug, Deserialize)]
pub struct StatsParams {
    weeks: Option<u32>,
}

/// Rows of a statistics table: name, disclosures, refusals.
type Table = Vec<(String, u64, u64)>;

#[derive(Template)]
#[template(path = "dpo/stats.html")]
struct StatsPage {
    csrf: String,
    who: String,
    weeks: u32,
    disclosures: u64,
    refusals: u64,
    weeks_chart: String,
    reasons_chart: String,
    tables: Vec<(&'static str, Table)>,
}

/// `GET /dpo/stats`: charts and tables over the last weeks.
pub async fn stats(
    State(state): State<WebState>,
    signed: SignedIn,
    params: Result<Query<StatsParams>, QueryRejection>,
) -> Response {
    let weeks = params
        .ok()
        .and_then(|Query(p)| p.weeks)
        .unwrap_or(12)
        .clamp(1, 520);
    let stats = match report::stats(state.app.store(), state.app.clock().now(), weeks).await {
        Ok(s) => s,
        Err(e) => return unavailable(e),
    };
    let table = |named: &[report::Named]| {
        named
            .iter()
            .map(|n| (n.key.clone(), n.tally.disclosures, n.tally.refusals))
            .collect()
    };
    render(&StatsPage {
        csrf: signed.session.csrf.clone(),
        who: signed.session.sub.clone(),
        weeks,
        disclosures: stats.total.disclosures,
        refusals: stats.total.refusals,
        weeks_chart: svg::disclosures_per_week(&stats.by_week),
        reasons_chart: svg::refusals_by_reason(&stats.refusals_by_reason),
        tables: vec![
            ("Recipient department", table(&stats.by_recipient)),
            ("Category", table(&stats.by_category)),
            ("Basis", table(&stats.by_basis)),
        ],
    })
}
