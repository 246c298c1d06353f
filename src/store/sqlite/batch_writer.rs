//! The audit appender's SQLite connection: one batch is one synchronous call on a blocking thread
//! (decision 0022).
//!
//! sqlx runs each SQLite connection on a worker thread of its own and hands it every statement
//! over a channel, so each statement costs two thread switches. A 62-record batch was nine such
//! round trips (`BEGIN`, the head, five power-of-two inserts, the head's update, `COMMIT`), about
//! a fifth of the appender's cycle at 64 writers. Here the whole transaction runs in one call on
//! a thread of the blocking pool, through rusqlite (the same SQLite library sqlx links), with one
//! prepared single-row statement per table: one hand-off per batch, and no multi-row statement
//! shapes to bound.

use std::{
    collections::HashMap,
    path::Path,
    sync::{Arc, Mutex, PoisonError},
    time::Duration,
};

use rusqlite::{Connection, OpenFlags, OptionalExtension, TransactionBehavior, params};

use crate::{
    audit::{ChainedRecord, canonical::format_instant, entry::Entry},
    notices::{InboxItem, NoticeRecord},
    store::{
        StoreError,
        audit::{
            Batch, BatchOutcome, basis_columns, db_seq, json_list, stale_entries, subjects_behind,
        },
        consents::json_text,
        instant_text,
    },
};

const INSERT_RECORD: &str = "INSERT INTO audit_log (seq, disclosure_id, at, requester_sub, \
     requester_dept, requester_role, subject_pseudonym, category, purpose, source, recipient, \
     decision, outcome, basis_kind, basis_id, reasons, fields_disclosed, fields_redacted, \
     payload_digest, policy_version, prev_hash, hash) \
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, \
     ?19, ?20, ?21, ?22)";

const INSERT_NOTICE: &str = "INSERT INTO notices (id, sender_dept, sender_sub, idempotency_key, \
     body_digest, kind, subject_pseudonym, response, created_at, completed_at) \
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9) \
     ON CONFLICT (sender_dept, idempotency_key) DO NOTHING RETURNING id";

const INSERT_ITEM: &str = "INSERT INTO inbox_items (id, notice_id, recipient_dept, kind, sealed, \
     redacted, basis, disclosure_id, received_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) \
     ON CONFLICT (notice_id, recipient_dept) DO NOTHING";

/// The appender's own connection to the database file.
#[derive(Clone)]
pub(super) struct BatchWriter {
    conn: Arc<Mutex<Connection>>,
}

impl std::fmt::Debug for BatchWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BatchWriter")
    }
}

impl BatchWriter {
    /// Opens `path` (which sqlx has opened, and so created when asked to) with the settings of
    /// the pool's connections: `synchronous=FULL`, no automatic checkpoints.
    pub(super) fn open(path: &Path) -> Result<BatchWriter, StoreError> {
        if path.as_os_str().is_empty() || path == Path::new(":memory:") {
            return Err(StoreError::InvalidUrl(
                "an in-memory SQLite database cannot hold the audit trail".to_owned(),
            ));
        }
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(store_error)?;
        conn.busy_timeout(Duration::from_secs(5))
            .map_err(store_error)?;
        // The appender's statements and the indexer's, with room to spare.
        conn.set_prepared_statement_cache_capacity(32);
        conn.execute_batch(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON; \
             PRAGMA wal_autocheckpoint = 0; PRAGMA temp_store = memory;",
        )
        .map_err(store_error)?;
        Ok(BatchWriter {
            conn: Arc::new(Mutex::new(conn)),
        })
    }

    /// Appends `entries` in one `BEGIN IMMEDIATE` transaction on a blocking thread.
    pub(super) async fn append(
        &self,
        entries: Vec<Entry>,
        write: tokio::sync::OwnedMutexGuard<()>,
    ) -> Result<BatchOutcome, StoreError> {
        let conn = self.conn.clone();
        tokio::task::spawn_blocking(move || {
            // A panic inside a transaction unwinds through its drop, which rolls it back: the
            // connection is usable again. `write`, the process's write lock, is held until the
            // transaction has ended, also when the caller stops waiting.
            let mut conn = conn.lock().unwrap_or_else(PoisonError::into_inner);
            let done = append(&mut conn, entries);
            drop(write);
            done
        })
        .await
        .map_err(|_| StoreError::Unavailable("the database call failed".to_owned()))?
    }
}

