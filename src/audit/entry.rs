//! What one caller hands the appender: its audit records and the writes they authorise, which
//! commit in the same transaction as the records or not at all.
//!
//! A notice's idempotency claim, its stored answer and its inbox items ride with its audit records,
//! so a notice costs one durable commit, shared with every other caller of the batch (group
//! commit), and no inbox item can exist without the record of its delivery.

use super::{AuditRecord, ChainedRecord};
use crate::notices::{InboxItem, NoticeRecord};

/// One caller's part of a batch.
#[derive(Debug, Clone, Default)]
pub struct Entry {
    /// The records, chained in this order.
    pub records: Vec<AuditRecord>,
    /// A notice stored under its idempotency key, answer included. When the key is already taken
    /// (by an earlier notice, or by an entry earlier in the same batch), nothing of this entry is
    /// written and it comes back as [`Appended::KeyTaken`].
    pub notice: Option<NoticeRecord>,
    /// Inbox items delivered with the records. An item for a `(notice_id, recipient)` that is
    /// already delivered is left as it is (a repeated delivery is not a second one).
    pub items: Vec<InboxItem>,
    /// The versions of the facts its decisions were made on, if they were made on any. When the
    /// subject's facts have been written since, by the time the batch holds the chain's lock,
    /// nothing of this entry is written and it comes back as [`Appended::Stale`] (decision 0029).
    pub facts: Option<FactsStamp>,
}

/// The registry versions a decision's facts were read at (decision 0029).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FactsStamp {
    /// The registry's version, which every write to it moves.
    pub registry: u64,
    /// The subject's pseudonym.
    pub subject: String,
    /// The subject's version, which every write about the subject moves.
    pub subject_version: u64,
}

impl Entry {
    /// An entry of audit records alone.
    pub fn records(records: Vec<AuditRecord>) -> Entry {
        Entry {
            records,
            ..Entry::default()
        }
    }

    /// How many records it adds to the chain.
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// Whether it writes nothing at all.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty() && self.notice.is_none() && self.items.is_empty()
    }

    /// Whether no registry write can have changed its facts: it was decided on none, or with the
    /// registry at `registry_version`. Otherwise its subject's version decides.
    pub fn is_current_at(&self, registry_version: u64) -> bool {
        self.facts
            .as_ref()
            .is_none_or(|facts| facts.registry == registry_version)
    }
}

/// What became of an entry in a committed batch.
#[derive(Debug, Clone, PartialEq)]
pub enum Appended {
    /// Durable: its records as chained.
    Chained(Vec<ChainedRecord>),
    /// Its notice's idempotency key was taken; nothing of it was written.
    KeyTaken,
    /// Its decisions were made on facts that a registry write (a consent withdrawn, an assignment
    /// ended, …) has changed since; nothing of it was written. The caller decides again on the
    /// facts as they are now.
    Stale,
}

/// Chains the records of `entries` after `(head_seq, head_hash)` in order, skipping the entries
/// for which `skipped` gives an outcome ([`Appended::KeyTaken`] or [`Appended::Stale`]).
pub(crate) fn chain_entries(
    head_seq: u64,
    head_hash: [u8; 32],
    entries: Vec<Entry>,
    skipped: impl Fn(usize) -> Option<Appended>,
) -> Vec<Appended> {
    let mut seq = head_seq;
    let mut prev = head_hash;
    let mut outcomes = Vec::with_capacity(entries.len());
    for (i, entry) in entries.into_iter().enumerate() {
        if let Some(outcome) = skipped(i) {
            outcomes.push(outcome);
            continue;
        }
        let mut mine = Vec::with_capacity(entry.records.len());
        for record in entry.records {
            let chained = super::canonical::link(seq, &prev, record);
            seq = chained.seq;
            prev = super::canonical::unhex_hash(&chained.hash).unwrap_or(prev);
            mine.push(chained);
        }
        outcomes.push(Appended::Chained(mine));
    }
    outcomes
}

/// Every record chained in `outcomes`, in chain order.
pub(crate) fn chained_records(outcomes: &[Appended]) -> impl Iterator<Item = &ChainedRecord> {
    outcomes.iter().flat_map(|o| match o {
        Appended::Chained(records) => records.as_slice(),
        Appended::KeyTaken | Appended::Stale => &[],
    })
}
