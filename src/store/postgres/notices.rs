//! Notices and inboxes on PostgreSQL (uuid, jsonb, timestamptz columns, read back as text).

use jiff::Timestamp;

use super::{PgStore, column};
use crate::{
    notices::{InboxItem, NoticeRecord, NoticeStore, Received},
    store::{
        StoreError,
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

/// The chain's head as a batch found it, locked, and the ids of the batch's notices inserted.
pub(super) struct LockedHead {
    /// The head's seq.
    pub seq: i64,
    /// The head's hash.
    pub hash: String,
    /// The registry's version, which holds while the head is locked (decision 0029).
    pub registry_version: i64,
    /// The ids of the notices inserted.
    pub inserted: Vec<String>,
}

/// Locks the chain's head row and inserts `notices` (answers included) under their idempotency
/// keys, in one statement: the first of a batch's round trips under the lock is the head's and
/// the notices' both (decision 0030). Each notice comes with the registry version its entry was
/// decided at, if any; one decided at another version than the head's is left out (its subject's
/// version decides then, read in a later statement).
///
/// A notice whose key is taken, also by an earlier one of the same batch or by another
/// process's uncommitted one (waited for), is not inserted. The head is locked before any notice
/// is: each notice row is joined to the locked head row, so a process waiting on another's
/// uncommitted idempotency key holds no lock that one needs.
pub(super) async fn lock_head_and_insert_notices<'a>(
    conn: &mut sqlx::PgConnection,
    notices: impl Iterator<Item = (&'a NoticeRecord, Option<u64>)>,
) -> Result<LockedHead, StoreError> {
    let notices: Vec<(&NoticeRecord, Option<u64>)> = notices.collect();
    let n = notices.len();
    let (mut id, mut dept, mut sub) = (column(n), column(n), column(n));
    let (mut key, mut digest, mut kind) = (column(n), column(n), column(n));
    let (mut subject, mut response, mut at) = (column(n), column(n), column(n));
    let mut facts = column(n);
    for (notice, facts_version) in notices {
        id.push(notice.id.as_str());
        dept.push(notice.sender_dept.as_str());
        sub.push(notice.sender_sub.as_str());
        key.push(notice.idempotency_key.as_str());
        digest.push(notice.body_digest.as_str());
        kind.push(notice.kind.as_str());
        subject.push(notice.subject_pseudonym.as_str());
        response.push(notice.response.as_ref().map(|r| r.to_string()));
        at.push(instant_text(notice.created_at));
        facts.push(
            facts_version
                .map(i64::try_from)
                .transpose()
                .map_err(|_| StoreError::Corrupt("a registry version out of range".to_owned()))?,
        );
    }
    let (seq, hash, registry_version, inserted): (i64, String, i64, Vec<String>) =
        sqlx::query_as(LOCK_HEAD_AND_INSERT_NOTICES)
            .bind(id)
            .bind(dept)
            .bind(sub)
            .bind(key)
            .bind(digest)
            .bind(kind)
            .bind(subject)
            .bind(response)
            .bind(at)
            .bind(facts)
            .fetch_one(&mut *conn)
            .await?;
    Ok(LockedHead {
        seq,
        hash,
        registry_version,
        inserted,
    })
}

/// [`lock_head_and_insert_notices`]' statement. A notice whose entry was decided at another
/// registry version (`facts`) is left out. The notices go in in the batch's order, so the first
/// of two with one key is the one kept.
const LOCK_HEAD_AND_INSERT_NOTICES: &str = "WITH head AS (\
     SELECT seq, hash, registry_version FROM audit_head WHERE id = 1 FOR UPDATE), \
     inserted AS (INSERT INTO notices (id, sender_dept, sender_sub, idempotency_key, body_digest, \
     kind, subject_pseudonym, response, created_at, completed_at) \
     SELECT n.id, n.dept, n.sub, n.key, n.digest, n.kind, n.subject, n.response, n.at, n.at \
     FROM UNNEST($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], \
     $7::text[], $8::jsonb[], $9::timestamptz[], $10::bigint[]) WITH ORDINALITY \
     AS n(id, dept, sub, key, digest, kind, subject, response, at, facts, ord) \
     CROSS JOIN head \
     WHERE n.facts IS NULL OR n.facts = head.registry_version \
     ORDER BY n.ord \
     ON CONFLICT (sender_dept, idempotency_key) DO NOTHING RETURNING id::text AS id) \
     SELECT head.seq, head.hash, head.registry_version, ARRAY(SELECT id FROM inserted) FROM head";

/// A batch's inbox items as one array per column, bound as `$23`–`$31` of the appender's
/// statement (`audit::INSERT_BATCH`); an item whose `(notice_id, recipient)` is delivered already
/// is left out there.
///
/// INVARIANT: written only by the audit appender's transaction, after it has locked the chain's
/// head row. Each item's `seq` (its column default, from a sequence) is then drawn after every
/// earlier transaction's items are committed and visible, so a reader that follows `seq` skips
/// none (migration 0010).
pub(super) struct ItemColumns<'a> {
    id: Vec<&'a str>,
    notice: Vec<&'a str>,
    recipient: Vec<&'a str>,
    kind: Vec<&'a str>,
    sealed: Vec<&'a [u8]>,
    redacted: Vec<String>,
    basis: Vec<Option<String>>,
    disclosure: Vec<&'a str>,
    at: Vec<String>,
}

impl<'a> ItemColumns<'a> {
    pub(super) fn of(items: &'a [InboxItem]) -> Self {
        let n = items.len();
        let mut c = ItemColumns {
            id: column(n),
            notice: column(n),
            recipient: column(n),
            kind: column(n),
            sealed: column(n),
            redacted: column(n),
            basis: column(n),
            disclosure: column(n),
            at: column(n),
        };
        for item in items {
            c.id.push(item.id.as_str());
            c.notice.push(item.notice_id.as_str());
            c.recipient.push(item.recipient.as_str());
            c.kind.push(item.kind.as_str());
            c.sealed.push(item.sealed.as_slice());
            c.redacted.push(json_text(&item.redacted));
            c.basis.push(item.basis.as_ref().map(json_text));
            c.disclosure.push(item.disclosure_id.as_str());
            c.at.push(instant_text(item.received_at));
        }
        c
    }

    /// Binds the columns after those already bound.
    pub(super) fn bind(
        self,
        query: sqlx::query::Query<'a, sqlx::Postgres, sqlx::postgres::PgArguments>,
    ) -> sqlx::query::Query<'a, sqlx::Postgres, sqlx::postgres::PgArguments> {
        query
            .bind(self.id)
            .bind(self.notice)
            .bind(self.recipient)
            .bind(self.kind)
            .bind(self.sealed)
            .bind(self.redacted)
            .bind(self.basis)
            .bind(self.disclosure)
            .bind(self.at)
    }
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
