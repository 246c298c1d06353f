//! `AuditQuery` for the backend-neutral [`Store`], and the filter SQL both backends share.

use jiff::Timestamp;
use sqlx::{Database, QueryBuilder};

use super::{Store, StoreError, audit::db_seq};
use crate::audit::{AuditCount, AuditFilter, AuditQuery, StoredRecord, canonical::format_instant};

/// A grouped-count row as both backends return it.
#[derive(Debug, sqlx::FromRow)]
pub(super) struct CountRow {
    pub hour: String,
    pub recipient: Option<String>,
    pub category: String,
    pub basis_kind: Option<String>,
    pub basis_id: Option<String>,
    pub decision: String,
    pub outcome: String,
    pub count: i64,
}

impl From<CountRow> for AuditCount {
    fn from(row: CountRow) -> Self {
        AuditCount {
            hour: row.hour,
            recipient: row.recipient,
            category: row.category,
            basis_kind: row.basis_kind,
            basis_id: row.basis_id,
            decision: row.decision,
            outcome: row.outcome,
            count: u64::try_from(row.count).unwrap_or(0),
        }
    }
}

/// How a query finds the records of one subject, requester or department, or of a time range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Lookups {
    /// Through indexes on `audit_log` (PostgreSQL).
    Indexed,
    /// Through the lookup tables written behind the chain (SQLite, decision 0021).
    Trailing,
}

/// Appends ` WHERE …` for `filter` and `seq < before`, then ` ORDER BY seq DESC LIMIT …`.
/// `instant_cast` follows each bound instant (`::timestamptz` on PostgreSQL, nothing on SQLite,
/// whose `at` is canonical RFC 3339 text that sorts as time does). Each condition is served by an
/// index paired with `seq`: on `audit_log`, or as `lookups` says.
pub(super) fn push_query<DB>(
    qb: &mut QueryBuilder<DB>,
    filter: &AuditFilter,
    before: Option<u64>,
    limit: u32,
    instant_cast: &str,
    lookups: Lookups,
) -> Result<(), StoreError>
where
    DB: Database,
    String: for<'t> sqlx::Encode<'t, DB> + sqlx::Type<DB>,
    i64: for<'t> sqlx::Encode<'t, DB> + sqlx::Type<DB>,
{
    use super::sqlite::{Lookup, equals, push_lookup, within};
    qb.push(" WHERE 1 = 1");
    if let Some(subject) = &filter.subject {
        qb.push(" AND subject_pseudonym = ")
            .push_bind(subject.as_str().to_owned());
        if lookups == Lookups::Trailing {
            push_lookup(qb, &[Lookup::Subject], equals(subject.as_str()));
        }
    }
    if let Some(requester) = &filter.requester {
        qb.push(" AND requester_sub = ")
            .push_bind(requester.clone());
        if lookups == Lookups::Trailing {
            push_lookup(qb, &[Lookup::Requester], equals(requester));
        }
    }
    if let Some(dept) = &filter.department {
        qb.push(" AND (source = ")
            .push_bind(dept.clone())
            .push(" OR recipient = ")
            .push_bind(dept.clone())
            .push(")");
        if lookups == Lookups::Trailing {
            push_lookup(qb, &[Lookup::Source, Lookup::Recipient], equals(dept));
        }
    }
    if let Some(decision) = filter.decision {
        qb.push(" AND decision = ")
            .push_bind(decision.as_str().to_owned());
    }
    if let Some(from) = filter.from {
        qb.push(" AND at >= ")
            .push_bind(format_instant(from))
            .push(instant_cast);
    }
    if let Some(to) = filter.to {
        qb.push(" AND at < ")
            .push_bind(format_instant(to))
            .push(instant_cast);
    }
    if lookups == Lookups::Trailing && (filter.from.is_some() || filter.to.is_some()) {
        let (from, to) = (
            filter.from.map(format_instant),
            filter.to.map(format_instant),
        );
        push_lookup(qb, &[Lookup::At], within(from.as_deref(), to.as_deref()));
    }
    if let Some(before) = before {
        qb.push(" AND seq < ").push_bind(db_seq(before)?);
    }
    qb.push(" ORDER BY seq DESC LIMIT ")
        .push_bind(i64::from(limit));
    Ok(())
}

/// The lower bound of a count, as bound text.
pub(super) fn since_text(since: Timestamp) -> String {
    format_instant(since)
}

impl AuditQuery for Store {
    async fn query_audit(
        &self,
        filter: &AuditFilter,
        before: Option<u64>,
        limit: u32,
    ) -> Result<Vec<StoredRecord>, StoreError> {
        match self {
            Store::Sqlite(s) => s.query_audit(filter, before, limit).await,
            Store::Postgres(s) => s.query_audit(filter, before, limit).await,
        }
    }

    async fn audit_record(&self, seq: u64) -> Result<Option<StoredRecord>, StoreError> {
        match self {
            Store::Sqlite(s) => s.audit_record(seq).await,
            Store::Postgres(s) => s.audit_record(seq).await,
        }
    }

    async fn audit_counts(&self, since: Timestamp) -> Result<Vec<AuditCount>, StoreError> {
        match self {
            Store::Sqlite(s) => s.audit_counts(since).await,
            Store::Postgres(s) => s.audit_counts(since).await,
        }
    }

    async fn refusal_reasons(&self, since: Timestamp) -> Result<Vec<(String, u64)>, StoreError> {
        match self {
            Store::Sqlite(s) => s.refusal_reasons(since).await,
            Store::Postgres(s) => s.refusal_reasons(since).await,
        }
    }
}
