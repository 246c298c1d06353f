//! What the DPO reads out of the trail: a subject's report (GDPR Art. 15) and statistics.
//!
//! Following CJEU C-579/21, a subject learns the dates, purposes, categories, legal bases and
//! recipient *departments* of the disclosures about them — never which employee asked.

use std::collections::BTreeMap;

use jiff::{Timestamp, ToSpan, civil::Date};
use serde::Serialize;

use super::{
    AuditDecision, AuditFilter, AuditQuery, ChainedRecord, Outcome, StoredRecord, canonical,
};
use crate::{clock::copenhagen, cpr::Pseudonym, policy::Basis, store::StoreError};

/// Records read per query while a report is assembled.
const REPORT_PAGE: u32 = 1000;

/// One disclosure (or refusal) in a subject report: no requester, no payload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SubjectDisclosure {
    /// When it was decided.
    #[serde(with = "super::record::canonical_instant")]
    pub at: Timestamp,
    /// Why the data was asked for.
    pub purpose: String,
    /// The department that received it.
    pub recipient: Option<String>,
    /// The data category.
    pub category: String,
    /// What it rested on (a permit's consent or legal basis).
    pub basis: Option<Basis>,
    /// `permit` for a disclosure, `deny` for a refusal.
    pub decision: AuditDecision,
}

/// `POST /v1/audit/subject-report`'s answer.
#[derive(Debug, Clone, Serialize)]
pub struct SubjectReport {
    /// The subject's pseudonym (the CPR number is never returned).
    pub subject_pseudonym: Pseudonym,
    /// Every disclosure about the subject (outcome `disclosed` or `delivered`) and every refusal,
    /// oldest first.
    pub disclosures: Vec<SubjectDisclosure>,
}

impl SubjectDisclosure {
    /// The report line of a record, if the record belongs in a report: a disclosure or a refusal
    /// (a permit that released nothing — `not_found`, `source_unavailable` — is not).
    pub fn from_record(record: &ChainedRecord) -> Option<SubjectDisclosure> {
        let r = &record.record;
        let listed = matches!(r.outcome, Outcome::Disclosed | Outcome::Delivered)
            || r.decision == AuditDecision::Deny;
        listed.then(|| SubjectDisclosure {
            at: r.at,
            purpose: r.purpose.clone(),
            recipient: r.recipient.clone(),
            category: r.category.clone(),
            basis: r.basis.clone(),
            decision: r.decision,
        })
    }
}

/// Every report line about `subject`, oldest first.
pub async fn subject_report(
    store: &impl AuditQuery,
    subject: Pseudonym,
) -> Result<SubjectReport, StoreError> {
    let filter = AuditFilter {
        subject: Some(subject.clone()),
        ..AuditFilter::default()
    };
    let mut disclosures = Vec::new();
    let mut before = None;
    loop {
        let rows = store.query_audit(&filter, before, REPORT_PAGE).await?;
        let done = rows.len() < REPORT_PAGE as usize;
        before = rows.last().map(|r| r.seq);
        for row in rows {
            let record = row.into_chained().map_err(StoreError::Corrupt)?;
            // INVARIANT: only records about this subject are listed, whatever the query returned.
            if record.record.subject_pseudonym.as_ref() != Some(&subject) {
                continue;
            }
            disclosures.extend(SubjectDisclosure::from_record(&record));
        }
        if done || before.is_none() {
            break;
        }
    }
    disclosures.reverse();
    Ok(SubjectReport {
        subject_pseudonym: subject,
        disclosures,
    })
}

/// Disclosures and refusals in one group.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Tally {
    /// Records whose outcome is `disclosed` or `delivered`.
    pub disclosures: u64,
    /// Records whose decision is `deny`.
    pub refusals: u64,
}

impl Tally {
    fn add(&mut self, decision: &str, outcome: &str, count: u64) {
        if matches!(outcome, "disclosed" | "delivered") {
            self.disclosures += count;
        }
        if decision == "deny" {
            self.refusals += count;
        }
    }
}

/// One ISO week of the statistics.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WeekTally {
    /// The ISO week, e.g. `2026-W09`.
    pub week: String,
    /// Its Monday.
    pub start: Date,
    /// The week's totals.
    #[serde(flatten)]
    pub tally: Tally,
    /// Disclosures per recipient department that week.
    pub disclosures_by_recipient: BTreeMap<String, u64>,
}

/// A group of the statistics with its name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Named {
    /// The department, category or `kind:id` of a basis.
    pub key: String,
    /// The group's totals.
    #[serde(flatten)]
    pub tally: Tally,
}

