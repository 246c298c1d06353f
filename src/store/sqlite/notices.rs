//! Notices and inboxes on SQLite.

use jiff::Timestamp;

use sqlx::{QueryBuilder, Sqlite};

use super::SqliteStore;
use crate::store::audit::insert_chunks;
use crate::{
    notices::{InboxItem, NoticeRecord, NoticeStore},
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

/// Inserts notices (answers included) under their idempotency keys; returns the ids of those
/// inserted. A notice whose key is taken, also by an earlier one of the same call, is not.
pub(super) async fn insert_notices<'a>(
    conn: &mut sqlx::SqliteConnection,
    notices: impl Iterator<Item = &'a NoticeRecord>,
) -> Result<Vec<String>, StoreError> {
    let notices: Vec<&NoticeRecord> = notices.collect();
    let mut inserted = Vec::with_capacity(notices.len());
    for chunk in insert_chunks(&notices) {
        let mut insert: QueryBuilder<Sqlite> = QueryBuilder::new(
            "INSERT INTO notices (id, sender_dept, sender_sub, idempotency_key, body_digest, kind, \
             subject_pseudonym, response, created_at, completed_at) ",
        );
        insert.push_values(chunk, |mut b, n| {
            let at = instant_text(n.created_at);
            b.push_bind(n.id.clone())
                .push_bind(n.sender_dept.clone())
                .push_bind(n.sender_sub.clone())
                .push_bind(n.idempotency_key.clone())
                .push_bind(n.body_digest.clone())
                .push_bind(n.kind.clone())
                .push_bind(n.subject_pseudonym.clone())
                .push_bind(n.response.as_ref().map(|r| r.to_string()))
                .push_bind(at.clone())
                .push_bind(at);
        });
        insert.push(" ON CONFLICT (sender_dept, idempotency_key) DO NOTHING RETURNING id");
        let ids: Vec<String> = insert.build_query_scalar().fetch_all(&mut *conn).await?;
        inserted.extend(ids);
    }
    Ok(inserted)
}

/// Inserts inbox items; one whose `(notice_id, recipient)` is delivered already is left out.
pub(super) async fn insert_items(
    conn: &mut sqlx::SqliteConnection,
    items: &[InboxItem],
) -> Result<(), StoreError> {
    for chunk in insert_chunks(items) {
        let mut insert: QueryBuilder<Sqlite> = QueryBuilder::new(
            "INSERT INTO inbox_items (id, notice_id, recipient_dept, kind, sealed, redacted, basis, \
             disclosure_id, received_at) ",
        );
        insert.push_values(chunk, |mut b, item| {
            b.push_bind(item.id.clone())
                .push_bind(item.notice_id.clone())
                .push_bind(item.recipient.clone())
                .push_bind(item.kind.clone())
                .push_bind(item.sealed.clone())
                .push_bind(json_text(&item.redacted))
                .push_bind(item.basis.as_ref().map(json_text))
                .push_bind(item.disclosure_id.clone())
                .push_bind(instant_text(item.received_at));
        });
        insert.push(" ON CONFLICT (notice_id, recipient_dept) DO NOTHING");
        insert.build().execute(&mut *conn).await?;
    }
    Ok(())
}

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
        // PostgreSQL's `DISCLOSURES_ON_CONSENT`, through the lookup written behind the chain.
        let mut qb: QueryBuilder<Sqlite> = QueryBuilder::new(
            "SELECT CAST(disclosure_id AS TEXT) AS disclosure_id, recipient, category, purpose \
             FROM audit_log WHERE basis_kind = 'consent' \
             AND outcome IN ('disclosed', 'delivered') AND basis_id = ",
        );
        qb.push_bind(consent_id.to_owned());
        super::push_lookup(&mut qb, super::Lookup::Basis, consent_id);
        qb.push(" ORDER BY seq");
        let rows: Vec<crate::store::notices::PastDisclosureRow> =
            qb.build_query_as().fetch_all(self.pool()).await?;
        Ok(rows
            .into_iter()
            .filter_map(|r| r.into_disclosure())
            .collect())
    }
}
