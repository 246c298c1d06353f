//! The audit chain on SQLite: each batch in one `BEGIN IMMEDIATE` transaction on the appender's
//! own connection (`batch_writer`; the write lock is taken before the head is read), with the
//! notices and inbox items its entries carry, durable at commit (`synchronous=FULL`).

use super::SqliteStore;
use crate::{
    audit::{
        AuditStore, ChainHead, Checkpoint, StoredRecord,
        canonical::format_instant,
        entry::{Appended, Entry},
    },
    store::{
        StoreError,
        audit::{AuditRow, CheckpointRow, db_seq},
    },
};

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
        let write = self.owned_write_lock().await;
        let (outcomes, version) = self.batch_writer().append(entries, write).await?;
        // Only this process writes the registry, as a rule; a batch is how it learns otherwise.
        self.registry_written(version);
        Ok(outcomes)
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
