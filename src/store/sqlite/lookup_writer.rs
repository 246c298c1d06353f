//! The audit lookups' own file (`<database>-lookups`) and the indexer's connection, which writes
//! it (decision 0026).
//!
//! SQLite lets one connection at a time write a file. With the lookup tables in the database
//! file, each indexer pass held that file's write lock for 20–30 ms per 4,096 records and the
//! appender's batches queued behind it. In a file of its own the indexer takes that file's write
//! lock, not the database's: it reads the records past its mark from the database once, in a short
//! read, and writes the lookups while the appender commits.
//!
//! The lookups are derived from `audit_log` and can be rebuilt from it, so the file commits with
//! `synchronous = NORMAL` and need not be backed up. Its mark keeps the hash of the record it
//! reaches: a file whose mark the database does not bear out (the database restored from a
//! backup, or replaced) is emptied and filled again from the first record.

use std::{
    ffi::OsString,
    path::{Path, PathBuf},
    sync::{Arc, Mutex, PoisonError},
    time::Duration,
};

use rusqlite::{Connection, OpenFlags, OptionalExtension, params};

use super::{batch_writer::store_error, lookups::Lookup, low_priority::LowPriority};
use crate::store::StoreError;

/// The lookup tables (as migrations 0007 to 0009 left them in the database file) and the mark.
/// `PRAGMA user_version` numbers this shape; a file of another shape is dropped and rebuilt.
const SCHEMA: &str = "
    CREATE TABLE audit_by_subject (
        epoch             INTEGER NOT NULL,
        subject_pseudonym TEXT NOT NULL,
        seq               INTEGER NOT NULL,
        PRIMARY KEY (epoch, subject_pseudonym, seq)
    ) WITHOUT ROWID;
    CREATE TABLE audit_by_requester (
        epoch         INTEGER NOT NULL,
        requester_sub TEXT NOT NULL,
        seq           INTEGER NOT NULL,
        PRIMARY KEY (epoch, requester_sub, seq)
    ) WITHOUT ROWID;
    CREATE TABLE audit_by_basis (
        epoch    INTEGER NOT NULL,
        basis_id TEXT NOT NULL,
        seq      INTEGER NOT NULL,
        PRIMARY KEY (epoch, basis_id, seq)
    ) WITHOUT ROWID;
    CREATE TABLE audit_by_source (
        source TEXT NOT NULL,
        seq    INTEGER NOT NULL,
        PRIMARY KEY (source, seq)
    ) WITHOUT ROWID;
    CREATE TABLE audit_by_recipient (
        recipient TEXT NOT NULL,
        seq       INTEGER NOT NULL,
        PRIMARY KEY (recipient, seq)
    ) WITHOUT ROWID;
    CREATE TABLE audit_by_at (
        at  TEXT NOT NULL,
        seq INTEGER NOT NULL,
        PRIMARY KEY (at, seq)
    ) WITHOUT ROWID;
    -- Every record with seq <= indexed_upto has its keys in every table; indexed_hash is that
    -- record's hash, which ties the file to the database's history.
    CREATE TABLE audit_index_state (
        id           INTEGER PRIMARY KEY CHECK (id = 1),
        indexed_upto INTEGER NOT NULL CHECK (indexed_upto >= 0),
        indexed_hash TEXT NOT NULL
    );
    INSERT INTO audit_index_state (id, indexed_upto, indexed_hash) VALUES (1, 0, '');
";

/// The version of [`SCHEMA`], in the file's `user_version`.
const SCHEMA_VERSION: i64 = 1;

/// The schema name the lookups file is attached under, on every connection to the database.
pub(super) const SCHEMA_NAME: &str = "lookups";

/// The page cache for the lookups file on the indexer's connection, in KiB: the pages a pass
/// writes (the current epoch's region of each partitioned table, the right edges of the others),
/// which the next pass writes again. The database itself gets [`DATABASE_CACHE_KIB`]: a pass reads
/// its records once, in order. With 4 MiB and SQLite's default 2 MiB, the gateway's peak RSS under
/// `bench/ab.sh` was 52–54 MiB; with these, 45 MiB, at the same speed (decision 0026).
const CACHE_KIB: u32 = 2 * 1024;

/// The page cache for the database on the indexer's connection, in KiB.
const DATABASE_CACHE_KIB: u32 = 256;

/// The lookups file of the database at `db`: its path with `-lookups` appended, beside SQLite's
/// own `-wal` and `-shm`.
pub(super) fn path_of(db: &Path) -> PathBuf {
    let mut path = OsString::from(db.as_os_str());
    path.push("-lookups");
    PathBuf::from(path)
}

