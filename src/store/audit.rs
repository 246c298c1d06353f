//! `AuditStore` for the backend-neutral [`Store`], and the row conversions both backends share.

use super::{Store, StoreError, assignments::parse_instant};
use crate::{
    audit::{
        AuditDecision, AuditReason, AuditRecord, AuditStore, ChainHead, ChainedRecord, Checkpoint,
        Outcome, Requester, StoredRecord,
        canonical::unhex_hash,
        entry::{Appended, Entry, chain_entries, chained_records},
    },
    auth::Role,
    cpr::Pseudonym,
    notices::InboxItem,
    policy::{Basis, BasisKind},
};

/// The columns of `audit_log` in the order both backends' inserts name them (each backend's tests
/// hold its statement to it).
#[cfg(test)]
pub(super) const INSERT_COLUMNS: &str = "seq, disclosure_id, at, requester_sub, requester_dept, \
     requester_role, subject_pseudonym, category, purpose, source, recipient, decision, outcome, \
     basis_kind, basis_id, reasons, fields_disclosed, fields_redacted, payload_digest, \
     policy_version, prev_hash, hash";

/// The columns an `INSERT INTO table (…) …` statement names, checked against [`INSERT_COLUMNS`]
/// by each backend's tests.
#[cfg(test)]
pub(super) fn named_columns(insert: &str) -> Vec<&str> {
    let (_, rest) = insert.split_once('(').expect("a column list");
    let (columns, _) = rest.split_once(')').expect("a closed column list");
    columns.split(',').map(str::trim).collect()
}

/// An `audit_log` row as both backends return it (instants and ids as text, lists as JSON text).
#[derive(Debug, sqlx::FromRow)]
pub(super) struct AuditRow {
    pub seq: i64,
    pub disclosure_id: String,
    pub at: String,
    pub requester_sub: String,
    pub requester_dept: String,
    pub requester_role: String,
    pub subject_pseudonym: Option<String>,
    pub category: String,
    pub purpose: String,
    pub source: Option<String>,
    pub recipient: Option<String>,
    pub decision: String,
    pub outcome: String,
    pub basis_kind: Option<String>,
    pub basis_id: Option<String>,
    pub reasons: String,
    pub fields_disclosed: String,
    pub fields_redacted: String,
    pub payload_digest: Option<String>,
    pub policy_version: String,
    pub prev_hash: String,
    pub hash: String,
}

impl AuditRow {
    /// The stored record; a column that cannot be read is reported, not raised, so that `verify`
    /// can name the record.
    pub(super) fn into_stored(self) -> Result<StoredRecord, StoreError> {
        let seq = u64::try_from(self.seq)
            .map_err(|_| StoreError::Corrupt(format!("audit record with seq {}", self.seq)))?;
        let prev_hash = self.prev_hash.clone();
        let hash = self.hash.clone();
        Ok(StoredRecord {
            seq,
            prev_hash,
            hash,
            record: self.into_record(),
        })
    }

    fn into_record(self) -> Result<AuditRecord, String> {
        let bad = |column: &str| format!("column `{column}` cannot be read");
        let list = |text: &str, column: &str| {
            serde_json::from_str::<Vec<String>>(text).map_err(|_| bad(column))
        };
        let basis = match (self.basis_kind.as_deref(), self.basis_id) {
            (None, None) => None,
            (Some("consent"), Some(id)) => Some(Basis {
                kind: BasisKind::Consent,
                id,
            }),
            (Some("legal"), Some(id)) => Some(Basis {
                kind: BasisKind::Legal,
                id,
            }),
            _ => return Err(bad("basis_kind")),
        };
        Ok(AuditRecord {
            disclosure_id: self
                .disclosure_id
                .parse()
                .map_err(|_| bad("disclosure_id"))?,
            at: parse_instant(&self.at).ok_or_else(|| bad("at"))?,
            requester: Requester {
                role: Role::parse(&self.requester_role).ok_or_else(|| bad("requester_role"))?,
                sub: self.requester_sub,
                dept: self.requester_dept,
            },
            subject_pseudonym: self.subject_pseudonym.map(Pseudonym::from_stored),
            category: self.category,
            purpose: self.purpose,
            source: self.source,
            recipient: self.recipient,
            decision: AuditDecision::parse(&self.decision).ok_or_else(|| bad("decision"))?,
            outcome: Outcome::parse(&self.outcome).ok_or_else(|| bad("outcome"))?,
            basis,
            reasons: serde_json::from_str::<Vec<AuditReason>>(&self.reasons)
                .map_err(|_| bad("reasons"))?,
            fields_disclosed: list(&self.fields_disclosed, "fields_disclosed")?,
            fields_redacted: list(&self.fields_redacted, "fields_redacted")?,
            payload_digest: self.payload_digest,
            policy_version: self.policy_version,
        })
    }
}

