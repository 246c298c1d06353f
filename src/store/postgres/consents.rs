//! Consents on PostgreSQL: `jsonb` lists, `date` and `timestamptz` columns, read back as text.

use super::PgStore;
use crate::{
    consent::{Consent, ConsentStore, Withdrawal},
    cpr::Pseudonym,
    store::{
        StoreError,
        consents::{ConsentRow, json_text},
        instant_text,
    },
};

pub(super) const COLUMNS: &str = "id::text AS id, subject_pseudonym, givers::text AS givers, \
     categories::text AS categories, recipients::text AS recipients, purposes::text AS purposes, \
     special_categories, to_char(valid_from, 'YYYY-MM-DD') AS valid_from, \
     to_char(valid_until, 'YYYY-MM-DD') AS valid_until, evidence, policy_version, recorded_by, \
     recorded_by_dept, \
     to_char(recorded_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') AS recorded_at, \
     to_char(withdrawn_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') AS withdrawn_at, \
     withdrawn_by, withdraw_reason";

impl ConsentStore for PgStore {
    async fn insert_consent(&self, c: &Consent) -> Result<(), StoreError> {
        let mut tx = self.pool().begin().await?;
        let version = crate::store::bump_registry_version::<sqlx::Postgres>(&mut tx).await?;
        sqlx::query(
            "INSERT INTO consents (id, subject_pseudonym, givers, categories, recipients, purposes, \
             special_categories, valid_from, valid_until, evidence, policy_version, recorded_by, \
             recorded_by_dept, recorded_at) \
             VALUES ($1::uuid, $2, $3::jsonb, $4::jsonb, $5::jsonb, $6::jsonb, $7, $8::date, $9::date, $10, $11, \
             $12, $13, $14::timestamptz)",
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
            "INSERT INTO consent_events (consent_id, event, at, actor) VALUES ($1::uuid, 'recorded', $2::timestamptz, $3)",
        )
        .bind(&c.id)
        .bind(instant_text(c.recorded_at))
        .bind(&c.recorded_by)
        .execute(&mut *tx)
        .await?;
        crate::store::bump_subject_version::<sqlx::Postgres>(&mut tx, c.subject.as_str()).await?;
        tx.commit().await?;
        self.registry_written(version);
        Ok(())
    }

    async fn withdraw_consent(
        &self,
        id: &str,
        w: &Withdrawal,
    ) -> Result<Option<Consent>, StoreError> {
        if uuid::Uuid::parse_str(id).is_err() {
            return Ok(None);
        }
        let mut tx = self.pool().begin().await?;
        let version = crate::store::bump_registry_version::<sqlx::Postgres>(&mut tx).await?;
        let updated = sqlx::query(
            "UPDATE consents SET withdrawn_at = $1::timestamptz, withdrawn_by = $2, withdraw_reason = $3 \
             WHERE id = $4::uuid AND withdrawn_at IS NULL",
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
                 VALUES ($1::uuid, 'withdrawn', $2::timestamptz, $3, $4)",
            )
            .bind(id)
            .bind(instant_text(w.at))
            .bind(&w.by)
            .bind(&w.reason)
            .execute(&mut *tx)
            .await?;
        }
        let row: Option<ConsentRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM consents WHERE id = $1::uuid"
        )))
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
        if let Some(row) = &row {
            crate::store::bump_subject_version::<sqlx::Postgres>(&mut tx, &row.subject_pseudonym)
                .await?;
        }
        tx.commit().await?;
        self.registry_written(version);
        row.map(Consent::try_from).transpose()
    }

    async fn consent(&self, id: &str) -> Result<Option<Consent>, StoreError> {
        if uuid::Uuid::parse_str(id).is_err() {
            return Ok(None);
        }
        let row: Option<ConsentRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM consents WHERE id = $1::uuid"
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
    executor: impl sqlx::PgExecutor<'e>,
    subject: &Pseudonym,
) -> Result<Vec<Consent>, StoreError> {
    let rows: Vec<ConsentRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM consents WHERE subject_pseudonym = $1 \
         ORDER BY consents.recorded_at, consents.id"
    )))
    .bind(subject.as_str())
    .fetch_all(executor)
    .await?;
    rows.into_iter().map(Consent::try_from).collect()
}
