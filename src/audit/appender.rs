//! The appender: one task that chains and commits audit records in batches (group commit).
//!
//! Callers send their [`Entry`] (records, and the notice and inbox items that must commit with
//! them) on a bounded channel and wait. The task takes everything pending (up to
//! [`AppenderConfig::max_batch`] records; when the channel runs dry it first lets ready callers
//! run, a few times, so they join this batch), appends it in one transaction and only after the
//! commit answers every waiter; if the commit fails, every waiter of that batch gets an error and
//! must release nothing. A full channel makes callers wait (backpressure); nothing is dropped.
//!
//! Checkpoints are signed every `checkpoint_every` records, every `checkpoint_interval` when
//! records were added, and at shutdown.

use std::time::Duration;

use tokio::{
    sync::{mpsc, oneshot},
    task::JoinHandle,
    time::{Instant, MissedTickBehavior},
};

use super::{
    AuditError, AuditRecord, AuditStore, ChainedRecord, checkpoint,
    entry::{Appended, Entry, chained_records},
};
use crate::{clock::SharedClock, config::AuditConfig, keys::SharedSigningKey, store::Store};

/// How the appender batches and checkpoints.
#[derive(Debug, Clone)]
pub struct AppenderConfig {
    /// Commands waiting in the channel before callers wait.
    pub queue: usize,
    /// Most records in one transaction.
    pub max_batch: usize,
    /// Sign a checkpoint after this many records.
    pub checkpoint_every: u64,
    /// …or after this long, when records were added since the last one.
    pub checkpoint_interval: Duration,
}

impl AppenderConfig {
    /// The cadence from `[audit]`, with the default queue and batch sizes.
    pub fn from_config(audit: &AuditConfig) -> AppenderConfig {
        AppenderConfig {
            checkpoint_every: audit.checkpoint_every.max(1),
            checkpoint_interval: Duration::from_secs(audit.checkpoint_interval_s.max(1)),
            ..AppenderConfig::default()
        }
    }
}

impl Default for AppenderConfig {
    fn default() -> Self {
        AppenderConfig {
            queue: 4096,
            max_batch: 2048,
            checkpoint_every: 1000,
            checkpoint_interval: Duration::from_secs(60),
        }
    }
}

type Reply = oneshot::Sender<Result<Appended, AuditError>>;

/// How often one batch lets other tasks run to collect more appends: each yield that brings one
/// costs a few microseconds, each commit saved a transaction and an fsync.
const MAX_YIELDS: u32 = 4;

enum Command {
    Append(Box<Entry>, Reply),
    Shutdown(oneshot::Sender<()>),
}

/// The handle callers append through. Cheap to clone; every clone feeds the one appender task.
#[derive(Debug, Clone)]
pub struct AuditLog {
    tx: mpsc::Sender<Command>,
}

impl std::fmt::Debug for Command {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Command::Append(entry, _) => write!(f, "Append({} records)", entry.len()),
            Command::Shutdown(_) => f.write_str("Shutdown"),
        }
    }
}

impl AuditLog {
    /// Spawns the appender task on the current runtime.
    pub fn start(
        store: Store,
        key: impl Into<SharedSigningKey>,
        clock: SharedClock,
        config: AppenderConfig,
    ) -> (AuditLog, JoinHandle<()>) {
        let (tx, rx) = mpsc::channel(config.queue.max(1));
        let task = Appender {
            store,
            key: key.into(),
            clock,
            config,
            since_checkpoint: 0,
            head: None,
        };
        let handle = tokio::spawn(task.run(rx));
        (AuditLog { tx }, handle)
    }

    /// Appends one record; returns it chained once it is durable.
    pub async fn append(&self, record: AuditRecord) -> Result<ChainedRecord, AuditError> {
        self.append_many(vec![record])
            .await?
            .pop()
            .ok_or_else(|| AuditError::Unavailable("the appender returned no record".to_owned()))
    }

    /// Appends several records (one notice to several recipients) in one transaction, in order;
    /// either all are durable or none is.
    pub async fn append_many(
        &self,
        records: Vec<AuditRecord>,
    ) -> Result<Vec<ChainedRecord>, AuditError> {
        if records.is_empty() {
            return Ok(Vec::new());
        }
        match self.append_entry(Entry::records(records)).await? {
            Appended::Chained(chained) => Ok(chained),
            Appended::KeyTaken | Appended::Stale => Err(AuditError::Unavailable(
                "an entry of records alone was skipped".to_owned(),
            )),
        }
    }

