//! Assignments on SQLite.

use jiff::Timestamp;

use super::SqliteStore;
use crate::{
    cpr::Pseudonym,
    registry::{Assignment, AssignmentStore, EndReason},
    store::{StoreError, assignments::AssignmentRow, instant_text},
};

const COLUMNS: &str = "id, subject_pseudonym, contact_person, department, start_date, status, \
                       end_reason, ended_at, created_by, created_at";

impl AssignmentStore for SqliteStore {
    async fn insert_assignment(&self, a: &Assignment) -> Result<(), StoreError> {
        let _write = self.write_lock().await;
        let mut tx = self.pool().begin().await?;
        let version = crate::store::bump_registry_version::<sqlx::Sqlite>(&mut tx).await?;
        sqlx::query(
            "INSERT INTO assignments (id, subject_pseudonym, contact_person, department, start_date, \
             status, end_reason, ended_at, created_by, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
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
        crate::store::bump_subject_version::<sqlx::Sqlite>(&mut tx, a.subject.as_str()).await?;
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
        let _write = self.write_lock().await;
        let mut tx = self.pool().begin().await?;
        let version = crate::store::bump_registry_version::<sqlx::Sqlite>(&mut tx).await?;
        let row: Option<AssignmentRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "UPDATE assignments SET status = 'ended', end_reason = $1, ended_at = $2 \
             WHERE id = $3 AND status = 'active' RETURNING {COLUMNS}"
        )))
        .bind(reason.as_str())
        .bind(instant_text(at))
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
        if let Some(row) = &row {
            crate::store::bump_subject_version::<sqlx::Sqlite>(&mut tx, &row.subject_pseudonym)
                .await?;
        }
        tx.commit().await?;
        self.registry_written(version);
        row.map(Assignment::try_from).transpose()
    }

    async fn assignment(&self, id: &str) -> Result<Option<Assignment>, StoreError> {
        let row: Option<AssignmentRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM assignments WHERE id = $1"
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
    executor: impl sqlx::SqliteExecutor<'e>,
    subject: &Pseudonym,
) -> Result<Vec<Assignment>, StoreError> {
    let rows: Vec<AssignmentRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM assignments WHERE subject_pseudonym = $1 \
         ORDER BY created_at DESC, id"
    )))
    .bind(subject.as_str())
    .fetch_all(executor)
    .await?;
    rows.into_iter().map(Assignment::try_from).collect()
}