/// Creates the lookups file of the database at `db` if it is missing (or of another shape), in
/// WAL mode; returns its path. A file SQLite cannot read (damaged, or not a database) is removed
/// and made again: it holds nothing that `audit_log` does not.
pub(super) fn prepare(db: &Path) -> Result<PathBuf, StoreError> {
    let path = path_of(db);
    match create(&path) {
        Ok(()) => Ok(path),
        Err(e) if unreadable(&e) => {
            tracing::warn!("the audit lookups file is unreadable; making it again");
            for suffix in ["", "-wal", "-shm"] {
                let mut file = OsString::from(path.as_os_str());
                file.push(suffix);
                match std::fs::remove_file(&file) {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(_) => {
                        return Err(StoreError::Unavailable(
                            "the audit lookups file is unreadable and cannot be removed".to_owned(),
                        ));
                    }
                }
            }
            create(&path).map_err(store_error)?;
            Ok(path)
        }
        Err(e) => Err(store_error(e)),
    }
}

/// Whether SQLite found the file damaged or not a database at all.
fn unreadable(error: &rusqlite::Error) -> bool {
    matches!(
        error,
        rusqlite::Error::SqliteFailure(e, _)
            if matches!(e.code, rusqlite::ErrorCode::NotADatabase | rusqlite::ErrorCode::DatabaseCorrupt)
    )
}

/// Opens (creating it if missing) the lookups file at `path` and gives it [`SCHEMA`].
fn create(path: &Path) -> rusqlite::Result<()> {
    let mut conn = Connection::open(path)?;
    conn.busy_timeout(Duration::from_secs(5))?;
    conn.execute_batch("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;")?;
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let version: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if version != SCHEMA_VERSION {
        // Derived data: another shape is dropped, not migrated.
        let tables: Vec<String> = tx
            .prepare("SELECT name FROM sqlite_schema WHERE type = 'table'")
            .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect())?;
        for table in tables {
            tx.execute_batch(&format!("DROP TABLE \"{}\"", table.replace('"', "\"\"")))?;
        }
        tx.execute_batch(SCHEMA)?;
        tx.execute_batch(&format!("PRAGMA user_version = {SCHEMA_VERSION}"))?;
    }
    tx.commit()
}

/// The indexer's connection: the database as `main` (read), the lookups file attached (written).
#[derive(Clone)]
pub(super) struct LookupWriter {
    conn: Arc<Mutex<Connection>>,
    thread: LowPriority,
}

impl std::fmt::Debug for LookupWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LookupWriter")
    }
}

