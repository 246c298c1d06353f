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

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
    str::FromStr,
    sync::Arc,
    time::Duration,
};

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
mod batch_writer;
mod consents;
mod lookup_writer;
mod lookups;
mod low_priority;
pub(super) use lookups::{INDEX_BATCH, Lookup, equals, push_lookup, within};
mod notices;

use super::{OpenMode, StoreError, SubjectRegistry};

/// How often the checkpointer copies the WAL back. Under 16 notice connections the WAL grows by
/// about 100 MB/s; passes 500 ms apart left a restart 8–9 ms of copying and fsync under the write
/// lock (p99 16 ms), passes 50 ms apart leave it 1.5–2 ms (p99 8 ms). An idle pass costs nothing.
pub(super) const CHECKPOINT_EVERY: Duration = Duration::from_millis(50);

/// WAL frames (pages, about 4 KiB each) after which the checkpointer makes the WAL start over:
/// 64 MiB, half a second to a second of the heaviest load measured (16 connections of notices).
/// Each restart holds the write lock for 2–4 ms whatever the WAL's size, since the passes 50 ms
/// apart have copied nearly all of it: at 16 MiB there were 33–38 restarts in 10 s of notices and
/// a p99 of 9.6 ms, at 64 MiB 9–11 restarts and 8.4–9.1 ms (session 9, alternated).
pub(super) const WAL_RESTART_FRAMES: i64 = 16384;

/// Looks for a moment without readers in the WAL, a millisecond apart, before a restart is
/// postponed to the checkpointer's next pass.
const RESTART_ATTEMPTS: u32 = 10;

/// The WAL file's size once it has started over (`journal_size_limit`): what it grows to between
/// restarts, so that it is not cut and grown again each time.
const WAL_SIZE_LIMIT_BYTES: i64 = 64 * 1024 * 1024;

/// A pool of up to `max` connections to the database of `options`, each with the audit lookups
/// file `lookups` attached as `lookups` (decision 0026) when given.
async fn pool_of(
    max: u32,
    options: SqliteConnectOptions,
    lookups: Option<&Path>,
) -> Result<SqlitePool, StoreError> {
    let lookups = lookups.map(|p| p.to_string_lossy().into_owned());
    SqlitePoolOptions::new()
        .max_connections(max)
        .after_connect(move |conn, _| {
            let lookups = lookups.clone();
            Box::pin(async move {
                if let Some(path) = lookups {
                    sqlx::query(sqlx::AssertSqlSafe(format!(
                        "ATTACH DATABASE $1 AS {}",
                        lookup_writer::SCHEMA_NAME
                    )))
                    .bind(path)
                    .execute(conn)
                    .await?;
                }
                Ok(())
            })
        })
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

/// The database file `options` names: a file (the audit trail cannot live in memory) that exists
/// unless `mode` may create it.
fn database_file(options: &SqliteConnectOptions, mode: OpenMode) -> Result<PathBuf, StoreError> {
    let path = options.get_filename();
    if path.as_os_str().is_empty() || path == Path::new(":memory:") {
        return Err(StoreError::InvalidUrl(
            "an in-memory SQLite database cannot hold the audit trail".to_owned(),
        ));
    }
    if mode == OpenMode::Existing && !path.exists() {
        return Err(StoreError::NotMigrated(
            "the database file does not exist".to_owned(),
        ));
    }
    Ok(path.to_owned())
}

/// Runs `pass` on `store` every `every` (a pass that overruns delays the next) until aborted.
fn spawn_every<F, Fut>(every: Duration, store: SqliteStore, pass: F) -> tokio::task::JoinHandle<()>
where
    F: Fn(SqliteStore) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(every);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            pass(store.clone()).await;
        }
    })
}

