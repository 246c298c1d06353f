//! Assignments on PostgreSQL: native `uuid`, `date` and `timestamptz` columns, read back as text so
//! both backends share one row type.

use jiff::Timestamp;

use super::PgStore;
use crate::{
    cpr::Pseudonym,
    registry::{Assignment, AssignmentStore, EndReason},
    store::{StoreError, assignments::AssignmentRow, instant_text},
};

pub(super) const COLUMNS: &str = "id::text AS id, subject_pseudonym, contact_person, department, \
     to_char(start_date, 'YYYY-MM-DD') AS start_date, status, end_reason, \
     to_char(ended_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') AS ended_at, created_by, \
     to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') AS created_at";

impl AssignmentStore for PgStore {
    async fn insert_assignment(&self, a: &Assignment) -> Result<(), StoreError> {
        let mut tx = self.pool().begin().await?;
        let version = crate::store::bump_registry_version::<sqlx::Postgres>(&mut tx).await?;
        sqlx::query(
            "INSERT INTO assignments (id, subject_pseudonym, contact_person, department, start_date, \
             status, end_reason, ended_at, created_by, created_at) \
             VALUES ($1::uuid, $2, $3, $4, $5::date, $6, $7, $8::timestamptz, $9, $10::timestamptz)",
        )
        .bind(&a.id)
        .bind(a.subject.as_str())
        .bind(&a.contact_person)
        .bind(&a.department)
        .bind(a.start.to_string())
        .bind(a.status.to_string())
        .bind(a.end_reason.map(|r| r.as_str()))
        .bind(a.ended_at.map(instant_text))
        .bind(&a.created_by)
        .bind(instant_text(a.created_at))
        .execute(&mut *tx)
        .await?;
        crate::store::bump_subject_version::<sqlx::Postgres>(&mut tx, a.subject.as_str()).await?;
        tx.commit().await?;
        self.registry_written(version);
        Ok(())
    }

    async fn end_assignment(
        &self,
        id: &str,
        reason: EndReason,
        at: Timestamp,
    ) -> Result<Option<Assignment>, StoreError> {
        if uuid::Uuid::parse_str(id).is_err() {
            return Ok(None);
        }
        let mut tx = self.pool().begin().await?;
        let version = crate::store::bump_registry_version::<sqlx::Postgres>(&mut tx).await?;
        let row: Option<AssignmentRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "UPDATE assignments SET status = 'ended', end_reason = $1, ended_at = $2::timestamptz \
             WHERE id = $3::uuid AND status = 'active' RETURNING {COLUMNS}"
        )))
        .bind(reason.as_str())
        .bind(instant_text(at))
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
        if let Some(row) = &row {
            crate::store::bump_subject_version::<sqlx::Postgres>(&mut tx, &row.subject_pseudonym)
                .await?;
        }
        tx.commit().await?;
        self.registry_written(version);
        row.map(Assignment::try_from).transpose()
    }

    async fn assignment(&self, id: &str) -> Result<Option<Assignment>, StoreError> {
        if uuid::Uuid::parse_str(id).is_err() {
            return Ok(None);
        }
        let row: Option<AssignmentRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM assignments WHERE id = $1::uuid"
        )))
        .bind(id)
        .fetch_optional(self.pool())
        .await?;
        row.map(Assignment::try_from).transpose()
    }

    async fn assignments_of(&self, subject: &Pseudonym) -> Result<Vec<Assignment>, StoreError> {
        assignments_of(self.pool(), subject).await
    }
}

/// Every assignment of a subject, newest first, through `executor` (the pool, or a connection
/// already held for several reads).
pub(super) async fn assignments_of<'e>(
    executor: impl sqlx::PgExecutor<'e>,
    subject: &Pseudonym,
) -> Result<Vec<Assignment>, StoreError> {
    let rows: Vec<AssignmentRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM assignments WHERE subject_pseudonym = $1 \
         ORDER BY assignments.created_at DESC, assignments.id"
    )))
    .bind(subject.as_str())
    .fetch_all(executor)
    .await?;
    rows.into_iter().map(Assignment::try_from).collect()
}
