//! The tamper-evident audit trail: every decision, permit or deny, as one record in a hash chain.
//!
//! - [`record`]: what a record holds (no CPR numbers, no payloads).
//! - [`canonical`]: the byte encoding that is hashed and signed (`docs/audit-format.md`).
//! - [`appender`]: the one task that chains and commits records in batches (group commit).
//! - [`entry`]: one caller's records and the writes they authorise (a notice, inbox items).
//! - [`checkpoint`]: signed `(seq, head_hash, at, key_id)` checkpoints.
//! - [`verify`]: recomputes the chain and checks it against the checkpoints.
//! - [`query`]: the DPO's filtered reads; [`export`]: the trail as JSON Lines or CSV.
//!
//! Storage is the [`AuditStore`] trait, implemented per backend under `store/`.

pub mod appender;
pub mod canonical;
pub mod checkpoint;
pub mod cli;
pub mod entry;
pub mod export;
pub mod query;
pub mod record;
pub mod report;
pub mod review;
pub mod verify;
pub mod witness;

use std::future::Future;

pub use appender::{AppenderConfig, AuditLog};
pub use checkpoint::{Checkpoint, CheckpointSet, PublicKey};
pub use entry::{Appended, Entry, FactsStamp};
pub use query::{AuditCount, AuditFilter, AuditQuery};
pub use record::{
    AuditDecision, AuditReason, AuditRecord, ChainedRecord, Outcome, Requester, payload_digest,
};
pub use verify::{BadRecord, Verification, verify};

use crate::store::StoreError;

/// Why an append did not become durable. The caller must release nothing (→ 503).
#[derive(Debug, Clone, thiserror::Error)]
pub enum AuditError {
    /// The batch could not be committed; no record of it is in the chain.
    #[error("the audit log is unavailable: {0}")]
    Unavailable(String),
    /// The appender has stopped (shutdown).
    #[error("the audit log is shut down")]
    Closed,
}

/// The head of the chain: the last record's position and hash (`0` and 64 zeros when empty).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainHead {
    /// The last position.
    pub seq: u64,
    /// The last record's hash.
    pub hash: String,
}

/// A stored record as read back for verification: the linking columns as stored, and the record
/// itself, or why its columns could not be read.
#[derive(Debug, Clone)]
pub struct StoredRecord {
    /// The stored position.
    pub seq: u64,
    /// The stored `prev_hash`.
    pub prev_hash: String,
    /// The stored `hash`.
    pub hash: String,
    /// The record, or what is wrong with its columns.
    pub record: Result<AuditRecord, String>,
}

/// Storage of the audit chain and its checkpoints.
pub trait AuditStore {
    /// In one transaction: takes the chain head under a lock (so several processes keep one
    /// chain), stores the entries' notices (an entry whose idempotency key is taken is skipped
    /// whole), chains the other entries' records after the head in order, inserts them and their
    /// inbox items, moves the head, commits. Returns each entry's outcome only once the commit
    /// succeeded; on error nothing of the batch is written.
    fn append_entries(
        &self,
        entries: Vec<Entry>,
    ) -> impl Future<Output = Result<Vec<Appended>, StoreError>> + Send;

    /// Up to `limit` records with `seq > after`, by `seq` (keyset paging: constant memory).
    fn audit_page(
        &self,
        after: u64,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<StoredRecord>, StoreError>> + Send;

    /// The chain head as the head row records it.
    fn audit_head(&self) -> impl Future<Output = Result<ChainHead, StoreError>> + Send;

    /// Stores a checkpoint; one already stored for the same `(seq, key_id)` is kept.
    fn insert_checkpoint(
        &self,
        checkpoint: &Checkpoint,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Up to `limit` checkpoints after `(seq, key_id)`, by `(seq, key_id)`.
    fn checkpoint_page(
        &self,
        after: Option<(u64, String)>,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<Checkpoint>, StoreError>> + Send;

    /// The highest `seq` of any stored checkpoint.
    fn latest_checkpoint_seq(&self)
    -> impl Future<Output = Result<Option<u64>, StoreError>> + Send;

    /// Where lookups kept apart from the records (SQLite's, decision 0021) disagree with them: the
    /// lowest `seq` a lookup would miss or wrongly find, and what is wrong. Backends whose lookups
    /// are indexes of the records themselves have nothing to disagree.
    fn lookup_mismatch(
        &self,
    ) -> impl Future<Output = Result<Option<(u64, String)>, StoreError>> + Send {
        async { Ok(None) }
    }
}

/// Every stored checkpoint, by `seq`.
pub async fn all_checkpoints(store: &impl AuditStore) -> Result<Vec<Checkpoint>, StoreError> {
    let mut out: Vec<Checkpoint> = Vec::new();
    loop {
        let after = out.last().map(|c| (c.seq, c.key_id.clone()));
        let page = store.checkpoint_page(after, 1000).await?;
        let done = page.len() < 1000;
        out.extend(page);
        if done {
            return Ok(out);
        }
    }
}
