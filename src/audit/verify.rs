//! Verification: recompute the whole chain, page by page, and hold it against every checkpoint.
//!
//! Memory stays constant in the number of records (one page at a time); checkpoints are merged in
//! by `seq` as the scan passes them. The report names the first record that does not follow from
//! the ones before it, or that contradicts a signed checkpoint.

use std::collections::BTreeMap;

use serde::Serialize;

use super::{
    AuditStore, Checkpoint, CheckpointSet, PublicKey,
    canonical::{GENESIS_HASH, hex, record_hash, unhex_hash},
    checkpoint::signature_is_valid,
};
use crate::store::StoreError;

/// Records read per page.
const PAGE: u32 = 2000;

/// The first bad record: its position and what is wrong, in words.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BadRecord {
    /// The position.
    pub seq: u64,
    /// What is wrong.
    pub problem: String,
}

/// The result of a verification (`GET /v1/audit/verify`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Verification {
    /// Whether the whole chain and every checkpoint hold.
    pub ok: bool,
    /// How many records were read.
    pub records: u64,
    /// The stored hash of the last record read (64 zeros for an empty chain).
    pub head_hash: String,
    /// Checkpoints checked (stored and supplied).
    pub checkpoints: u64,
    /// The first problem, by position.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_bad: Option<BadRecord>,
}

/// Verifies the chain in `store` against its stored checkpoints and `extra` (an exported
/// checkpoint file kept elsewhere), whose signatures are checked with `keys` and the file's own
/// public keys. `progress` is called after each page with the number of records read so far.
pub async fn verify(
    store: &impl AuditStore,
    keys: &[PublicKey],
    extra: Option<&CheckpointSet>,
    mut progress: impl FnMut(u64),
) -> Result<Verification, StoreError> {
    let mut known: BTreeMap<&str, &PublicKey> =
        keys.iter().map(|k| (k.key_id.as_str(), k)).collect();
    if let Some(file) = extra {
        for k in &file.public_keys {
            known.entry(k.key_id.as_str()).or_insert(k);
        }
    }
    // The head is read first: records appended while the scan runs are read too, and the head
    // must be found on the way.
    let head = store.audit_head().await?;
    let mut scan = Scan {
        known,
        pending: BTreeMap::new(),
        first_bad: None,
        checked: 0,
    };
    if let Some(file) = extra {
        for cp in &file.checkpoints {
            scan.admit(cp.clone());
        }
    }

    let mut stored_after: Option<(u64, String)> = None;
    let mut stored_done = false;
    let mut expected = 1u64;
    let mut prev_hash = GENESIS_HASH.to_owned();
    let mut records = 0u64;
    loop {
        let page = store.audit_page(expected - 1, PAGE).await?;
        let last_seq = page.last().map(|r| r.seq);
        // Bring in the stored checkpoints this page can reach (after the last page: all the rest).
        while !stored_done
            && stored_after
                .as_ref()
                .is_none_or(|(s, _)| last_seq.is_none_or(|l| *s <= l))
        {
            let cps = store.checkpoint_page(stored_after.clone(), PAGE).await?;
            stored_done = cps.len() < PAGE as usize;
            match cps.last() {
                Some(last) => stored_after = Some((last.seq, last.key_id.clone())),
                None => stored_done = true,
            }
            for cp in cps {
                scan.admit(cp);
            }
        }
        if last_seq.is_none() {
            break;
        }
        for row in page {
            records += 1;
            let past_first_bad = scan.first_bad.as_ref().is_some_and(|b| b.seq < row.seq);
            if !past_first_bad {
                let checkpoints = scan.pending.remove(&row.seq).unwrap_or_default();
                if let Some(problem) = check_row(&row, expected, &prev_hash, &checkpoints) {
                    scan.note(expected.min(row.seq), problem);
                } else if row.seq == head.seq && row.hash != head.hash {
                    scan.note(row.seq, "hash differs from the chain head row".to_owned());
                }
            }
            prev_hash = row.hash;
            expected = row.seq + 1;
        }
        progress(records);
    }
    let last = expected - 1;
    // Signed checkpoints beyond the last record: the tail was cut off.
    if let Some(seq) = scan.pending.keys().next().copied().filter(|s| *s > last) {
        scan.note(
            last + 1,
            format!(
                "the chain ends at seq {last} but a signed checkpoint attests seq {seq}: \
                 records were removed from the tail"
            ),
        );
    }
    if head.seq > last {
        scan.note(
            last + 1,
            format!(
                "the chain ends at seq {last} but the chain head row says seq {}: records were \
                 removed from the tail",
                head.seq
            ),
        );
    }
    if let Some((seq, problem)) = store.lookup_mismatch().await? {
        scan.note(seq, problem);
    }
    Ok(Verification {
        ok: scan.first_bad.is_none(),
        records,
        head_hash: prev_hash,
        checkpoints: scan.checked,
        first_bad: scan.first_bad,
    })
}

/// The state of a scan: keys, checkpoints not yet reached, the first problem.
struct Scan<'a> {
    known: BTreeMap<&'a str, &'a PublicKey>,
    pending: BTreeMap<u64, Vec<Checkpoint>>,
    first_bad: Option<BadRecord>,
    checked: u64,
}

impl Scan<'_> {
    fn note(&mut self, seq: u64, problem: String) {
        if self.first_bad.as_ref().is_none_or(|f| seq < f.seq) {
            self.first_bad = Some(BadRecord { seq, problem });
        }
    }

    /// Checks a checkpoint's signature; a valid one waits for its record.
    fn admit(&mut self, cp: Checkpoint) {
        self.checked += 1;
        match self.known.get(cp.key_id.as_str()) {
            None => self.note(
                cp.seq,
                format!("checkpoint signed by unknown key `{}`", cp.key_id),
            ),
            Some(key) if !signature_is_valid(&cp, key) => {
                self.note(cp.seq, "checkpoint signature is not valid".to_owned())
            }
            Some(_) => self.pending.entry(cp.seq).or_default().push(cp),
        }
    }
}

/// What is wrong with `row`, expected at `expected` after a record whose stored hash is `prev`.
fn check_row(
    row: &super::StoredRecord,
    expected: u64,
    prev: &str,
    checkpoints: &[Checkpoint],
) -> Option<String> {
    if row.seq != expected {
        return Some(format!(
            "record missing: the chain jumps from seq {} to seq {}",
            expected - 1,
            row.seq
        ));
    }
    if row.prev_hash != prev {
        return Some(format!(
            "prev_hash does not match the hash of seq {}: a record was removed, moved or inserted",
            expected - 1
        ));
    }
    let record = match &row.record {
        Ok(record) => record,
        Err(problem) => return Some(format!("the record cannot be read: {problem}")),
    };
    let Some(prev_bytes) = unhex_hash(prev) else {
        return Some("prev_hash is not a SHA-256 hash".to_owned());
    };
    if hex(&record_hash(&prev_bytes, row.seq, record)) != row.hash {
        return Some("hash does not match the record's contents: a field was changed".to_owned());
    }
    if let Some(cp) = checkpoints.iter().find(|cp| cp.head_hash != row.hash) {
        return Some(format!(
            "hash differs from the checkpoint signed at {} by key `{}`: the chain was rewritten",
            super::canonical::format_instant(cp.at),
            cp.key_id
        ));
    }
    None
}