/// The batch as one transaction, as `AuditStore::append_entries` describes it.
///
/// The registry's version is read in the same transaction, which every registry write also
/// updates under the process's write lock: it holds until the commit.
fn append(conn: &mut Connection, entries: Vec<Entry>) -> Result<BatchOutcome, StoreError> {
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(store_error)?;
    let (head_seq, head_hash, version): (i64, String, i64) = tx
        .prepare_cached("SELECT seq, hash, registry_version FROM audit_head WHERE id = 1")
        .and_then(|mut s| s.query_row([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?))))
        .map_err(store_error)?;
    let version = crate::store::registry_version(version)?;
    let stale = stale_entries(
        &entries,
        version,
        &subject_versions(&tx, &entries, version)?,
    );
    let fresh = entries
        .iter()
        .zip(&stale)
        .filter(|(_, stale)| !**stale)
        .filter_map(|(e, _)| e.notice.as_ref());
    let inserted = insert_notices(&tx, fresh)?;
    let batch = Batch::plan(head_seq, &head_hash, &stale, entries, &inserted)?;
    let chained = batch.chained();
    let mut insert = tx.prepare_cached(INSERT_RECORD).map_err(store_error)?;
    for c in &chained {
        insert_record(&mut insert, c)?;
    }
    drop(insert);
    insert_items(&tx, &batch.items)?;
    if let Some(last) = chained.last() {
        let seq = db_seq(last.seq)?;
        tx.prepare_cached("UPDATE audit_head SET seq = ?1, hash = ?2 WHERE id = 1")
            .and_then(|mut s| s.execute(params![seq, last.hash]))
            .map_err(store_error)?;
    }
    tx.commit().map_err(store_error)?;
    Ok((batch.outcomes, version))
}

fn insert_record(
    insert: &mut rusqlite::CachedStatement<'_>,
    c: &ChainedRecord,
) -> Result<(), StoreError> {
    let r = &c.record;
    let (basis_kind, basis_id) = basis_columns(r.basis.as_ref());
    insert
        .execute(params![
            db_seq(c.seq)?,
            r.disclosure_id.hyphenated().to_string(),
            format_instant(r.at),
            r.requester.sub,
            r.requester.dept,
            r.requester.role.as_str(),
            r.subject_pseudonym.as_ref().map(|p| p.as_str()),
            r.category,
            r.purpose,
            r.source,
            r.recipient,
            r.decision.as_str(),
            r.outcome.as_str(),
            basis_kind,
            basis_id,
            json_list(&r.reasons),
            json_list(&r.fields_disclosed),
            json_list(&r.fields_redacted),
            r.payload_digest,
            r.policy_version,
            c.prev_hash,
            c.hash,
        ])
        .map_err(store_error)?;
    Ok(())
}

/// The versions of the subjects of the entries decided before the registry was at
/// `registry_version` (none, usually: only a registry write since makes one).
fn subject_versions(
    tx: &rusqlite::Transaction<'_>,
    entries: &[Entry],
    registry_version: u64,
) -> Result<HashMap<String, u64>, StoreError> {
    let mut versions = HashMap::new();
    for subject in subjects_behind(entries, registry_version) {
        let version: Option<i64> = tx
            .prepare_cached("SELECT version FROM registry_versions WHERE subject_pseudonym = ?1")
            .and_then(|mut s| s.query_row([subject], |r| r.get(0)).optional())
            .map_err(store_error)?;
        let version = crate::store::registry_version(version.unwrap_or(0))?;
        versions.insert(subject.to_owned(), version);
    }
    Ok(versions)
}