/// A pool of SQLite connections.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
    /// The audit appender's own connection, outside sqlx (decision 0022).
    batches: batch_writer::BatchWriter,
    /// The lookup indexer's connection, which writes the lookups file (decision 0026).
    lookups: lookup_writer::LookupWriter,
    /// One connection for WAL checkpoints, which returns at once when readers are in the way.
    checkpointer: SqlitePool,
    writer: Arc<tokio::sync::Mutex<()>>,
    registry: Arc<crate::store::registry_cache::RegistryCache>,
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
            .pragma("wal_autocheckpoint", "0")
            // After a restart, a WAL file larger than this is cut back, so one burst does not
            // keep its disk space for good.
            .pragma("journal_size_limit", WAL_SIZE_LIMIT_BYTES.to_string())
            // A multi-row insert inside a transaction keeps a statement journal (the pages it
            // changes, to undo just that statement); past 64 KiB SQLite spills it to a temporary
            // file, and every batch of the appender passes that. In memory it is a copy, not a
            // write syscall per page (4 % of a notice's CPU in `perf`).
            .pragma("temp_store", "memory");
        let path = database_file(&options, mode)?;
        let lookups_file = lookup_writer::prepare(&path)?;
        let pool = pool_of(max_connections, options.clone(), Some(&lookups_file)).await?;
        let batches = batch_writer::BatchWriter::open(&path)?;
        let lookups = lookup_writer::LookupWriter::open(&path, &lookups_file)?;
        // SQLite's busy handler sleeps 1, 2, 5 … ms between looks; a RESTART checkpoint waiting
        // for readers that way held every writer for 8–9 ms. This connection never waits inside
        // SQLite: `checkpoint` looks again itself, sooner. It checkpoints the database alone:
        // the lookups file's connection checkpoints that file as it commits.
        let checkpointer = pool_of(1, options.busy_timeout(Duration::ZERO), None).await?;
        Ok(SqliteStore {
            pool,
            batches,
            lookups,
            checkpointer,
            writer: Arc::new(tokio::sync::Mutex::new(())),
            registry: Arc::default(),
        })
    }

    /// Held for the whole of every write (taken before a connection is acquired, so waiting
    /// writers hold no connection; never taken twice by one task).
    pub(super) async fn write_lock(&self) -> tokio::sync::MutexGuard<'_, ()> {
        self.writer.lock().await
    }

    /// Retires the cached facts read before a registry write committed at `version`.
    pub(super) fn registry_written(&self, version: u64) {
        self.registry.advance(version);
    }

    /// The audit appender's own connection.
    fn batch_writer(&self) -> &batch_writer::BatchWriter {
        &self.batches
    }

    /// The lookup indexer's connection.
    fn lookup_writer(&self) -> &lookup_writer::LookupWriter {
        &self.lookups
    }

    /// The write lock, held by its owner (for work that outlives the task that took it).
    async fn owned_write_lock(&self) -> tokio::sync::OwnedMutexGuard<()> {
        self.writer.clone().lock_owned().await
    }

    /// A subject's assignments and consents (the facts of a decision) and the registry's and the
    /// subject's versions: from the registry cache, or read on one connection (the pool charges a
    /// round trip to the connection on every release, so reads on one connection cost one acquire
    /// and one ping). The versions are read first: rows newer than them make a decision on them
    /// stale, never wrong.
    pub(super) async fn registry_of(
        &self,
        subject: &crate::cpr::Pseudonym,
    ) -> Result<Arc<SubjectRegistry>, StoreError> {
        if let Some(cached) = self.registry.get(subject.as_str()) {
            return Ok(cached);
        }
        let mut conn = self.pool.acquire().await?;
        let (version, subject_version): (i64, i64) = sqlx::query_as(
            "SELECT registry_version, coalesce((SELECT version FROM registry_versions \
             WHERE subject_pseudonym = $1), 0) FROM audit_head WHERE id = 1",
        )
        .bind(subject.as_str())
        .fetch_one(&mut *conn)
        .await?;
        let registry = Arc::new(SubjectRegistry {
            version: crate::store::registry_version(version)?,
            subject_version: crate::store::registry_version(subject_version)?,
            assignments: assignments::assignments_of(&mut *conn, subject).await?,
            consents: consents::consents_of(&mut *conn, subject).await?,
        });
        self.registry.put(subject.as_str(), registry.clone());
        Ok(registry)
    }

    /// Closes the pools.
    pub(super) async fn close(&self) {
        self.checkpointer.close().await;
        self.pool.close().await;
    }

    /// The pool, for the store implementations.
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// Copies the WAL back into the database file every `every`, off the commit path, and keeps
    /// the WAL from growing without bound. Runs until aborted.
    ///
    /// A PASSIVE checkpoint never waits for, nor blocks, anyone; but under steady load it never
    /// lets the WAL start over either: SQLite rewinds the WAL only when a writer begins while
    /// every frame is copied back and no reader still reads from the WAL, and with the pool's
    /// readers always busy that moment never comes (the WAL grew to a gigabyte in 90 seconds of
    /// notices). So once the WAL is over `restart_frames`, a RESTART checkpoint runs under
    /// the process's write lock: the appender waits for it (the PASSIVE pass has already copied
    /// nearly every frame, so it is short), readers drain, and the next commit writes the WAL
    /// from its start again.
    pub fn spawn_checkpointer(
        &self,
        every: Duration,
        restart_frames: i64,
    ) -> tokio::task::JoinHandle<()> {
        spawn_every(every, self.clone(), move |store| async move {
            if let Err(e) = store.checkpoint(restart_frames).await {
                tracing::warn!(error = %e, "WAL checkpoint failed; retrying later");
            }
        })
    }

    /// One checkpoint pass: PASSIVE, then RESTART when the WAL has grown past `restart_frames`.
    async fn checkpoint(&self, restart_frames: i64) -> Result<(), StoreError> {
        let (_busy, frames, _copied): (i64, i64, i64) =
            sqlx::query_as("PRAGMA wal_checkpoint(PASSIVE)")
                .fetch_one(&self.checkpointer)
                .await?;
        if frames >= restart_frames {
            let _write = self.write_lock().await;
            let started = std::time::Instant::now();
            // Under the write lock no frame is added, and a reader that begins now reads the
            // database file, not the WAL: the readers in the way are the few that began before,
            // each within a millisecond or so of its end.
            let mut restarted = false;
            for _ in 0..RESTART_ATTEMPTS {
                let (busy, _, _): (i64, i64, i64) =
                    sqlx::query_as("PRAGMA wal_checkpoint(RESTART)")
                        .fetch_one(&self.checkpointer)
                        .await?;
                if busy == 0 {
                    restarted = true;
                    break;
                }
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            crate::ops::metrics::observe_latency(
                "sluse_sqlite_wal_restart_seconds",
                &[],
                started.elapsed(),
            );
            if !restarted {
                tracing::debug!(frames, "WAL restart postponed: readers outlasted the wait");
            }
        }
        Ok(())
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
