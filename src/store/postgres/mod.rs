//! The PostgreSQL backend, for production and for several gateway replicas on one database.

use std::{collections::BTreeMap, str::FromStr, time::Duration};

use sqlx::{
    Row,
    postgres::{PgConnectOptions, PgPool, PgPoolOptions},
};

mod assignments;
mod audit;
pub(super) use audit::select_columns;
mod audit_query;
mod batch_writer;
mod consents;
mod notices;

use super::{StoreError, SubjectRegistry};

/// How long a pooled connection may sit idle before it is tested again when it is handed out.
const IDLE_BEFORE_PING: Duration = Duration::from_secs(1);

/// The options of the gateway's pools: at most `max_connections`, and a connection handed out
/// untested unless it sat idle.
///
/// sqlx pings every connection it hands out by default: a round trip before each statement's
/// own. Under load a connection was in use a moment ago; one that sat idle, as through a restart
/// of the database, is still tested, and a dead one replaced (decision 0027).
pub(super) fn pool_options(max_connections: u32) -> PgPoolOptions {
    PgPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(Duration::from_secs(5))
        .test_before_acquire(false)
        .before_acquire(|conn, meta| {
            Box::pin(async move {
                if meta.idle_for >= IDLE_BEFORE_PING {
                    sqlx::Connection::ping(conn).await?;
                }
                Ok(true)
            })
        })
}

/// A pool of PostgreSQL connections, and the audit appender's connection on a thread of its own.
#[derive(Debug, Clone)]
pub struct PgStore {
    pool: PgPool,
    writer: batch_writer::PgBatchWriter,
    registry: std::sync::Arc<crate::store::registry_cache::RegistryCache>,
}

impl PgStore {
    /// Connects to the database named by `url`.
    pub async fn connect(url: &str, max_connections: u32) -> Result<Self, StoreError> {
        let options = PgConnectOptions::from_str(url)
            .map_err(|_| StoreError::InvalidUrl("not a valid postgres:// URL".to_owned()))?
            .application_name("sluse");
        let pool = pool_options(max_connections)
            .connect_with(options.clone())
            .await?;
        let writer = batch_writer::PgBatchWriter::start(options)?;
        Ok(PgStore {
            pool,
            writer,
            registry: std::sync::Arc::default(),
        })
    }

    /// Closes the pool and the appender's connection, waiting for connections to be returned.
    pub async fn close(&self) {
        self.writer.close().await;
        self.pool.close().await;
    }

    /// A subject's assignments and consents (the facts of a decision) and the registry's and the
    /// subject's versions: from the registry cache, or read in one statement, each table's rows aggregated to JSON
    /// in the orders of `assignments_of` and `consents_of`. Another replica may have written since
    /// a cached read; the audit batch then finds the decision stale (decision 0029).
    pub(super) async fn registry_of(
        &self,
        subject: &crate::cpr::Pseudonym,
    ) -> Result<std::sync::Arc<SubjectRegistry>, StoreError> {
        if let Some(cached) = self.registry.get(subject.as_str()) {
            return Ok(cached);
        }
        // One statement, so one snapshot: the version is the one these rows are at.
        let (version, subject_version, assignments, consents): (i64, i64, String, String) =
            sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "SELECT \
                 (SELECT registry_version FROM audit_head WHERE id = 1), \
                 coalesce((SELECT version FROM registry_versions WHERE subject_pseudonym = $1), 0), \
                 (SELECT coalesce(json_agg(a ORDER BY a.created_at DESC, a.id), '[]')::text \
                  FROM (SELECT {} FROM assignments WHERE subject_pseudonym = $1) AS a), \
                 (SELECT coalesce(json_agg(c ORDER BY c.recorded_at, c.id), '[]')::text \
                  FROM (SELECT {} FROM consents WHERE subject_pseudonym = $1) AS c)",
                assignments::COLUMNS,
                consents::COLUMNS
            )))
            .bind(subject.as_str())
            .fetch_one(&self.pool)
            .await?;
        let corrupt = |what: &str| StoreError::Corrupt(format!("a subject's {what}"));
        let assignments: Vec<crate::store::assignments::AssignmentRow> =
            serde_json::from_str(&assignments).map_err(|_| corrupt("assignments"))?;
        let consents: Vec<crate::store::consents::ConsentRow> =
            serde_json::from_str(&consents).map_err(|_| corrupt("consents"))?;
        let registry = std::sync::Arc::new(SubjectRegistry {
            assignments: assignments
                .into_iter()
                .map(TryFrom::try_from)
                .collect::<Result<_, _>>()?,
            consents: consents
                .into_iter()
                .map(TryFrom::try_from)
                .collect::<Result<_, _>>()?,
            version: crate::store::registry_version(version)?,
            subject_version: crate::store::registry_version(subject_version)?,
        });
        self.registry.put(subject.as_str(), registry.clone());
        Ok(registry)
    }

    /// Retires the cached facts read before a registry write committed at `version` (an audit
    /// batch reports the versions of other replicas' writes).
    pub(super) fn registry_written(&self, version: u64) {
        self.registry.advance(version);
    }

    /// The pool, for the store implementations.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    pub(super) async fn applied_migrations(&self) -> Result<BTreeMap<i64, Vec<u8>>, StoreError> {
        let exists: bool = sqlx::query_scalar("SELECT to_regclass('_sqlx_migrations') IS NOT NULL")
            .fetch_one(&self.pool)
            .await?;
        if !exists {
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

/// An empty column of `n` values, bound as one array by the appender's `UNNEST` inserts.
fn column<T>(n: usize) -> Vec<T> {
    Vec::with_capacity(n)
}
