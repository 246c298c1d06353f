//! The DPO's queries on PostgreSQL.

use jiff::Timestamp;
use sqlx::{Postgres, QueryBuilder};

use super::{PgStore, audit::select_columns};
use crate::{
    audit::{AuditCount, AuditFilter, AuditQuery, StoredRecord},
    store::{
        StoreError,
        audit::{AuditRow, db_seq},
        audit_query::{CountRow, Lookups, push_query, since_text},
    },
};

impl AuditQuery for PgStore {
    async fn query_audit(
        &self,
        filter: &AuditFilter,
        before: Option<u64>,
        limit: u32,
    ) -> Result<Vec<StoredRecord>, StoreError> {
        let mut qb: QueryBuilder<Postgres> =
            QueryBuilder::new(format!("SELECT {} FROM audit_log", select_columns()));
        push_query(
            &mut qb,
            filter,
            before,
            limit,
            "::timestamptz",
            Lookups::Indexed,
        )?;
        let rows: Vec<AuditRow> = qb.build_query_as().fetch_all(self.pool()).await?;
        rows.into_iter().map(AuditRow::into_stored).collect()
    }

    async fn audit_record(&self, seq: u64) -> Result<Option<StoredRecord>, StoreError> {
        let row: Option<AuditRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {} FROM audit_log WHERE seq = $1",
            select_columns()
        )))
        .bind(db_seq(seq)?)
        .fetch_optional(self.pool())
        .await?;
        row.map(AuditRow::into_stored).transpose()
    }

    async fn audit_counts(&self, since: Timestamp) -> Result<Vec<AuditCount>, StoreError> {
        let rows: Vec<CountRow> = sqlx::query_as(
            "SELECT to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24') AS hour, recipient, \
             category, basis_kind, basis_id, decision, outcome, count(*) AS count \
             FROM audit_log WHERE at >= $1::timestamptz GROUP BY 1, 2, 3, 4, 5, 6, 7",
        )
        .bind(since_text(since))
        .fetch_all(self.pool())
        .await?;
        Ok(rows.into_iter().map(AuditCount::from).collect())
    }

    async fn refusal_reasons(&self, since: Timestamp) -> Result<Vec<(String, u64)>, StoreError> {
        let rows: Vec<(String, i64)> = sqlx::query_as(
            "SELECT r->>'code' AS code, count(DISTINCT a.seq) AS n \
             FROM audit_log AS a \
             CROSS JOIN LATERAL jsonb_array_elements( \
                 CASE WHEN jsonb_typeof(a.reasons) = 'array' THEN a.reasons ELSE '[]'::jsonb END \
             ) AS r \
             WHERE a.decision = 'deny' AND a.at >= $1::timestamptz \
             AND jsonb_typeof(r->'code') = 'string' \
             GROUP BY 1 ORDER BY n DESC, code",
        )
        .bind(since_text(since))
        .fetch_all(self.pool())
        .await?;
        Ok(rows
            .into_iter()
            .map(|(code, n)| (code, u64::try_from(n).unwrap_or(0)))
            .collect())
    }
}
