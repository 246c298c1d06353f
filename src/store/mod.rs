//! Storage: connection pools, migrations, and the store traits, one per capability, implemented once
//! per backend. SQL lives only under this module.
//!
//! The backend is chosen by the URL scheme of `database.url`. SQLite (WAL, `synchronous=FULL`) is the
//! embedded default; PostgreSQL is for production and for several replicas on one database.

mod assignments;
mod audit;
mod audit_query;
mod consents;
mod notices;
mod postgres;
mod registry_cache;
mod reviews;
mod sqlite;

use std::collections::BTreeMap;

use secrecy::ExposeSecret;
use sqlx::migrate::Migrator;

pub use postgres::PgStore;
pub use sqlite::SqliteStore;

use crate::config::{Backend, DatabaseConfig};

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("./migrations/postgres");

/// A subject's entries in the registry: what a decision's facts are made of.
#[derive(Debug, Default)]
pub struct SubjectRegistry {
    /// Every assignment, newest first.
    pub assignments: Vec<crate::registry::Assignment>,
    /// Every consent, oldest first.
    pub consents: Vec<crate::consent::Consent>,
    /// The registry's version when these were read (read no later than they were): the cache
    /// keeps them while the registry is at this version (decision 0029).
    pub version: u64,
    /// The subject's version when these were read (read no later than they were): a decision
    /// made on them is durable only while the subject is still at this version.
    pub subject_version: u64,
}

/// Adds one to the registry's version (on the chain's head row) and returns it: the first
/// statement of every write to consents or assignments, on both backends (decision 0029).
const BUMP_REGISTRY_VERSION: &str = "UPDATE audit_head SET registry_version = registry_version + 1 \
     WHERE id = 1 RETURNING registry_version";

/// Adds one to the version of subject `$1` (absent: 0), in the same write, on both backends.
const BUMP_SUBJECT_VERSION: &str = "INSERT INTO registry_versions (subject_pseudonym, version) \
     VALUES ($1, 1) ON CONFLICT (subject_pseudonym) \
     DO UPDATE SET version = registry_versions.version + 1";

/// The database form of the registry's version, checked.
fn registry_version(version: i64) -> Result<u64, StoreError> {
    u64::try_from(version)
        .map_err(|_| StoreError::Corrupt("the registry version is negative".to_owned()))
}

/// Adds one to the registry's version in `tx`, a write to assignments or consents, and returns
/// the new version (decision 0029). On PostgreSQL the `UPDATE` locks the chain's head row, as each
/// audit batch does; on SQLite the caller holds the store's write lock, which orders the write
/// with every batch. Either way the caller adds one to the subject's version too
/// ([`bump_subject_version`]) and passes the registry's version to the store's
/// `registry_written` once committed.
async fn bump_registry_version<DB>(tx: &mut DB::Connection) -> Result<u64, StoreError>
where
    DB: sqlx::Database,
    for<'c> &'c mut DB::Connection: sqlx::Executor<'c, Database = DB>,
    DB::Arguments: sqlx::IntoArguments<DB>,
    i64: for<'r> sqlx::Decode<'r, DB> + sqlx::Type<DB>,
    usize: sqlx::ColumnIndex<DB::Row>,
{
    let version: i64 = sqlx::query_scalar::<DB, i64>(BUMP_REGISTRY_VERSION)
        .fetch_one(&mut *tx)
        .await?;
    registry_version(version)
}

/// Adds one to `subject`'s version in `tx`, a write about the subject made with
/// [`bump_registry_version`].
async fn bump_subject_version<DB>(tx: &mut DB::Connection, subject: &str) -> Result<(), StoreError>
where
    DB: sqlx::Database,
    for<'c> &'c mut DB::Connection: sqlx::Executor<'c, Database = DB>,
    DB::Arguments: sqlx::IntoArguments<DB>,
    for<'a> &'a str: sqlx::Encode<'a, DB> + sqlx::Type<DB>,
{
    sqlx::query::<DB>(BUMP_SUBJECT_VERSION)
        .bind(subject)
        .execute(&mut *tx)
        .await?;
    Ok(())
}