/// A checkpoint row (instant as text).
#[derive(Debug, sqlx::FromRow)]
pub(super) struct CheckpointRow {
    pub seq: i64,
    pub head_hash: String,
    pub at: String,
    pub key_id: String,
    pub signature: String,
}

impl TryFrom<CheckpointRow> for Checkpoint {
    type Error = StoreError;

    fn try_from(row: CheckpointRow) -> Result<Self, Self::Error> {
        let corrupt =
            |what: &str| StoreError::Corrupt(format!("audit checkpoint {}: {what}", row.seq));
        Ok(Checkpoint {
            seq: u64::try_from(row.seq).map_err(|_| corrupt("seq"))?,
            at: parse_instant(&row.at).ok_or_else(|| corrupt("at"))?,
            head_hash: row.head_hash,
            key_id: row.key_id,
            signature: row.signature,
        })
    }
}

/// The head row's `(seq, hash)` as the position to chain after.
fn head_position(head_seq: i64, head_hash: &str) -> Result<(u64, [u8; 32]), StoreError> {
    let seq = u64::try_from(head_seq)
        .map_err(|_| StoreError::Corrupt("the audit head's seq is negative".to_owned()))?;
    let hash = unhex_hash(head_hash)
        .ok_or_else(|| StoreError::Corrupt("the audit head's hash is not a hash".to_owned()))?;
    Ok((seq, hash))
}

/// A batch made ready to insert, once its notices are in: each entry's outcome (the records of
/// those whose key was free chained after the head) and the inbox items to insert with them.
pub(super) struct Batch {
    /// Per entry, in order.
    pub outcomes: Vec<Appended>,
    /// The items of the entries that were not skipped.
    pub items: Vec<InboxItem>,
}

impl Batch {
    /// Skips the entries that are `stale` and those whose notice is not among the `inserted` ids
    /// (its key was taken), and chains the others after the head row `(head_seq, head_hash)`.
    pub(super) fn plan(
        head_seq: i64,
        head_hash: &str,
        stale: &[bool],
        mut entries: Vec<Entry>,
        inserted: &[String],
    ) -> Result<Batch, StoreError> {
        let (seq, hash) = head_position(head_seq, head_hash)?;
        let skipped: Vec<Option<Appended>> = entries
            .iter()
            .zip(stale)
            .map(|(e, stale)| {
                if *stale {
                    Some(Appended::Stale)
                } else if e.notice.as_ref().is_some_and(|n| !inserted.contains(&n.id)) {
                    Some(Appended::KeyTaken)
                } else {
                    None
                }
            })
            .collect();
        let items = entries
            .iter_mut()
            .zip(&skipped)
            .filter(|(_, skipped)| skipped.is_none())
            .flat_map(|(e, _)| std::mem::take(&mut e.items))
            .collect();
        let outcomes = chain_entries(seq, hash, entries, |i| skipped[i].clone());
        Ok(Batch { outcomes, items })
    }

    /// Every chained record, in chain order.
    pub(super) fn chained(&self) -> Vec<&ChainedRecord> {
        chained_records(&self.outcomes).collect()
    }
}

/// What a backend's batch transaction gives back: each entry's outcome, and the registry version
/// it checked the entries against, which the store's cache of facts then knows of.
pub(super) type BatchOutcome = (Vec<Appended>, u64);

