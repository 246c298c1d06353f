//! Notices and inboxes on SQLite.

use jiff::Timestamp;

use super::SqliteStore;
use crate::{
    notices::{Claim, InboxItem, NoticeRecord, NoticeStore},
    store::{
        StoreError,
        consents::json_text,
        instant_text,
        notices::{InboxRow, NoticeRow},
    },
};

const NOTICE_COLUMNS: &str = "id, sender_dept, sender_sub, idempotency_key, body_digest, kind, \
     subject_pseudonym, response, created_at";
const INBOX_COLUMNS: &str = "id, notice_id, recipient_dept, kind, sealed, redacted, basis, \
     disclosure_id, received_at, acked_at, acked_by";

async fn insert_items(
    conn: &mut sqlx::SqliteConnection,
    items: &[InboxItem],
) -> Result<(), StoreError> {
    for item in items {
        sqlx::query(
            "INSERT INTO inbox_items (id, notice_id, recipient_dept, kind, sealed, redacted, basis, \
             disclosure_id, received_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(&item.id)
        .bind(&item.notice_id)
        .bind(&item.recipient)
        .bind(&item.kind)
        .bind(&item.sealed)
        .bind(json_text(&item.redacted))
        .bind(item.basis.as_ref().map(json_text))
        .bind(&item.disclosure_id)
        .bind(instant_text(item.received_at))
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

impl NoticeStore for SqliteStore {
    async fn claim_notice(&self, n: &NoticeRecord) -> Result<Claim, StoreError> {
        let write = self.write_lock().await;
        let inserted = sqlx::query(
            "INSERT INTO notices (id, sender_dept, sender_sub, idempotency_key, body_digest, kind, \
             subject_pseudonym, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
             ON CONFLICT (sender_dept, idempotency_key) DO NOTHING",
        )
        .bind(&n.id)
        .bind(&n.sender_dept)
        .bind(&n.sender_sub)
        .bind(&n.idempotency_key)
        .bind(&n.body_digest)
        .bind(&n.kind)
        .bind(&n.subject_pseudonym)
        .bind(instant_text(n.created_at))
        .execute(self.pool())
        .await?
        .rows_affected();
        drop(write);
        if inserted == 1 {
            return Ok(Claim::New);
        }
        match self
            .notice_by_key(&n.sender_dept, &n.idempotency_key)
            .await?
        {
            Some(existing) => Ok(Claim::Existing(Box::new(existing))),
            None => Err(StoreError::Conflict("the notice claim vanished".to_owned())),
        }
    }

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

    async fn complete_notice(
        &self,
        notice_id: &str,
        response: &serde_json::Value,
        items: &[InboxItem],
        at: Timestamp,
    ) -> Result<(), StoreError> {
        let _write = self.write_lock().await;
        let mut tx = self.pool().begin().await?;
        insert_items(&mut tx, items).await?;
        sqlx::query("UPDATE notices SET response = $1, completed_at = $2 WHERE id = $3")
            .bind(response.to_string())
            .bind(instant_text(at))
            .bind(notice_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn release_claim(&self, notice_id: &str) -> Result<(), StoreError> {
        let _write = self.write_lock().await;
        sqlx::query("DELETE FROM notices WHERE id = $1 AND response IS NULL")
            .bind(notice_id)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    async fn notified_recipients(&self, notice_id: &str) -> Result<Vec<String>, StoreError> {
        let rows: Vec<String> =
            sqlx::query_scalar("SELECT recipient_dept FROM inbox_items WHERE notice_id = $1")
                .bind(notice_id)
                .fetch_all(self.pool())
                .await?;
        Ok(rows)
    }

    async fn deliver(&self, items: &[InboxItem]) -> Result<(), StoreError> {
        let _write = self.write_lock().await;
        let mut tx = self.pool().begin().await?;
        insert_items(&mut tx, items).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn inbox(
        &self,
        recipient: &str,
        after: Option<(Timestamp, String)>,
        limit: u32,
    ) -> Result<Vec<InboxItem>, StoreError> {
        let (after_at, after_id) = after
            .map(|(t, id)| (instant_text(t), id))
            .unwrap_or_default();
        let rows: Vec<InboxRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {INBOX_COLUMNS} FROM inbox_items WHERE recipient_dept = $1 \
             AND (received_at > $2 OR (received_at = $2 AND id > $3)) \
             ORDER BY received_at, id LIMIT $4"
        )))
        .bind(recipient)
        .bind(after_at)
        .bind(after_id)
        .bind(i64::from(limit))
        .fetch_all(self.pool())
        .await?;
        rows.into_iter().map(InboxItem::try_from).collect()
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
        let rows: Vec<crate::store::notices::PastDisclosureRow> =
            sqlx::query_as(crate::store::notices::DISCLOSURES_ON_CONSENT)
                .bind(consent_id)
                .fetch_all(self.pool())
                .await?;
        Ok(rows
            .into_iter()
            .filter_map(|r| r.into_disclosure())
            .collect())
    }
}