impl LookupWriter {
    /// Opens the database at `db` with its lookups file (made by [`prepare`]) attached, and
    /// empties the lookups if the database does not bear out their mark.
    pub(super) fn open(db: &Path, lookups: &Path) -> Result<LookupWriter, StoreError> {
        let conn = Connection::open_with_flags(
            db,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(store_error)?;
        conn.busy_timeout(Duration::from_secs(5))
            .map_err(store_error)?;
        conn.execute(
            &format!("ATTACH DATABASE ?1 AS {SCHEMA_NAME}"),
            [lookups.to_string_lossy()],
        )
        .map_err(store_error)?;
        conn.execute_batch(&format!(
            "PRAGMA {SCHEMA_NAME}.synchronous = NORMAL; PRAGMA temp_store = memory; \
             PRAGMA {SCHEMA_NAME}.cache_size = -{CACHE_KIB}; \
             PRAGMA main.cache_size = -{DATABASE_CACHE_KIB}; \
             CREATE TEMP TABLE pending (seq INTEGER PRIMARY KEY, subject_pseudonym TEXT, \
             requester_sub TEXT, basis_id TEXT, source TEXT, recipient TEXT, at TEXT, hash TEXT);"
        ))
        .map_err(store_error)?;
        let mut conn = conn;
        reconcile(&mut conn)?;
        let thread = LowPriority::start("sluse-lookups")
            .map_err(|_| StoreError::Unavailable("the lookup indexer did not start".to_owned()))?;
        Ok(LookupWriter {
            conn: Arc::new(Mutex::new(conn)),
            thread,
        })
    }

    /// One indexer pass over up to `limit` records past the mark, on the indexer's low-priority
    /// thread (decision 0028); returns how many it covered.
    pub(super) async fn pass(&self, limit: i64) -> Result<u64, StoreError> {
        let conn = self.conn.clone();
        self.thread
            .run(move || {
                let mut conn = conn.lock().unwrap_or_else(PoisonError::into_inner);
                reconcile(&mut conn)?;
                pass(&mut conn, limit)
            })
            .await
            .map_err(|_| StoreError::Unavailable("the lookup indexer failed".to_owned()))?
    }
}

/// Empties the lookups when the database does not hold, at the mark, the record whose hash the
/// mark keeps: the file then describes another history, and trusting its mark would hide records
/// from the DPO's searches.
fn reconcile(conn: &mut Connection) -> Result<(), StoreError> {
    let (mark, hash): (i64, String) = conn
        .prepare_cached(&format!(
            "SELECT indexed_upto, indexed_hash FROM {SCHEMA_NAME}.audit_index_state WHERE id = 1"
        ))
        .and_then(|mut s| s.query_row([], |r| Ok((r.get(0)?, r.get(1)?))))
        .map_err(store_error)?;
    if mark == 0 {
        return Ok(());
    }
    let migrated: bool = conn
        .prepare_cached(
            "SELECT EXISTS (SELECT 1 FROM main.sqlite_schema WHERE type = 'table' \
             AND name = 'audit_log')",
        )
        .and_then(|mut s| s.query_row([], |r| r.get(0)))
        .map_err(store_error)?;
    let found: Option<String> = if migrated {
        conn.prepare_cached("SELECT hash FROM main.audit_log WHERE seq = ?1")
            .and_then(|mut s| s.query_row([mark], |r| r.get(0)).optional())
            .map_err(store_error)?
    } else {
        None
    };
    if found.as_deref() == Some(hash.as_str()) {
        return Ok(());
    }
    tracing::warn!(
        mark,
        "the audit lookups file does not match the database's chain; rebuilding it"
    );
    let tx = conn.transaction().map_err(store_error)?;
    for lookup in Lookup::ALL {
        tx.execute_batch(&format!("DELETE FROM {}", lookup.table()))
            .map_err(store_error)?;
    }
    tx.execute_batch(&format!(
        "UPDATE {SCHEMA_NAME}.audit_index_state SET indexed_upto = 0, indexed_hash = '' \
         WHERE id = 1"
    ))
    .map_err(store_error)?;
    tx.commit().map_err(store_error)
}

/// Copies the keys of up to `limit` records past the mark into the lookup tables and moves the
/// mark, in one transaction of the lookups file; returns how many records it covered.
///
/// The records are first copied into a temporary table in one short read of the database, so no
/// read of the database stays open while the lookups are written (a WAL restart of the database
/// waits for its readers). The lookups' transaction is DEFERRED: `BEGIN IMMEDIATE` would take
/// the write lock of every attached file, the database's too, and the appender would wait for it.
fn pass(conn: &mut Connection, limit: i64) -> Result<u64, StoreError> {
    let tx = conn.transaction().map_err(store_error)?;
    tx.execute_batch("DELETE FROM temp.pending")
        .map_err(store_error)?;
    let copied = tx
        .prepare_cached(&format!(
            "INSERT INTO temp.pending SELECT seq, subject_pseudonym, requester_sub, basis_id, \
             source, recipient, at, hash FROM main.audit_log WHERE seq > (SELECT indexed_upto \
             FROM {SCHEMA_NAME}.audit_index_state WHERE id = 1) ORDER BY seq LIMIT ?1"
        ))
        .and_then(|mut s| s.execute([limit.max(1)]))
        .map_err(store_error)?;
    tx.commit().map_err(store_error)?;
    if copied == 0 {
        return Ok(0);
    }
    let tx = conn.transaction().map_err(store_error)?;
    for lookup in Lookup::ALL {
        let (columns, values) = lookup.columns();
        // Sorted by the table's key, so each leaf page of the table is visited once per pass.
        tx.prepare_cached(&format!(
            "INSERT OR IGNORE INTO {} ({columns}) SELECT {values} FROM temp.pending \
             WHERE {} IS NOT NULL ORDER BY {columns}",
            lookup.table(),
            lookup.column()
        ))
        .and_then(|mut s| s.execute([]))
        .map_err(store_error)?;
    }
    tx.prepare_cached(&format!(
        "UPDATE {SCHEMA_NAME}.audit_index_state SET indexed_upto = p.seq, indexed_hash = p.hash \
         FROM (SELECT seq, hash FROM temp.pending ORDER BY seq DESC LIMIT 1) AS p \
         WHERE id = 1 AND indexed_upto < p.seq"
    ))
    .and_then(|mut s| s.execute(params![]))
    .map_err(store_error)?;
    tx.commit().map_err(store_error)?;
    Ok(u64::try_from(copied).unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mark(lookups: &Path) -> (i64, i64) {
        let conn = Connection::open(lookups).unwrap();
        let version = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        let mark = conn
            .query_row("SELECT indexed_upto FROM audit_index_state", [], |r| {
                r.get(0)
            })
            .unwrap();
        (version, mark)
    }

    #[test]
    fn an_unreadable_lookups_file_is_made_again() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("sluse.db");
        let lookups = path_of(&db);
        assert_eq!(lookups, dir.path().join("sluse.db-lookups"));
        std::fs::write(&lookups, vec![0x5a; 8192]).unwrap();
        assert_eq!(prepare(&db).unwrap(), lookups);
        assert_eq!(mark(&lookups), (SCHEMA_VERSION, 0));
    }

    #[test]
    fn a_lookups_file_of_another_shape_is_dropped_and_made_again() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("sluse.db");
        let lookups = path_of(&db);
        let conn = Connection::open(&lookups).unwrap();
        conn.execute_batch("CREATE TABLE audit_by_subject (x); PRAGMA user_version = 99;")
            .unwrap();
        drop(conn);
        prepare(&db).unwrap();
        assert_eq!(mark(&lookups), (SCHEMA_VERSION, 0));
        // A second start keeps what the first made.
        Connection::open(&lookups)
            .unwrap()
            .execute("UPDATE audit_index_state SET indexed_upto = 7", [])
            .unwrap();
        prepare(&db).unwrap();
        assert_eq!(mark(&lookups), (SCHEMA_VERSION, 7));
    }
}