/// A storage failure. Messages name the operation, never the data.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database could not be reached or refused the operation: an outage (fail closed).
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// The database has not been migrated to the schema this binary needs.
    #[error("the database schema is not up to date ({0}); run `sluse migrate --config FILE`")]
    NotMigrated(String),
    /// The database was migrated by a newer binary.
    #[error("the database schema is newer than this binary knows ({0}); upgrade sluse")]
    NewerSchema(String),
    /// A migration failed or an applied one was changed.
    #[error("migration failed: {0}")]
    Migration(String),
    /// The write conflicts with a row that exists (a unique rule of the schema).
    #[error("conflict: {0}")]
    Conflict(String),
    /// A stored value could not be read back (a corrupt or hand-edited row).
    #[error("stored data is not valid: {0}")]
    Corrupt(String),
    /// The database URL is not usable.
    #[error("invalid `database.url`: {0}")]
    InvalidUrl(String),
}

impl From<sqlx::Error> for StoreError {
    fn from(error: sqlx::Error) -> Self {
        // sqlx errors can quote SQL and bound values in some variants; keep only the kind.
        let kind = match &error {
            sqlx::Error::Database(db) if db.is_unique_violation() => {
                return StoreError::Conflict("a row with the same key exists".to_owned());
            }
            sqlx::Error::Database(db) => {
                format!("database error {}", db.code().unwrap_or_default())
            }
            sqlx::Error::PoolTimedOut => "timed out waiting for a connection".to_owned(),
            sqlx::Error::PoolClosed => "pool closed".to_owned(),
            sqlx::Error::Io(e) => format!("i/o error: {}", e.kind()),
            sqlx::Error::Tls(_) => "tls error".to_owned(),
            sqlx::Error::Protocol(_) => "protocol error".to_owned(),
            sqlx::Error::RowNotFound => "row not found".to_owned(),
            sqlx::Error::ColumnDecode { index, .. } => format!("cannot decode column {index}"),
            sqlx::Error::Configuration(_) => "configuration error".to_owned(),
            _ => "database error".to_owned(),
        };
        StoreError::Unavailable(kind)
    }
}

/// The gateway's database, on one of the two backends.
#[derive(Debug, Clone)]
pub enum Store {
    /// Embedded SQLite.
    Sqlite(SqliteStore),
    /// PostgreSQL.
    Postgres(PgStore),
}

/// How to open the database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpenMode {
    /// Open an existing database (serving): a missing SQLite file is an error.
    Existing,
    /// Create the SQLite file if it does not exist (`migrate`, `demo`).
    CreateIfMissing,
}

impl Store {
    /// Connects a pool to the configured database.
    pub async fn connect(config: &DatabaseConfig, mode: OpenMode) -> Result<Store, StoreError> {
        let url = config.url.expose_secret();
        match config.backend() {
            Some(Backend::Sqlite) => Ok(Store::Sqlite(
                SqliteStore::connect(url, config.max_connections, mode).await?,
            )),
            Some(Backend::Postgres) => Ok(Store::Postgres(
                PgStore::connect(url, config.max_connections).await?,
            )),
            None => Err(StoreError::InvalidUrl(
                "must start with `sqlite://` or `postgres://`".to_owned(),
            )),
        }
    }

    /// The backend's housekeeping while serving (SQLite: WAL checkpoints off the commit path, and
    /// the audit lookups written behind the chain);
    /// the tasks run until aborted.
    pub fn spawn_maintenance(&self) -> Vec<tokio::task::JoinHandle<()>> {
        match self {
            Store::Sqlite(s) => vec![
                s.spawn_checkpointer(sqlite::CHECKPOINT_EVERY, sqlite::WAL_RESTART_FRAMES),
                s.spawn_indexer(std::time::Duration::from_millis(100), sqlite::INDEX_BATCH),
            ],
            Store::Postgres(_) => Vec::new(),
        }
    }

    /// A subject's assignments (newest first) and consents (oldest first), read together; on
    /// SQLite from memory while no registry write has happened since they were read.
    pub async fn registry_of(
        &self,
        subject: &crate::cpr::Pseudonym,
    ) -> Result<std::sync::Arc<SubjectRegistry>, StoreError> {
        match self {
            Store::Sqlite(s) => s.registry_of(subject).await,
            Store::Postgres(s) => s.registry_of(subject).await,
        }
    }

