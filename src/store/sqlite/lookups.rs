//! The audit trail's lookups on SQLite (by subject, requester, basis, department and time): tables
//! written behind the chain by an indexer task, not in the appender's commit (decision 0021,
//! migrations 0007 to 0009), in a file of their own attached to every connection as `lookups`
//! (decision 0026, `lookup_writer`).
//!
//! Every record with `seq <= lookups.audit_index_state.indexed_upto` has its keys in every table;
//! a pass of the indexer fills the tables and moves the mark in one transaction of the lookups
//! file. A query reads a table and scans `audit_log` past the mark within one statement, so a
//! record is found the moment its append has committed: the statement reads each file from one
//! snapshot, and whichever it reads first, a record is either at or below the mark it sees (the
//! mark moves only over committed records, with their keys) or past it in `audit_log`.

use std::time::Duration;

use sqlx::{Database, QueryBuilder};

use super::SqliteStore;
use crate::store::StoreError;

/// Records whose keys one indexer pass copies at most, in one transaction of the lookups file. A
/// pass has a fixed cost (each epoch region's pages, the statements), which larger passes share
/// out (decision 0021, "Later").
pub(in crate::store) const INDEX_BATCH: i64 = 4096;

/// The lookups whose keys spread over many values (subjects, caseworkers, consents) are
/// partitioned by epochs of `1 << EPOCH_SHIFT` records (migration 0009): the table's key is
/// `(seq >> EPOCH_SHIFT, key, seq)`, so the indexer's sorted pass writes into the current epoch's
/// region of the table and dirties about as many pages as the keys fill. Keyed by `(key, seq)`
/// alone, a pass landed on a leaf page of its own per record once the table had outgrown it,
/// which is what the appender's commit had paid before decision 0021. A lookup probes every
/// epoch: about 250 probes per million records.
pub(in crate::store) const EPOCH_SHIFT: u32 = 12;

/// A lookup table and the `audit_log` column whose values it holds.
#[derive(Debug, Clone, Copy)]
pub(in crate::store) enum Lookup {
    /// `audit_by_subject`.
    Subject,
    /// `audit_by_requester`.
    Requester,
    /// `audit_by_basis`.
    Basis,
    /// `audit_by_source`.
    Source,
    /// `audit_by_recipient`.
    Recipient,
    /// `audit_by_at`.
    At,
}

impl Lookup {
    /// Every lookup table.
    pub(super) const ALL: [Lookup; 6] = [
        Lookup::Subject,
        Lookup::Requester,
        Lookup::Basis,
        Lookup::Source,
        Lookup::Recipient,
        Lookup::At,
    ];

    /// The table, named in the lookups file's schema.
    pub(super) fn table(self) -> &'static str {
        match self {
            Lookup::Subject => "lookups.audit_by_subject",
            Lookup::Requester => "lookups.audit_by_requester",
            Lookup::Basis => "lookups.audit_by_basis",
            Lookup::Source => "lookups.audit_by_source",
            Lookup::Recipient => "lookups.audit_by_recipient",
            Lookup::At => "lookups.audit_by_at",
        }
    }

    /// Whether the table is partitioned by epoch (see [`EPOCH_SHIFT`]).
    fn epoched(self) -> bool {
        matches!(self, Lookup::Subject | Lookup::Requester | Lookup::Basis)
    }

    /// The table's columns, and the expressions over `audit_log`'s columns that fill them.
    pub(super) fn columns(self) -> (String, String) {
        let column = self.column();
        if self.epoched() {
            (
                format!("epoch, {column}, seq"),
                format!("seq >> {EPOCH_SHIFT} AS epoch, {column}, seq"),
            )
        } else {
            (format!("{column}, seq"), format!("{column}, seq"))
        }
    }

    /// The column, in `audit_log` and in the table alike.
    pub(in crate::store) fn column(self) -> &'static str {
        match self {
            Lookup::Subject => "subject_pseudonym",
            Lookup::Requester => "requester_sub",
            Lookup::Basis => "basis_id",
            Lookup::Source => "source",
            Lookup::Recipient => "recipient",
            Lookup::At => "at",
        }
    }
}