/// The subjects whose versions a batch must read, under the chain's lock, to tell which of its
/// entries are stale: those of entries decided before the registry was at `registry_version`.
pub(super) fn subjects_behind(entries: &[Entry], registry_version: u64) -> Vec<&str> {
    let mut subjects: Vec<&str> = entries
        .iter()
        .filter(|e| !e.is_current_at(registry_version))
        .filter_map(|e| e.facts.as_ref().map(|f| f.subject.as_str()))
        .collect();
    subjects.sort_unstable();
    subjects.dedup();
    subjects
}

/// Per entry, whether it is stale: decided before the registry was at `registry_version`, and
/// on facts about a subject whose version has moved since (`subject_versions`, as read under the
/// chain's lock; a subject never written is at 0).
pub(super) fn stale_entries(
    entries: &[Entry],
    registry_version: u64,
    subject_versions: &std::collections::HashMap<String, u64>,
) -> Vec<bool> {
    entries
        .iter()
        .map(|e| match &e.facts {
            Some(facts) if !e.is_current_at(registry_version) => {
                subject_versions.get(&facts.subject).copied().unwrap_or(0) != facts.subject_version
            }
            _ => false,
        })
        .collect()
}

/// The database form of a seq.
pub(super) fn db_seq(seq: u64) -> Result<i64, StoreError> {
    i64::try_from(seq).map_err(|_| StoreError::Corrupt("audit seq out of range".to_owned()))
}

/// A list column's JSON text.
pub(super) fn json_list<T: serde::Serialize>(items: &[T]) -> String {
    serde_json::to_string(items).unwrap_or_else(|_| "[]".to_owned())
}

/// The basis columns.
pub(super) fn basis_columns(basis: Option<&Basis>) -> (Option<&'static str>, Option<String>) {
    match basis {
        None => (None, None),
        Some(b) => (
            Some(match b.kind {
                BasisKind::Consent => "consent",
                BasisKind::Legal => "legal",
            }),
            Some(b.id.clone()),
        ),
    }
}

impl AuditStore for Store {
    async fn append_entries(&self, entries: Vec<Entry>) -> Result<Vec<Appended>, StoreError> {
        match self {
            Store::Sqlite(s) => s.append_entries(entries).await,
            Store::Postgres(s) => s.append_entries(entries).await,
        }
    }

    async fn audit_page(&self, after: u64, limit: u32) -> Result<Vec<StoredRecord>, StoreError> {
        match self {
            Store::Sqlite(s) => s.audit_page(after, limit).await,
            Store::Postgres(s) => s.audit_page(after, limit).await,
        }
    }

    async fn audit_head(&self) -> Result<ChainHead, StoreError> {
        match self {
            Store::Sqlite(s) => s.audit_head().await,
            Store::Postgres(s) => s.audit_head().await,
        }
    }

    async fn insert_checkpoint(&self, checkpoint: &Checkpoint) -> Result<(), StoreError> {
        match self {
            Store::Sqlite(s) => s.insert_checkpoint(checkpoint).await,
            Store::Postgres(s) => s.insert_checkpoint(checkpoint).await,
        }
    }

    async fn checkpoint_page(
        &self,
        after: Option<(u64, String)>,
        limit: u32,
    ) -> Result<Vec<Checkpoint>, StoreError> {
        match self {
            Store::Sqlite(s) => s.checkpoint_page(after, limit).await,
            Store::Postgres(s) => s.checkpoint_page(after, limit).await,
        }
    }

    async fn latest_checkpoint_seq(&self) -> Result<Option<u64>, StoreError> {
        match self {
            Store::Sqlite(s) => s.latest_checkpoint_seq().await,
            Store::Postgres(s) => s.latest_checkpoint_seq().await,
        }
    }

    async fn lookup_mismatch(&self) -> Result<Option<(u64, String)>, StoreError> {
        match self {
            Store::Sqlite(s) => s.lookup_mismatch().await,
            Store::Postgres(s) => s.lookup_mismatch().await,
        }
    }
}
