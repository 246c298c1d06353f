//! Notices and inboxes on SQLite.

use jiff::Timestamp;
use sqlx::{QueryBuilder, Sqlite};

use super::SqliteStore;
use crate::{
    notices::{NoticeRecord, NoticeStore, Received},
    store::{
        StoreError, instant_text,
        notices::{InboxRow, NoticeRow, after_seq},
    },
};

const NOTICE_COLUMNS: &str = "id, sender_dept, sender_sub, idempotency_key, body_digest, kind, \
     subject_pseudonym, response, created_at";
const INBOX_COLUMNS: &str = "seq, id, notice_id, recipient_dept, kind, sealed, redacted, basis, \
     disclosure_id, received_at, acked_at, acked_by";

impl NoticeStore for SqliteStore {
    async fn notice_by_key(
        &self,
        dept: &str,
        key: &str,
    ) -> Result<Option<NoticeRecord>, StoreError> {
        let row: Option<NoticeRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {NOTICE_COLUMNS} FROM notices WHERE sender_dept = $1 AND idempotency_key = $2"
        )))
        .bind(dept)
        .bind(key)
        .fetch_optional(self.pool())
        .await?;
        row.map(NoticeRecord::try_from).transpose()
    }

    async fn notified_recipients(&self, notice_id: &str) -> Result<Vec<String>, StoreError> {
        let rows: Vec<String> =
            sqlx::query_scalar("SELECT recipient_dept FROM inbox_items WHERE notice_id = $1")
                .bind(notice_id)
                .fetch_all(self.pool())
                .await?;
        Ok(rows)
    }

    async fn inbox(
        &self,
        recipient: &str,
        after: Option<u64>,
        limit: u32,
    ) -> Result<Vec<Received>, StoreError> {
        let rows: Vec<InboxRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {INBOX_COLUMNS} FROM inbox_items WHERE recipient_dept = $1 AND seq > $2 \
             ORDER BY seq LIMIT $3"
        )))
        .bind(recipient)
        .bind(after_seq(after))
        .bind(i64::from(limit))
        .fetch_all(self.pool())
        .await?;
        rows.into_iter().map(Received::try_from).collect()
    }

    async fn ack(
        &self,
        recipient: &str,
        notice_id: &str,
        by: &str,
        at: Timestamp,
    ) -> Result<bool, StoreError> {
        let found: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM inbox_items WHERE recipient_dept = $1 AND notice_id = $2",
        )
        .bind(recipient)
        .bind(notice_id)
        .fetch_one(self.pool())
        .await?;
        // The first acknowledgement counts; repeating it is harmless.
        let _write = self.write_lock().await;
        sqlx::query(
            "UPDATE inbox_items SET acked_at = $1, acked_by = $2 \
             WHERE recipient_dept = $3 AND notice_id = $4 AND acked_at IS NULL",
        )
        .bind(instant_text(at))
        .bind(by)
        .bind(recipient)
        .bind(notice_id)
        .execute(self.pool())
        .await?;
        Ok(found > 0)
    }
}

impl crate::notices::withdrawal::ConsentDisclosures for SqliteStore {
    async fn disclosures_on_consent(
        &self,
        consent_id: &str,
    ) -> Result<Vec<crate::notices::withdrawal::PastDisclosure>, StoreError> {
        // PostgreSQL's `DISCLOSURES_ON_CONSENT`, through the lookup written behind the chain.
        let mut qb: QueryBuilder<Sqlite> = QueryBuilder::new(
            "SELECT CAST(disclosure_id AS TEXT) AS disclosure_id, recipient, category, purpose \
             FROM audit_log WHERE basis_kind = 'consent' \
             AND outcome IN ('disclosed', 'delivered') AND basis_id = ",
        );
        qb.push_bind(consent_id.to_owned());
        super::push_lookup(&mut qb, &[super::Lookup::Basis], super::equals(consent_id));
        qb.push(" ORDER BY seq");
        let rows: Vec<crate::store::notices::PastDisclosureRow> =
            qb.build_query_as().fetch_all(self.pool()).await?;
        Ok(rows
            .into_iter()
            .filter_map(|r| r.into_disclosure())
            .collect())
    }
}