/// Appends ` AND seq IN (…)`: the seqs of the records for which `condition` holds in the column
/// of any of `lookups`, from the lookup tables up to the mark and from `audit_log` past it.
/// `condition` pushes a condition on the column it is given (see [`equals`], [`within`]). The
/// caller still tests the columns themselves, which keeps the answer right even if a table were
/// edited by hand.
pub(in crate::store) fn push_lookup<DB>(
    qb: &mut QueryBuilder<DB>,
    lookups: &[Lookup],
    condition: impl Fn(&mut QueryBuilder<DB>, &str),
) where
    DB: Database,
{
    qb.push(" AND seq IN (");
    for lookup in lookups {
        if lookup.epoched() {
            // One probe of the key per epoch up to the mark's, the epochs the outer loop.
            qb.push(format_args!(
                "SELECT t.seq FROM (WITH RECURSIVE e(n) AS (SELECT 0 UNION ALL SELECT n + 1 \
                 FROM e WHERE n < (SELECT indexed_upto >> {EPOCH_SHIFT} \
                 FROM lookups.audit_index_state WHERE id = 1)) SELECT n FROM e) AS e \
                 CROSS JOIN {} AS t WHERE t.epoch = e.n AND ",
                lookup.table()
            ));
        } else {
            qb.push(format_args!("SELECT seq FROM {} WHERE ", lookup.table()));
        }
        condition(qb, lookup.column());
        qb.push(" UNION ALL ");
    }
    qb.push(
        "SELECT seq FROM audit_log WHERE seq > \
         (SELECT indexed_upto FROM lookups.audit_index_state WHERE id = 1) AND (",
    );
    for (i, lookup) in lookups.iter().enumerate() {
        if i > 0 {
            qb.push(" OR ");
        }
        condition(qb, lookup.column());
    }
    qb.push("))");
}

/// `column = value`.
pub(in crate::store) fn equals<DB>(value: &str) -> impl Fn(&mut QueryBuilder<DB>, &str) + '_
where
    DB: Database,
    String: for<'t> sqlx::Encode<'t, DB> + sqlx::Type<DB>,
{
    move |qb, column| {
        qb.push(format_args!("{column} = "))
            .push_bind(value.to_owned());
    }
}

/// `from <= column < to`, either bound left out when `None` (both `None`: every row).
pub(in crate::store) fn within<'a, DB>(
    from: Option<&'a str>,
    to: Option<&'a str>,
) -> impl Fn(&mut QueryBuilder<DB>, &str) + 'a
where
    DB: Database,
    String: for<'t> sqlx::Encode<'t, DB> + sqlx::Type<DB>,
{
    move |qb, column| {
        qb.push("(1 = 1");
        if let Some(from) = from {
            qb.push(format_args!(" AND {column} >= "))
                .push_bind(from.to_owned());
        }
        if let Some(to) = to {
            qb.push(format_args!(" AND {column} < "))
                .push_bind(to.to_owned());
        }
        qb.push(")");
    }
}

