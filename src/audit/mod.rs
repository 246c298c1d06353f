//! The tamper-evident audit trail: every decision, permit or deny, as one record in a hash chain.
//!
//! - [`record`]: what a record holds (no CPR numbers, no payloads).
//! - [`canonical`]: the byte encoding that is hashed and signed (`docs/audit-format.md`).
//! - [`checkpoint`]: signed `(seq, head_hash, at, key_id)` checkpoints.

pub mod canonical;
pub mod checkpoint;
pub mod record;

pub use checkpoint::{Checkpoint, CheckpointSet, PublicKey};
pub use record::{
    AuditDecision, AuditReason, AuditRecord, ChainedRecord, Outcome, Requester, payload_digest,
};