/// `GET /v1/audit/stats`'s answer: counts over the last `weeks` ISO weeks (Copenhagen time),
/// the current one included.
#[derive(Debug, Clone, Serialize)]
pub struct AuditStats {
    /// How many weeks.
    pub weeks: u32,
    /// The first instant counted (Monday 00:00 of the first week).
    #[serde(with = "super::record::canonical_instant")]
    pub since: Timestamp,
    /// Everything in the window.
    pub total: Tally,
    /// Per recipient department (`-` for none).
    pub by_recipient: Vec<Named>,
    /// Per data category.
    pub by_category: Vec<Named>,
    /// Per basis, keyed `kind:id` (records without a basis are not listed).
    pub by_basis: Vec<Named>,
    /// Per ISO week, oldest first, every week listed (zeros included).
    pub by_week: Vec<WeekTally>,
    /// Refusals per reason code, most frequent first.
    pub refusals_by_reason: Vec<ReasonCount>,
}

/// Refusals giving one reason code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReasonCount {
    /// The reason code.
    pub code: String,
    /// How many refusals give it.
    pub refusals: u64,
}

/// The ISO week label of a date, e.g. `2026-W09`.
pub fn iso_week(date: Date) -> String {
    let w = date.iso_week_date();
    format!("{:04}-W{:02}", w.year(), w.week())
}

/// Counts the last `weeks` ISO weeks up to `now` (at least one).
pub async fn stats(
    store: &impl AuditQuery,
    now: Timestamp,
    weeks: u32,
) -> Result<AuditStats, StoreError> {
    let weeks = weeks.max(1);
    let tz = copenhagen();
    let today = now.to_zoned(tz.clone()).date();
    let back = i64::from(today.weekday().to_monday_zero_offset()) + 7 * (i64::from(weeks) - 1);
    let first_monday = today
        .checked_sub(back.days())
        .map_err(|e| StoreError::Corrupt(format!("week range: {e}")))?;
    let since = first_monday
        .to_zoned(tz.clone())
        .map_err(|e| StoreError::Corrupt(format!("week range: {e}")))?
        .timestamp();

    let mut by_week: Vec<WeekTally> = Vec::new();
    let mut monday = first_monday;
    for _ in 0..weeks {
        by_week.push(WeekTally {
            week: iso_week(monday),
            start: monday,
            tally: Tally::default(),
            disclosures_by_recipient: BTreeMap::new(),
        });
        monday = match monday.checked_add(7.days()) {
            Ok(next) => next,
            Err(_) => break,
        };
    }

    let mut total = Tally::default();
    let mut by_recipient: BTreeMap<String, Tally> = BTreeMap::new();
    let mut by_category: BTreeMap<String, Tally> = BTreeMap::new();
    let mut by_basis: BTreeMap<String, Tally> = BTreeMap::new();
    for c in store.audit_counts(since).await? {
        let (d, o, n) = (c.decision.as_str(), c.outcome.as_str(), c.count);
        total.add(d, o, n);
        let recipient = c.recipient.clone().unwrap_or_else(|| "-".to_owned());
        by_recipient
            .entry(recipient.clone())
            .or_default()
            .add(d, o, n);
        by_category
            .entry(c.category.clone())
            .or_default()
            .add(d, o, n);
        if let (Some(kind), Some(id)) = (&c.basis_kind, &c.basis_id) {
            by_basis
                .entry(format!("{kind}:{id}"))
                .or_default()
                .add(d, o, n);
        }
        let day = format!("{}:00:00Z", c.hour)
            .parse::<Timestamp>()
            .map(|at| at.to_zoned(tz.clone()).date());
        let Ok(day) = day else { continue };
        let label = iso_week(day);
        if let Some(week) = by_week.iter_mut().find(|w| w.week == label) {
            week.tally.add(d, o, n);
            if matches!(o, "disclosed" | "delivered") {
                *week.disclosures_by_recipient.entry(recipient).or_default() += n;
            }
        }
    }
    let named = |map: BTreeMap<String, Tally>| {
        map.into_iter()
            .map(|(key, tally)| Named { key, tally })
            .collect()
    };
    Ok(AuditStats {
        weeks,
        since,
        total,
        by_recipient: named(by_recipient),
        by_category: named(by_category),
        by_basis: named(by_basis),
        by_week,
        refusals_by_reason: store
            .refusal_reasons(since)
            .await?
            .into_iter()
            .map(|(code, refusals)| ReasonCount { code, refusals })
            .collect(),
    })
}

/// A record's `at` as the canonical text, for display.
pub fn instant_text(at: Timestamp) -> String {
    canonical::format_instant(at)
}

/// Reads one record in full by its position.
pub async fn record_at(
    store: &impl AuditQuery,
    seq: u64,
) -> Result<Option<ChainedRecord>, StoreError> {
    store
        .audit_record(seq)
        .await?
        .map(StoredRecord::into_chained)
        .transpose()
        .map_err(StoreError::Corrupt)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_weeks_follow_iso_8601_at_the_year_boundary() {
        assert_eq!(iso_week("2026-01-01".parse().unwrap()), "2026-W01");
        assert_eq!(iso_week("2027-01-01".parse().unwrap()), "2026-W53");
        assert_eq!(iso_week("2025-12-29".parse().unwrap()), "2026-W01");
    }
}