/// Inserts notices under their idempotency keys; returns the ids of those inserted (not those
/// whose key was taken, also by an earlier notice of the same batch).
fn insert_notices<'a>(
    tx: &rusqlite::Transaction<'_>,
    notices: impl Iterator<Item = &'a NoticeRecord>,
) -> Result<Vec<String>, StoreError> {
    let mut inserted = Vec::new();
    let mut notices = notices.peekable();
    if notices.peek().is_none() {
        return Ok(inserted);
    }
    let mut insert = tx.prepare_cached(INSERT_NOTICE).map_err(store_error)?;
    for n in notices {
        let id: Option<String> = insert
            .query_row(
                params![
                    n.id,
                    n.sender_dept,
                    n.sender_sub,
                    n.idempotency_key,
                    n.body_digest,
                    n.kind,
                    n.subject_pseudonym,
                    n.response.as_ref().map(|r| r.to_string()),
                    instant_text(n.created_at),
                ],
                |row| row.get(0),
            )
            .optional()
            .map_err(store_error)?;
        inserted.extend(id);
    }
    Ok(inserted)
}

/// Inserts inbox items; one whose `(notice_id, recipient)` is delivered already is left out.
///
/// INVARIANT: this connection is the only one that inserts items, a transaction at a time, so each
/// item's `seq` (its rowid, max + 1) is greater than every committed item's: a reader that follows
/// `seq` skips none (migration 0010).
fn insert_items(tx: &rusqlite::Transaction<'_>, items: &[InboxItem]) -> Result<(), StoreError> {
    if items.is_empty() {
        return Ok(());
    }
    let mut insert = tx.prepare_cached(INSERT_ITEM).map_err(store_error)?;
    for item in items {
        insert
            .execute(params![
                item.id,
                item.notice_id,
                item.recipient,
                item.kind,
                item.sealed,
                json_text(&item.redacted),
                item.basis.as_ref().map(json_text),
                item.disclosure_id,
                instant_text(item.received_at),
            ])
            .map_err(store_error)?;
    }
    Ok(())
}

/// The kind of a rusqlite error, as [`StoreError`]'s conversion from sqlx keeps it: SQLite's
/// result code, never a message that might quote SQL.
pub(super) fn store_error(error: rusqlite::Error) -> StoreError {
    match error {
        rusqlite::Error::SqliteFailure(e, _)
            if e.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
                || e.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY =>
        {
            StoreError::Conflict("a row with the same key exists".to_owned())
        }
        rusqlite::Error::SqliteFailure(e, _)
            if e.extended_code == rusqlite::ffi::SQLITE_CANTOPEN =>
        {
            StoreError::NotMigrated("the database file does not exist".to_owned())
        }
        rusqlite::Error::SqliteFailure(e, _) => {
            StoreError::Unavailable(format!("database error {}", e.extended_code))
        }
        _ => StoreError::Unavailable("database error".to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::audit::{INSERT_COLUMNS, named_columns};

    #[test]
    fn the_insert_names_the_columns_the_chain_writes() {
        let listed: Vec<&str> = INSERT_COLUMNS.split(',').map(str::trim).collect();
        assert_eq!(named_columns(INSERT_RECORD), listed);
        let (_, values) = INSERT_RECORD
            .split_once(" VALUES ")
            .expect("an insert with values");
        assert_eq!(values.matches('?').count(), listed.len());
    }

    #[test]
    fn the_appenders_commits_wait_for_the_disk() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sluse.db");
        drop(Connection::open(&path).unwrap());
        let writer = BatchWriter::open(&path).unwrap();
        let conn = writer.conn.lock().unwrap();
        let synchronous: i64 = conn
            .query_row("PRAGMA synchronous", [], |r| r.get(0))
            .unwrap();
        assert_eq!(synchronous, 2, "FULL");
    }

    #[test]
    fn an_in_memory_database_is_refused() {
        assert!(matches!(
            BatchWriter::open(Path::new(":memory:")),
            Err(StoreError::InvalidUrl(_))
        ));
    }
}