    /// Appends an entry: its records and, in the same transaction, the notice and inbox items it
    /// carries. Returns once it is durable (or skipped, when its notice's key was taken).
    pub async fn append_entry(&self, entry: Entry) -> Result<Appended, AuditError> {
        let (reply, answer) = oneshot::channel();
        self.tx
            .send(Command::Append(Box::new(entry), reply))
            .await
            .map_err(|_| AuditError::Closed)?;
        answer.await.map_err(|_| AuditError::Closed)?
    }

    /// Stops the appender: what was queued before is appended, a final checkpoint is signed, and
    /// later appends fail with [`AuditError::Closed`]. Returns when the task is done.
    pub async fn shutdown(&self) {
        let (done, finished) = oneshot::channel();
        if self.tx.send(Command::Shutdown(done)).await.is_ok() {
            let _ = finished.await;
        }
    }
}

/// Metrics of one committed batch: its size, its latency, and each record's decision.
fn count_decisions(chained: &[&ChainedRecord], size: usize, elapsed: Duration) {
    use crate::ops::metrics;
    metrics::observe(
        "sluse_audit_batch_size",
        &[],
        &metrics::SIZE_BUCKETS,
        size as f64,
    );
    metrics::observe_latency("sluse_audit_append_seconds", &[], elapsed);
    // Counted per distinct label set, not per record: each count takes the registry's lock.
    let mut counts: Vec<((&str, &str, &str), u64)> = Vec::new();
    let mut count = |key| match counts.iter_mut().find(|(k, _)| *k == key) {
        Some((_, n)) => *n += 1,
        None => counts.push((key, 1)),
    };
    for c in chained {
        let (decision, outcome) = (c.record.decision.as_str(), c.record.outcome.as_str());
        if c.record.reasons.is_empty() {
            count((decision, outcome, "none"));
        }
        for reason in &c.record.reasons {
            count((decision, outcome, reason.code.as_str()));
        }
    }
    for ((decision, outcome, reason), n) in counts {
        metrics::add(
            "sluse_decisions_total",
            &[
                ("decision", decision),
                ("outcome", outcome),
                ("reason", reason),
            ],
            n,
        );
    }
}

struct Appender {
    store: Store,
    key: SharedSigningKey,
    clock: SharedClock,
    config: AppenderConfig,
    /// Records this process appended since its last checkpoint.
    since_checkpoint: u64,
    /// The last head this process committed, `(seq, hash)`.
    head: Option<(u64, String)>,
}

impl Appender {
    async fn run(mut self, mut rx: mpsc::Receiver<Command>) {
        let mut ticker = tokio::time::interval_at(
            Instant::now() + self.config.checkpoint_interval,
            self.config.checkpoint_interval,
        );
        ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let mut shutdown: Option<oneshot::Sender<()>> = None;
        loop {
            let first = tokio::select! {
                command = rx.recv() => command,
                _ = ticker.tick() => {
                    if self.since_checkpoint > 0 {
                        self.checkpoint_last_head().await;
                    }
                    continue;
                }
            };
            let Some(first) = first else { break };
            let mut batch: Vec<(Box<Entry>, Reply)> = Vec::new();
            let mut size = 0;
            let mut next = Some(first);
            let mut yields = 0;
            while let Some(command) = next.take() {
                match command {
                    Command::Append(entry, reply) => {
                        size += entry.len().max(1);
                        batch.push((entry, reply));
                    }
                    Command::Shutdown(done) => {
                        shutdown = Some(done);
                        break;
                    }
                }
                if size < self.config.max_batch {
                    next = rx.try_recv().ok();
                    if next.is_none() && yields < MAX_YIELDS {
                        // The callers the last commit answered are ready to run and most will
                        // append again at once: let them, and take them into this batch, rather
                        // than commit a part now and the rest in a transaction of its own.
                        yields += 1;
                        tokio::task::yield_now().await;
                        next = rx.try_recv().ok();
                    }
                }
            }
            if !batch.is_empty() {
                self.commit(batch).await;
            }
            if shutdown.is_some() {
                break;
            }
        }
        // Anything queued before the shutdown was asked for is still appended.
        rx.close();
        while let Some(command) = rx.recv().await {
            if let Command::Append(entry, reply) = command {
                self.commit(vec![(entry, reply)]).await;
            }
        }
        self.final_checkpoint().await;
        if let Some(done) = shutdown {
            let _ = done.send(());
        }
    }