    /// Which backend this is.
    pub fn backend(&self) -> Backend {
        match self {
            Store::Sqlite(_) => Backend::Sqlite,
            Store::Postgres(_) => Backend::Postgres,
        }
    }

    fn migrator(&self) -> &'static Migrator {
        match self {
            Store::Sqlite(_) => &SQLITE_MIGRATIONS,
            Store::Postgres(_) => &POSTGRES_MIGRATIONS,
        }
    }

    /// Applies every pending migration.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        let result = match self {
            Store::Sqlite(s) => self.migrator().run(s.pool()).await,
            Store::Postgres(s) => self.migrator().run(s.pool()).await,
        };
        result.map_err(|e| StoreError::Migration(e.to_string()))
    }

    /// Refuses a database that is not exactly at this binary's schema.
    pub async fn check_schema(&self) -> Result<(), StoreError> {
        let applied = match self {
            Store::Sqlite(s) => s.applied_migrations().await?,
            Store::Postgres(s) => s.applied_migrations().await?,
        };
        compare_schema(self.migrator(), &applied)
    }

    /// A cheap round trip, for `/readyz`.
    pub async fn ping(&self) -> Result<(), StoreError> {
        match self {
            Store::Sqlite(s) => s.ping().await,
            Store::Postgres(s) => s.ping().await,
        }
    }

    /// Closes the pool, waiting for connections to be returned.
    pub async fn close(&self) {
        match self {
            Store::Sqlite(s) => s.close().await,
            Store::Postgres(s) => s.close().await,
        }
    }
}

/// An instant as stored: RFC 3339 in UTC with exactly six fractional digits, so that text order is
/// time order (SQLite compares these columns as text).
pub(crate) fn instant_text(t: jiff::Timestamp) -> String {
    t.strftime("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

/// `t` as the store keeps it: truncated to whole microseconds (both backends). A handler that answers
/// with an instant it also stores takes it through this first, so that the answer and every later
/// read of the row agree (a receipt's timestamp must not change between recording and query).
pub(crate) fn stored_instant(t: jiff::Timestamp) -> jiff::Timestamp {
    jiff::Timestamp::from_microsecond(t.as_microsecond()).unwrap_or(t)
}

/// Compares the migrations recorded in the database (version → checksum) with the embedded ones.
fn compare_schema(migrator: &Migrator, applied: &BTreeMap<i64, Vec<u8>>) -> Result<(), StoreError> {
    let known: BTreeMap<i64, &[u8]> = migrator
        .iter()
        .map(|m| (m.version, m.checksum.as_ref()))
        .collect();
    if let Some(newer) = applied.keys().find(|v| !known.contains_key(v)) {
        return Err(StoreError::NewerSchema(format!(
            "unknown migration {newer}"
        )));
    }
    if let Some((version, _)) = known.iter().find(|(v, _)| !applied.contains_key(v)) {
        return Err(StoreError::NotMigrated(format!(
            "migration {version} is not applied"
        )));
    }
    if let Some((version, _)) = known
        .iter()
        .find(|(v, checksum)| applied.get(v).is_some_and(|c| c.as_slice() != **checksum))
    {
        return Err(StoreError::Migration(format!(
            "applied migration {version} differs from this binary's"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stored_instant_reads_back_as_itself() {
        for text in [
            "2026-06-15T10:00:00.123456789Z",
            "2026-06-15T10:00:00.999999999Z",
            "2026-06-15T10:00:00Z",
            "1999-12-31T23:59:59.000000500Z",
        ] {
            let t: jiff::Timestamp = text.parse().unwrap_or_default();
            let stored = stored_instant(t);
            assert!(stored <= t && t.as_microsecond() == stored.as_microsecond());
            assert_eq!(
                instant_text(t).parse::<jiff::Timestamp>().ok(),
                Some(stored)
            );
            assert_eq!(instant_text(stored), instant_text(t));
        }
    }
}
