//! The audit chain on SQLite: each batch in one `BEGIN IMMEDIATE` transaction (the write lock is
//! taken before the head is read), with the notices and inbox items its entries carry, durable at
//! commit (`synchronous=FULL`).

use sqlx::{QueryBuilder, Sqlite};

use super::{
    SqliteStore,
    notices::{insert_items, insert_notices},
};
use crate::{
    audit::{
        AuditStore, ChainHead, ChainedRecord, Checkpoint, StoredRecord,
        canonical::format_instant,
        entry::{Appended, Entry},
    },
    store::{
        StoreError,
        audit::{
            AuditRow, Batch, CheckpointRow, INSERT_COLUMNS, basis_columns, db_seq, insert_chunks,
            json_list,
        },
    },
};

/// Inserts chained records in one multi-row statement.
async fn insert_records(
    conn: &mut sqlx::SqliteConnection,
    chunk: &[&ChainedRecord],
) -> Result<(), StoreError> {
    let mut insert: QueryBuilder<Sqlite> =
        QueryBuilder::new(format!("INSERT INTO audit_log ({INSERT_COLUMNS}) "));
    let mut bad_seq = None;
    insert.push_values(chunk, |mut b, c| {
        let r = &c.record;
        let (basis_kind, basis_id) = basis_columns(r.basis.as_ref());
        match db_seq(c.seq) {
            Ok(seq) => b.push_bind(seq),
            Err(e) => {
                bad_seq = Some(e);
                b.push_bind(-1i64)
            }
        };
        b.push_bind(r.disclosure_id.hyphenated().to_string())
            .push_bind(format_instant(r.at))
            .push_bind(r.requester.sub.clone())
            .push_bind(r.requester.dept.clone())
            .push_bind(r.requester.role.as_str())
            .push_bind(r.subject_pseudonym.as_ref().map(|p| p.as_str().to_owned()))
            .push_bind(r.category.clone())
            .push_bind(r.purpose.clone())
            .push_bind(r.source.clone())
            .push_bind(r.recipient.clone())
            .push_bind(r.decision.as_str())
            .push_bind(r.outcome.as_str())
            .push_bind(basis_kind)
            .push_bind(basis_id)
            .push_bind(json_list(&r.reasons))
            .push_bind(json_list(&r.fields_disclosed))
            .push_bind(json_list(&r.fields_redacted))
            .push_bind(r.payload_digest.clone())
            .push_bind(r.policy_version.clone())
            .push_bind(c.prev_hash.clone())
            .push_bind(c.hash.clone());
    });
    if let Some(e) = bad_seq {
        return Err(e);
    }
    insert.build().execute(&mut *conn).await?;
    Ok(())
}

pub(in crate::store) const SELECT_COLUMNS: &str = "seq, disclosure_id, at, requester_sub, requester_dept, \
     requester_role, subject_pseudonym, category, purpose, source, recipient, decision, outcome, \
     basis_kind, basis_id, reasons, fields_disclosed, fields_redacted, payload_digest, \
     policy_version, prev_hash, hash";

impl AuditStore for SqliteStore {
    async fn append_entries(&self, entries: Vec<Entry>) -> Result<Vec<Appended>, StoreError> {
        if entries.iter().all(Entry::is_empty) {
            return Ok(entries
                .into_iter()
                .map(|_| Appended::Chained(Vec::new()))
                .collect());
        }
        let _write = self.write_lock().await;
        let mut tx = self.appender_pool().begin_with("BEGIN IMMEDIATE").await?;
        let (head_seq, head_hash): (i64, String) =
            sqlx::query_as("SELECT seq, hash FROM audit_head WHERE id = 1")
                .fetch_one(&mut *tx)
                .await?;
        let inserted =
            insert_notices(&mut tx, entries.iter().filter_map(|e| e.notice.as_ref())).await?;
        let batch = Batch::plan(head_seq, &head_hash, entries, &inserted)?;
        let chained = batch.chained();
        for chunk in insert_chunks(&chained) {
            insert_records(&mut tx, chunk).await?;
        }
        insert_items(&mut tx, &batch.items).await?;
        if let Some(last) = chained.last() {
            sqlx::query("UPDATE audit_head SET seq = $1, hash = $2 WHERE id = 1")
                .bind(db_seq(last.seq)?)
                .bind(&last.hash)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(batch.outcomes)
    }

    async fn audit_page(&self, after: u64, limit: u32) -> Result<Vec<StoredRecord>, StoreError> {
        let rows: Vec<AuditRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {SELECT_COLUMNS} FROM audit_log WHERE seq > $1 ORDER BY seq LIMIT $2"
        )))
        .bind(db_seq(after)?)
        .bind(i64::from(limit))
        .fetch_all(self.pool())
        .await?;
        rows.into_iter().map(AuditRow::into_stored).collect()
    }

    async fn audit_head(&self) -> Result<ChainHead, StoreError> {
        let (seq, hash): (i64, String) =
            sqlx::query_as("SELECT seq, hash FROM audit_head WHERE id = 1")
                .fetch_one(self.pool())
                .await?;
        Ok(ChainHead {
            seq: u64::try_from(seq)
                .map_err(|_| StoreError::Corrupt("the audit head's seq is negative".to_owned()))?,
            hash,
        })
    }

    async fn insert_checkpoint(&self, c: &Checkpoint) -> Result<(), StoreError> {
        let _write = self.write_lock().await;
        sqlx::query(
            "INSERT INTO audit_checkpoints (seq, head_hash, at, key_id, signature) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (seq, key_id) DO NOTHING",
        )
        .bind(db_seq(c.seq)?)
        .bind(&c.head_hash)
        .bind(format_instant(c.at))
        .bind(&c.key_id)
        .bind(&c.signature)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    async fn checkpoint_page(
        &self,
        after: Option<(u64, String)>,
        limit: u32,
    ) -> Result<Vec<Checkpoint>, StoreError> {
        let (seq, key_id) = match after {
            Some((seq, key_id)) => (db_seq(seq)?, key_id),
            None => (0, String::new()),
        };
        let rows: Vec<CheckpointRow> = sqlx::query_as(
            "SELECT seq, head_hash, at, key_id, signature FROM audit_checkpoints \
             WHERE (seq, key_id) > ($1, $2) ORDER BY seq, key_id LIMIT $3",
        )
        .bind(seq)
        .bind(key_id)
        .bind(i64::from(limit))
        .fetch_all(self.pool())
        .await?;
        rows.into_iter().map(Checkpoint::try_from).collect()
    }

    async fn lookup_mismatch(&self) -> Result<Option<(u64, String)>, StoreError> {
        super::lookups::mismatch(self.pool()).await
    }

    async fn latest_checkpoint_seq(&self) -> Result<Option<u64>, StoreError> {
        let seq: Option<i64> = sqlx::query_scalar("SELECT max(seq) FROM audit_checkpoints")
            .fetch_one(self.pool())
            .await?;
        Ok(seq.and_then(|s| u64::try_from(s).ok()))
    }
}
