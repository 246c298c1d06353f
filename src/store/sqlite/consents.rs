//! Consents on SQLite.

use super::SqliteStore;
use crate::{
    consent::{Consent, ConsentStore, Withdrawal},
    cpr::Pseudonym,
    store::{
        StoreError,
        consents::{ConsentRow, json_text},
        instant_text,
    },
};

const COLUMNS: &str = "id, subject_pseudonym, givers, categories, recipients, purposes, \
     special_categories, valid_from, valid_until, evidence, policy_version, recorded_by, \
     recorded_by_dept, recorded_at, withdrawn_at, withdrawn_by, withdraw_reason";

impl ConsentStore for SqliteStore {
    async fn insert_consent(&self, c: &Consent) -> Result<(), StoreError> {
        let _write = self.write_lock().await;
        let mut tx = self.pool().begin().await?;
        let version = crate::store::bump_registry_version::<sqlx::Sqlite>(&mut tx).await?;
        sqlx::query(
            "INSERT INTO consents (id, subject_pseudonym, givers, categories, recipients, purposes, \
             special_categories, valid_from, valid_until, evidence, policy_version, recorded_by, \
             recorded_by_dept, recorded_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
        )
        .bind(&c.id)
        .bind(c.subject.as_str())
        .bind(json_text(&c.givers))
        .bind(json_text(&c.scope.categories))
        .bind(json_text(&c.scope.recipients))
        .bind(json_text(&c.scope.purposes))
        .bind(c.scope.special_categories)
        .bind(c.valid_from.to_string())
        .bind(c.valid_until.to_string())
        .bind(&c.evidence)
        .bind(&c.policy_version)
        .bind(&c.recorded_by)
        .bind(&c.recorded_by_dept)
        .bind(instant_text(c.recorded_at))
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO consent_events (consent_id, event, at, actor) VALUES ($1, 'recorded', $2, $3)",
        )
        .bind(&c.id)
        .bind(instant_text(c.recorded_at))
        .bind(&c.recorded_by)
        .execute(&mut *tx)
        .await?;
        crate::store::bump_subject_version::<sqlx::Sqlite>(&mut tx, c.subject.as_str()).await?;
        tx.commit().await?;
        self.registry_written(version);
        Ok(())
    }

    async fn withdraw_consent(
        &self,
        id: &str,
        w: &Withdrawal,
    ) -> Result<Option<Consent>, StoreError> {
        let _write = self.write_lock().await;
        let mut tx = self.pool().begin().await?;
        let version = crate::store::bump_registry_version::<sqlx::Sqlite>(&mut tx).await?;
        let updated = sqlx::query(
            "UPDATE consents SET withdrawn_at = $1, withdrawn_by = $2, withdraw_reason = $3 \
             WHERE id = $4 AND withdrawn_at IS NULL",
        )
        .bind(instant_text(w.at))
        .bind(&w.by)
        .bind(&w.reason)
        .bind(id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if updated == 1 {
            sqlx::query(
                "INSERT INTO consent_events (consent_id, event, at, actor, reason) \
                 VALUES ($1, 'withdrawn', $2, $3, $4)",
            )
            .bind(id)
            .bind(instant_text(w.at))
            .bind(&w.by)
            .bind(&w.reason)
            .execute(&mut *tx)
            .await?;
        }
        let row: Option<ConsentRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM consents WHERE id = $1"
        )))
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
        if let Some(row) = &row {
            crate::store::bump_subject_version::<sqlx::Sqlite>(&mut tx, &row.subject_pseudonym)
                .await?;
        }
        tx.commit().await?;
        self.registry_written(version);
        row.map(Consent::try_from).transpose()
    }

    async fn consent(&self, id: &str) -> Result<Option<Consent>, StoreError> {
        let row: Option<ConsentRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM consents WHERE id = $1"
        )))
        .bind(id)
        .fetch_optional(self.pool())
        .await?;
        row.map(Consent::try_from).transpose()
    }

    async fn consents_of(&self, subject: &Pseudonym) -> Result<Vec<Consent>, StoreError> {
        consents_of(self.pool(), subject).await
    }
}

/// Every consent of a subject, oldest first, through `executor` (the pool, or a connection
/// already held for several reads).
pub(super) async fn consents_of<'e>(
    executor: impl sqlx::SqliteExecutor<'e>,
    subject: &Pseudonym,
) -> Result<Vec<Consent>, StoreError> {
    let rows: Vec<ConsentRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM consents WHERE subject_pseudonym = $1 ORDER BY recorded_at, id"
    )))
    .bind(subject.as_str())
    .fetch_all(executor)
    .await?;
    rows.into_iter().map(Consent::try_from).collect()
}
