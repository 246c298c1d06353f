//! The SQLite backend: one file, WAL journal, `synchronous=FULL` so a committed audit record
//! survives a power cut.
//!
//! SQLite allows one writer at a time. Writers of this process queue on an async mutex
//! ([`SqliteStore::write_lock`]) instead of colliding inside SQLite, whose busy handler waits by
//! sleeping 1, 2, 5, 10 … 100 ms and retrying: under load that left the lock idle while writers
//! slept, and gave second-long tail latencies. `busy_timeout` still covers other processes.
//!
//! The WAL is checkpointed by a background task ([`SqliteStore::spawn_checkpointer`]), not by the
//! commits.

use std::{collections::BTreeMap, str::FromStr, sync::Arc, time::Duration};

use sqlx::{
    Row,
    sqlite::{
        SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
    },
};

mod assignments;
mod audit;
pub(super) use audit::SELECT_COLUMNS;
mod audit_query;
mod consents;
mod notices;

use super::{OpenMode, StoreError};

/// The most rows one multi-row `INSERT` of the appender takes.
const MAX_INSERT_ROWS: usize = 256;

/// Splits `rows` for multi-row `INSERT`s into chunks whose lengths are powers of two, largest first,
/// at most [`MAX_INSERT_ROWS`].
///
/// Each row count is a statement text of its own, and sqlx keeps up to 100 of them prepared per
/// connection. A prepared `audit_log` insert takes about 3 KiB of SQLite's heap per row (1.4 MiB at
/// 500 rows), so with a chunk per batch the appender's cache filled with every batch size the load
/// ever produced: the resident memory grew with the records written, faster the more concurrent
/// clients. Powers of two bound it to nine shapes per table (about 1.5 MiB for `audit_log`) at the
/// cost of at most eight statements where there was one, within the same transaction.
fn insert_chunks<T>(rows: &[T]) -> impl Iterator<Item = &[T]> {
    let mut rest = rows;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let len = if rest.len() >= MAX_INSERT_ROWS {
            MAX_INSERT_ROWS
        } else {
            // The largest power of two not above the rows left.
            1 << rest.len().ilog2()
        };
        let (chunk, tail) = rest.split_at(len);
        rest = tail;
        Some(chunk)
    })
}

/// A pool of up to `max` connections to the database of `options`.
async fn pool_of(max: u32, options: SqliteConnectOptions) -> Result<SqlitePool, StoreError> {
    SqlitePoolOptions::new()
        .max_connections(max)
        .acquire_timeout(Duration::from_secs(5))
        // A connection to a local file does not go stale; the default ping on every acquire
        // costs a round trip to the connection's thread per query.
        .test_before_acquire(false)
        .connect_with(options)
        .await
        .map_err(|e| match &e {
            sqlx::Error::Database(db) if db.code().as_deref() == Some("14") => {
                StoreError::NotMigrated("the database file does not exist".to_owned())
            }
            _ => StoreError::from(e),
        })
}

/// A pool of SQLite connections.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
    /// One connection for the audit appender's batches, so their statements (one text per batch
    /// shape) stay prepared in its statement cache and its page cache keeps the indexes' inner
    /// pages, instead of being spread over every connection of the pool.
    appender: SqlitePool,
    writer: Arc<tokio::sync::Mutex<()>>,
}

impl SqliteStore {
    /// Opens (or, with [`OpenMode::CreateIfMissing`], creates) the database file.
    pub async fn connect(
        url: &str,
        max_connections: u32,
        mode: OpenMode,
    ) -> Result<Self, StoreError> {
        let options = SqliteConnectOptions::from_str(url)
            .map_err(|_| StoreError::InvalidUrl("not a valid sqlite:// URL".to_owned()))?
            .create_if_missing(mode == OpenMode::CreateIfMissing)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(5))
            // Checkpoints run from `spawn_checkpointer`, not inside whichever commit crosses the
            // threshold: a commit then costs its WAL append and fsync, never a checkpoint's.
            // (Closing the last connection still checkpoints, so short-lived commands are fine.)
            .pragma("wal_autocheckpoint", "0");
        let pool = pool_of(max_connections, options.clone()).await?;
        let appender = pool_of(1, options).await?;
        Ok(SqliteStore {
            pool,
            appender,
            writer: Arc::new(tokio::sync::Mutex::new(())),
        })
    }

    /// Held for the whole of every write (taken before a connection is acquired, so waiting
    /// writers hold no connection; never taken twice by one task).
    pub(super) async fn write_lock(&self) -> tokio::sync::MutexGuard<'_, ()> {
        self.writer.lock().await
    }

    /// The audit appender's own connection.
    pub(super) fn appender_pool(&self) -> &SqlitePool {
        &self.appender
    }

    /// Closes both pools.
    pub(super) async fn close(&self) {
        self.appender.close().await;
        self.pool.close().await;
    }

    /// The pool, for the store implementations.
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// Copies the WAL back into the database file every `every`, off the commit path (PASSIVE: it
    /// never waits for, nor blocks, the writer). Runs until aborted.
    pub fn spawn_checkpointer(&self, every: Duration) -> tokio::task::JoinHandle<()> {
        let pool = self.pool.clone();
        tokio::spawn(async move {
            let mut ticker = tokio::time::interval(every);
            ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticker.tick().await;
                if let Err(e) = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
                    .execute(&pool)
                    .await
                {
                    tracing::warn!(error = %e, "WAL checkpoint failed; retrying later");
                }
            }
        })
    }

    pub(super) async fn applied_migrations(&self) -> Result<BTreeMap<i64, Vec<u8>>, StoreError> {
        let exists: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = '_sqlx_migrations'",
        )
        .fetch_one(&self.pool)
        .await?;
        if exists == 0 {
            return Ok(BTreeMap::new());
        }
        let rows = sqlx::query("SELECT version, checksum FROM _sqlx_migrations WHERE success")
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("version")?, r.try_get("checksum")?)))
            .collect()
    }

    pub(super) async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::{MAX_INSERT_ROWS, insert_chunks};

    #[test]
    fn insert_chunks_cover_the_rows_in_order_in_few_shapes() {
        let mut shapes = std::collections::BTreeSet::new();
        for n in 0..=3 * MAX_INSERT_ROWS + 7 {
            let rows: Vec<usize> = (0..n).collect();
            let chunks: Vec<&[usize]> = insert_chunks(&rows).collect();
            assert_eq!(chunks.concat(), rows, "{n} rows");
            for chunk in &chunks {
                assert!(chunk.len().is_power_of_two() && chunk.len() <= MAX_INSERT_ROWS);
                shapes.insert(chunk.len());
            }
            // Largest first, so a batch takes as few statements as its binary digits.
            assert!(
                chunks.windows(2).all(|w| w[0].len() >= w[1].len()),
                "{n} rows"
            );
            assert!(chunks.len() <= n / MAX_INSERT_ROWS + 8, "{n} rows");
        }
        assert_eq!(shapes.len(), 9);
    }
}
