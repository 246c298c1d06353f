//! Notices and inboxes on PostgreSQL (uuid, jsonb, timestamptz columns, read back as text).

use jiff::Timestamp;

use sqlx::{Postgres, QueryBuilder};

use super::PgStore;
use crate::{
    notices::{InboxItem, NoticeRecord, NoticeStore, Received},
    store::{
        StoreError,
        audit::insert_chunks,
        consents::json_text,
        instant_text,
        notices::{InboxRow, NoticeRow, after_seq},
    },
};

const NOTICE_COLUMNS: &str = "id::text AS id, sender_dept, sender_sub, idempotency_key, body_digest, \
     kind, subject_pseudonym, response::text AS response, \
     to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') AS created_at";
const INBOX_COLUMNS: &str = "seq, id::text AS id, notice_id::text AS notice_id, recipient_dept, kind, \
     sealed, redacted::text AS redacted, basis::text AS basis, disclosure_id, \
     to_char(received_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') AS received_at, \
     to_char(acked_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') AS acked_at, acked_by";

/// Inserts notices (answers included) under their idempotency keys; returns the ids of those
/// inserted. A notice whose key is taken, also by an earlier one of the same call or by another
/// process's uncommitted one (waited for), is not.
pub(super) async fn insert_notices<'a>(
    conn: &mut sqlx::PgConnection,
    notices: impl Iterator<Item = &'a NoticeRecord>,
) -> Result<Vec<String>, StoreError> {
    let notices: Vec<&NoticeRecord> = notices.collect();
    let mut inserted = Vec::with_capacity(notices.len());
    for chunk in insert_chunks(&notices) {
        let mut insert: QueryBuilder<Postgres> = QueryBuilder::new(
            "INSERT INTO notices (id, sender_dept, sender_sub, idempotency_key, body_digest, kind, \
             subject_pseudonym, response, created_at, completed_at) ",
        );
        insert.push_values(chunk, |mut b, n| {
            let at = instant_text(n.created_at);
            b.push_bind(n.id.clone()).push_unseparated("::uuid");
            b.push_bind(n.sender_dept.clone())
                .push_bind(n.sender_sub.clone())
                .push_bind(n.idempotency_key.clone())
                .push_bind(n.body_digest.clone())
                .push_bind(n.kind.clone())
                .push_bind(n.subject_pseudonym.clone());
            b.push_bind(n.response.as_ref().map(|r| r.to_string()))
                .push_unseparated("::jsonb");
            b.push_bind(at.clone()).push_unseparated("::timestamptz");
            b.push_bind(at).push_unseparated("::timestamptz");
        });
        insert.push(" ON CONFLICT (sender_dept, idempotency_key) DO NOTHING RETURNING id::text");
        let ids: Vec<String> = insert.build_query_scalar().fetch_all(&mut *conn).await?;
        inserted.extend(ids);
    }
    Ok(inserted)
}

/// Inserts inbox items; one whose `(notice_id, recipient)` is delivered already is left out.
///
/// INVARIANT: called only by the audit appender's transaction, after it has locked the chain's head
/// row. Each item's `seq` (its column default, from a sequence) is then drawn after every earlier
/// transaction's items are committed and visible, so a reader that follows `seq` skips none
/// (migration 0010).
pub(super) async fn insert_items(
    conn: &mut sqlx::PgConnection,
    items: &[InboxItem],
) -> Result<(), StoreError> {
    for chunk in insert_chunks(items) {
        let mut insert: QueryBuilder<Postgres> = QueryBuilder::new(
            "INSERT INTO inbox_items (id, notice_id, recipient_dept, kind, sealed, redacted, basis, \
             disclosure_id, received_at) ",
        );
        insert.push_values(chunk, |mut b, item| {
            b.push_bind(item.id.clone()).push_unseparated("::uuid");
            b.push_bind(item.notice_id.clone())
                .push_unseparated("::uuid");
            b.push_bind(item.recipient.clone())
                .push_bind(item.kind.clone())
                .push_bind(item.sealed.clone());
            b.push_bind(json_text(&item.redacted))
                .push_unseparated("::jsonb");
            b.push_bind(item.basis.as_ref().map(json_text))
                .push_unseparated("::jsonb");
            b.push_bind(item.disclosure_id.clone());
            b.push_bind(instant_text(item.received_at))
                .push_unseparated("::timestamptz");
        });
        insert.push(" ON CONFLICT (notice_id, recipient_dept) DO NOTHING");
        insert.build().execute(&mut *conn).await?;
    }
    Ok(())
}

impl NoticeStore for PgStore {
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
        if uuid::Uuid::parse_str(notice_id).is_err() {
            return Ok(Vec::new());
        }
        let rows: Vec<String> =
            sqlx::query_scalar("SELECT recipient_dept FROM inbox_items WHERE notice_id = $1::uuid")
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
        if uuid::Uuid::parse_str(notice_id).is_err() {
            return Ok(false);
        }
        let found: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM inbox_items WHERE recipient_dept = $1 AND notice_id = $2::uuid",
        )
        .bind(recipient)
        .bind(notice_id)
        .fetch_one(self.pool())
        .await?;
        // The first acknowledgement counts; repeating it is harmless.
        sqlx::query(
            "UPDATE inbox_items SET acked_at = $1::timestamptz, acked_by = $2 \
             WHERE recipient_dept = $3 AND notice_id = $4::uuid AND acked_at IS NULL",
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

impl crate::notices::withdrawal::ConsentDisclosures for PgStore {
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
