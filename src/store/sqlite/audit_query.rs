//! The DPO's queries on SQLite. `at` is canonical RFC 3339 text, so ranges compare as text; they
//! are found through the lookup by time (decision 0021).

use jiff::Timestamp;
use sqlx::{QueryBuilder, Sqlite};

use super::{Lookup, SqliteStore, audit::SELECT_COLUMNS, push_lookup, within};
use crate::{
    audit::{AuditCount, AuditFilter, AuditQuery, StoredRecord},
    store::{
        StoreError,
        audit::{AuditRow, db_seq},
        audit_query::{CountRow, Lookups, push_query, since_text},
    },
};

impl AuditQuery for SqliteStore {
    async fn query_audit(
        &self,
        filter: &AuditFilter,
        before: Option<u64>,
        limit: u32,
    ) -> Result<Vec<StoredRecord>, StoreError> {
        let mut qb: QueryBuilder<Sqlite> =
            QueryBuilder::new(format!("SELECT {SELECT_COLUMNS} FROM audit_log"));
        push_query(&mut qb, filter, before, limit, "", Lookups::Trailing)?;
        let rows: Vec<AuditRow> = qb.build_query_as().fetch_all(self.pool()).await?;
        rows.into_iter().map(AuditRow::into_stored).collect()
    }

    async fn audit_record(&self, seq: u64) -> Result<Option<StoredRecord>, StoreError> {
        let row: Option<AuditRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {SELECT_COLUMNS} FROM audit_log WHERE seq = $1"
        )))
        .bind(db_seq(seq)?)
        .fetch_optional(self.pool())
        .await?;
        row.map(AuditRow::into_stored).transpose()
    }

    async fn audit_counts(&self, since: Timestamp) -> Result<Vec<AuditCount>, StoreError> {
        let since = since_text(since);
        let mut qb: QueryBuilder<Sqlite> = QueryBuilder::new(
            "SELECT substr(at, 1, 13) AS hour, recipient, category, basis_kind, basis_id, \
             decision, outcome, count(*) AS count FROM audit_log WHERE at >= ",
        );
        qb.push_bind(since.clone());
        push_lookup(&mut qb, &[Lookup::At], within(Some(&since), None));
        qb.push(" GROUP BY 1, 2, 3, 4, 5, 6, 7");
        let rows: Vec<CountRow> = qb.build_query_as().fetch_all(self.pool()).await?;
        Ok(rows.into_iter().map(AuditCount::from).collect())
    }

    async fn refusal_reasons(&self, since: Timestamp) -> Result<Vec<(String, u64)>, StoreError> {
        // A hand-edited `reasons` that is not JSON is skipped here; `verify` reports it.
        let since = since_text(since);
        let mut qb: QueryBuilder<Sqlite> = QueryBuilder::new(
            "SELECT json_extract(j.value, '$.code') AS code, count(DISTINCT a.seq) AS n \
             FROM audit_log AS a, json_each(a.reasons) AS j \
             WHERE a.decision = 'deny' AND json_valid(a.reasons) \
             AND json_type(a.reasons) = 'array' \
             AND json_type(j.value, '$.code') = 'text' AND a.at >= ",
        );
        qb.push_bind(since.clone());
        push_lookup(&mut qb, &[Lookup::At], within(Some(&since), None));
        qb.push(" GROUP BY 1 ORDER BY n DESC, code");
        let rows: Vec<(String, i64)> = qb.build_query_as().fetch_all(self.pool()).await?;
        Ok(rows
            .into_iter()
            .map(|(code, n)| (code, u64::try_from(n).unwrap_or(0)))
            .collect())
    }
}
