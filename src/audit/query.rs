//! Reading the trail for the DPO: filtered, keyset-paged queries and grouped counts.
//!
//! The queries are a separate capability from the chain itself ([`super::AuditStore`]): the
//! appender and the verifier never need them, and the DPO's tools never write.

use std::future::Future;

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use jiff::{Timestamp, civil::Date};

use super::{AuditDecision, ChainedRecord, StoredRecord};
use crate::{clock::copenhagen, cpr::Pseudonym, store::StoreError};

/// Which records a DPO query selects. Every filter that is set must hold.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditFilter {
    /// Records about this subject.
    pub subject: Option<Pseudonym>,
    /// Records of requests made by this `sub`.
    pub requester: Option<String>,
    /// Records whose source **or** recipient is this department.
    pub department: Option<String>,
    /// Permits or denials only.
    pub decision: Option<AuditDecision>,
    /// Records at or after this instant.
    pub from: Option<Timestamp>,
    /// Records strictly before this instant.
    pub to: Option<Timestamp>,
}

/// How many records of one kind of decision fell into one group (see [`AuditQuery::audit_counts`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditCount {
    /// The UTC hour the records fall in, as `YYYY-MM-DDTHH` (Copenhagen's offset is whole hours,
    /// so the caller can place each hour in a local day and ISO week exactly).
    pub hour: String,
    /// The recipient department, if any.
    pub recipient: Option<String>,
    /// The data category.
    pub category: String,
    /// `consent` or `legal`, if the record has a basis.
    pub basis_kind: Option<String>,
    /// The consent's or legal basis's id.
    pub basis_id: Option<String>,
    /// `permit` or `deny`.
    pub decision: String,
    /// The outcome's wire name.
    pub outcome: String,
    /// How many records.
    pub count: u64,
}

/// The DPO's read-only queries over the trail.
pub trait AuditQuery {
    /// Up to `limit` records matching `filter`, newest first (by `seq` descending), with
    /// `seq < before` when `before` is given (keyset paging).
    fn query_audit(
        &self,
        filter: &AuditFilter,
        before: Option<u64>,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<StoredRecord>, StoreError>> + Send;

    /// The record at `seq`, if there is one.
    fn audit_record(
        &self,
        seq: u64,
    ) -> impl Future<Output = Result<Option<StoredRecord>, StoreError>> + Send;

    /// Records at or after `since`, counted per UTC hour, recipient, category, basis, decision and
    /// outcome.
    fn audit_counts(
        &self,
        since: Timestamp,
    ) -> impl Future<Output = Result<Vec<AuditCount>, StoreError>> + Send;

    /// Reason codes of the denials at or after `since`, each with the number of denials that give
    /// it, most frequent first.
    fn refusal_reasons(
        &self,
        since: Timestamp,
    ) -> impl Future<Output = Result<Vec<(String, u64)>, StoreError>> + Send;
}

/// The first instant of `date` in Europe/Copenhagen.
fn start_of_day(date: Date) -> Option<Timestamp> {
    date.to_zoned(copenhagen()).ok().map(|z| z.timestamp())
}

/// Parses a query bound: an RFC 3339 instant (`2026-03-01T09:00:00Z`), taken as is, or a date
/// (`2026-03-01`), a whole Copenhagen day: as a lower bound its first instant, as an upper bound
/// the first instant of the next day (so `to: "2026-03-01"` includes that day). `None` if it is
/// neither.
pub fn parse_bound(text: &str, upper: bool) -> Option<Timestamp> {
    let text = text.trim();
    if let Ok(at) = text.parse::<Timestamp>() {
        return Some(at);
    }
    let date = text.parse::<Date>().ok()?;
    let day = if upper { date.tomorrow().ok()? } else { date };
    start_of_day(day)
}

const CURSOR_PREFIX: &str = "seq:";

/// An opaque page cursor for the position `seq` (the next page holds records before it).
pub fn encode_cursor(seq: u64) -> String {
    URL_SAFE_NO_PAD.encode(format!("{CURSOR_PREFIX}{seq}"))
}

/// The position a cursor from [`encode_cursor`] stands for; `None` for anything else.
pub fn decode_cursor(cursor: &str) -> Option<u64> {
    let bytes = URL_SAFE_NO_PAD.decode(cursor.trim()).ok()?;
    let text = String::from_utf8(bytes).ok()?;
    text.strip_prefix(CURSOR_PREFIX)?.parse().ok()
}

/// One page of a query: the records, newest first, and the cursor of the next page if there is
/// one.
#[derive(Debug, Clone)]
pub struct Page {
    /// The records.
    pub records: Vec<ChainedRecord>,
    /// Pass back as `cursor` for the next (older) page; `None` on the last page.
    pub next_cursor: Option<String>,
}

/// Reads one page: up to `limit` records matching `filter` before `cursor`, newest first.
pub async fn page(
    store: &impl AuditQuery,
    filter: &AuditFilter,
    cursor: Option<u64>,
    limit: u32,
) -> Result<Page, StoreError> {
    // One more than asked tells whether there is a next page without a second query.
    let mut rows = store
        .query_audit(filter, cursor, limit.saturating_add(1))
        .await?;
    let more = rows.len() > limit as usize;
    rows.truncate(limit as usize);
    let next_cursor = more
        .then(|| rows.last().map(|r| encode_cursor(r.seq)))
        .flatten();
    let records = rows
        .into_iter()
        .map(StoredRecord::into_chained)
        .collect::<Result<Vec<_>, _>>()
        .map_err(StoreError::Corrupt)?;
    Ok(Page {
        records,
        next_cursor,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_round_trips_and_garbage_is_refused() {
        assert_eq!(decode_cursor(&encode_cursor(42)), Some(42));
        assert_eq!(decode_cursor("42"), None);
        assert_eq!(decode_cursor("!!"), None);
    }

    #[test]
    fn a_date_bound_is_a_whole_copenhagen_day() {
        let from = parse_bound("2026-03-01", false).unwrap();
        let to = parse_bound("2026-03-01", true).unwrap();
        assert_eq!(from.to_string(), "2026-02-28T23:00:00Z");
        assert_eq!(to.to_string(), "2026-03-01T23:00:00Z");
        let at = parse_bound("2026-03-01T09:00:00+01:00", true).unwrap();
        assert_eq!(at.to_string(), "2026-03-01T08:00:00Z");
        assert_eq!(parse_bound("yesterday", false), None);
    }
}
