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
}

/// What became of an entry in a committed batch.
#[derive(Debug, Clone, PartialEq)]
pub enum Appended {
    /// Durable: its records as chained.
    Chained(Vec<ChainedRecord>),
    /// Its notice's idempotency key was taken; nothing of it was written.
    KeyTaken,
}

/// Chains the records of `entries` after `(head_seq, head_hash)` in order, skipping (as
/// [`Appended::KeyTaken`]) the entries for which `skipped` holds.
pub(crate) fn chain_entries(
    head_seq: u64,
    head_hash: [u8; 32],
    entries: Vec<Entry>,
    skipped: impl Fn(usize) -> bool,
) -> Vec<Appended> {
    let mut seq = head_seq;
    let mut prev = head_hash;
    let mut outcomes = Vec::with_capacity(entries.len());
    for (i, entry) in entries.into_iter().enumerate() {
        if skipped(i) {
            outcomes.push(Appended::KeyTaken);
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
        Appended::KeyTaken => &[],
    })
}