    /// Appends a batch in one transaction and answers every waiter.
    async fn commit(&mut self, batch: Vec<(Box<Entry>, Reply)>) {
        let (entries, replies): (Vec<Entry>, Vec<Reply>) =
            batch.into_iter().map(|(e, r)| (*e, r)).unzip();
        let size: usize = entries.iter().map(Entry::len).sum();
        let started = std::time::Instant::now();
        match self.store.append_entries(entries).await {
            Ok(outcomes) => {
                let chained: Vec<&ChainedRecord> = chained_records(&outcomes).collect();
                count_decisions(&chained, size, started.elapsed());
                if let Some(last) = chained.last() {
                    self.head = Some((last.seq, last.hash.clone()));
                }
                self.since_checkpoint += chained.len() as u64;
                for (reply, outcome) in replies.into_iter().zip(outcomes) {
                    // A caller that stopped waiting still has its entry in the chain.
                    let _ = reply.send(Ok(outcome));
                }
                if self.since_checkpoint >= self.config.checkpoint_every {
                    self.checkpoint_last_head().await;
                }
            }
            Err(e) => {
                tracing::error!(error = %e, records = size, "audit append failed");
                let error = AuditError::Unavailable(e.to_string());
                for reply in replies {
                    let _ = reply.send(Err(error.clone()));
                }
            }
        }
    }

    async fn checkpoint_last_head(&mut self) {
        if let Some((seq, hash)) = self.head.clone()
            && self.sign_and_store(seq, &hash).await
        {
            self.since_checkpoint = 0;
        }
    }

    /// At shutdown: a checkpoint of the head as the database has it, unless one covers it already.
    async fn final_checkpoint(&mut self) {
        let head = match self.store.audit_head().await {
            Ok(head) => head,
            Err(e) => {
                tracing::error!(error = %e, "cannot read the audit head for the final checkpoint");
                return;
            }
        };
        let latest = self.store.latest_checkpoint_seq().await.ok().flatten();
        if head.seq > 0 && latest.is_none_or(|l| l < head.seq) {
            self.sign_and_store(head.seq, &head.hash).await;
        }
    }

    async fn sign_and_store(&self, seq: u64, hash: &str) -> bool {
        let Some(checkpoint) = checkpoint::sign(&self.key.current(), seq, hash, self.clock.now())
        else {
            tracing::error!(
                seq,
                "the audit head's hash is not a hash; no checkpoint signed"
            );
            return false;
        };
        match self.store.insert_checkpoint(&checkpoint).await {
            Ok(()) => true,
            Err(e) => {
                tracing::error!(error = %e, seq, "cannot store an audit checkpoint");
                false
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A chained record with `decision`, `outcome` and `reasons` (the rest does not matter here).
    fn chained(decision: &str, outcome: &str, reasons: &[&str]) -> ChainedRecord {
        let reasons: Vec<_> = reasons
            .iter()
            .map(|code| serde_json::json!({"code": code, "message": "m"}))
            .collect();
        serde_json::from_value(serde_json::json!({
            "seq": 1, "prev_hash": "0", "hash": "1",
            "disclosure_id": "01890a5d-ac96-774b-bcce-b302099a8057",
            "at": "2026-03-01T09:15:00Z",
            "requester": {"sub": "kp", "dept": "youth-unit", "role": "contact_person"},
            "subject_pseudonym": null, "category": "c", "purpose": "p",
            "source": null, "recipient": null,
            "decision": decision, "outcome": outcome, "basis": null,
            "reasons": reasons, "fields_disclosed": [], "fields_redacted": [],
            "payload_digest": null, "policy_version": "v1"
        }))
        .unwrap()
    }

    fn counted(text: &str, reason: &str) -> Option<u64> {
        text.lines().find_map(|l| {
            l.strip_prefix(&format!(
                "sluse_decisions_total{{decision=\"deny\",outcome=\"denied\",reason=\"{reason}\"}} "
            ))?
            .parse()
            .ok()
        })
    }

    #[test]
    fn a_batch_counts_every_record_once_per_reason() {
        // Reason codes of this test alone: the registry is shared by the whole test binary.
        let records = [
            chained("deny", "denied", &["appender_test_a"]),
            chained("deny", "denied", &["appender_test_a", "appender_test_b"]),
            chained("deny", "denied", &["appender_test_a"]),
        ];
        let refs: Vec<&ChainedRecord> = records.iter().collect();
        count_decisions(&refs, 3, Duration::from_millis(1));
        let text = crate::ops::metrics::render(crate::ops::metrics::Snapshot::default());
        assert_eq!(counted(&text, "appender_test_a"), Some(3));
        assert_eq!(counted(&text, "appender_test_b"), Some(1));
    }
}