/// The lowest `seq` where a lookup table and `audit_log` disagree (a record up to the mark whose
/// key is missing, or a row anywhere naming a record that does not carry that key), and what is
/// wrong. Rows past the mark are no fault: a pass fills the tables before it moves the mark.
/// One indexed probe per record and per row: seconds for millions, run by `verify`.
pub(super) async fn mismatch(pool: &sqlx::SqlitePool) -> Result<Option<(u64, String)>, StoreError> {
    let mut first: Option<(u64, String)> = None;
    for lookup in Lookup::ALL {
        let (table, column) = (lookup.table(), lookup.column());
        // A row under another epoch than its seq's is one no probe finds where it looks.
        let (in_epoch, off_epoch) = if lookup.epoched() {
            (
                format!("t.epoch = a.seq >> {EPOCH_SHIFT} AND "),
                format!("t.epoch != t.seq >> {EPOCH_SHIFT} OR "),
            )
        } else {
            (String::new(), String::new())
        };
        let missing: Option<i64> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT min(a.seq) FROM audit_log AS a, lookups.audit_index_state AS s \
             WHERE s.id = 1 AND a.seq <= s.indexed_upto AND a.{column} IS NOT NULL \
             AND NOT EXISTS (SELECT 1 FROM {table} AS t \
                             WHERE {in_epoch}t.{column} = a.{column} AND t.seq = a.seq)"
        )))
        .fetch_one(pool)
        .await?;
        let stray: Option<i64> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT min(t.seq) FROM {table} AS t WHERE {off_epoch}NOT EXISTS \
                 (SELECT 1 FROM audit_log AS a WHERE a.seq = t.seq AND a.{column} = t.{column})"
        )))
        .fetch_one(pool)
        .await?;
        let found = [
            missing.map(|seq| {
                (seq, format!("the lookup table {table} lacks this record: a search by {column} would not find it"))
            }),
            stray.map(|seq| {
                (seq, format!("the lookup table {table} has a row for this record that its {column} does not match"))
            }),
        ];
        for (seq, problem) in found.into_iter().flatten() {
            let seq = u64::try_from(seq).unwrap_or(0);
            if first.as_ref().is_none_or(|(f, _)| seq < *f) {
                first = Some((seq, problem));
            }
        }
    }
    Ok(first)
}

impl SqliteStore {
    /// Copies the keys of up to `limit` records past the mark into the lookup tables and moves
    /// the mark; returns how many records it covered (0: nothing was behind).
    ///
    /// The pass writes the lookups file, not the database: appends go on meanwhile (decision
    /// 0026).
    pub async fn index_pending(&self, limit: i64) -> Result<u64, StoreError> {
        self.lookup_writer().pass(limit).await
    }

    /// Indexes every record appended so far, in transactions of [`INDEX_BATCH`] records;
    /// returns how many it covered.
    pub async fn index_all(&self) -> Result<u64, StoreError> {
        let mut done = 0;
        loop {
            let pass = self.index_pending(INDEX_BATCH).await?;
            done += pass;
            if pass < u64::try_from(INDEX_BATCH).unwrap_or(0) {
                return Ok(done);
            }
        }
    }

    /// Records appended but not yet in the lookup tables.
    pub async fn index_lag(&self) -> Result<u64, StoreError> {
        let lag: i64 = sqlx::query_scalar(
            "SELECT h.seq - s.indexed_upto FROM audit_head AS h, lookups.audit_index_state AS s \
             WHERE h.id = 1 AND s.id = 1",
        )
        .fetch_one(self.pool())
        .await?;
        Ok(u64::try_from(lag).unwrap_or(0))
    }

    /// Keeps the lookup tables caught up: every `every`, indexes what was appended since, in
    /// transactions of at most `batch` records. Runs until
    /// aborted; an error is logged and retried on the next tick (queries stay right meanwhile,
    /// they scan more of `audit_log`).
    pub fn spawn_indexer(&self, every: Duration, batch: i64) -> tokio::task::JoinHandle<()> {
        super::spawn_every(every, self.clone(), move |store| async move {
            loop {
                let started = std::time::Instant::now();
                match store.index_pending(batch).await {
                    Ok(done) => {
                        if done > 0 {
                            crate::ops::metrics::add(
                                "sluse_audit_lookups_indexed_total",
                                &[],
                                done,
                            );
                            crate::ops::metrics::observe_latency(
                                "sluse_audit_lookups_index_seconds",
                                &[],
                                started.elapsed(),
                            );
                        }
                        if done < u64::try_from(batch).unwrap_or(0) {
                            break;
                        }
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "audit lookup indexing failed; retrying later");
                        break;
                    }
                }
                tokio::task::yield_now().await;
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::EPOCH_SHIFT;

    #[test]
    fn the_migration_keys_rows_by_the_epochs_the_lookups_probe() {
        let migration = include_str!("../../../migrations/sqlite/0009_audit_lookups_by_epoch.sql");
        let epoch = format!("SELECT seq >> {EPOCH_SHIFT},");
        assert_eq!(migration.matches(&epoch).count(), 3, "{epoch}");
    }
}
