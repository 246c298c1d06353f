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
mod consents;
mod notices;

use super::{StoreError, SubjectRegistry};

/// A pool of PostgreSQL connections.
#[derive(Debug, Clone)]
pub struct PgStore {
    pool: PgPool,
}

impl PgStore {
    /// Connects to the database named by `url`.
    pub async fn connect(url: &str, max_connections: u32) -> Result<Self, StoreError> {
        let options = PgConnectOptions::from_str(url)
            .map_err(|_| StoreError::InvalidUrl("not a valid postgres:// URL".to_owned()))?
            .application_name("sluse");
        let pool = PgPoolOptions::new()
            .max_connections(max_connections)
            .acquire_timeout(Duration::from_secs(5))
            .connect_with(options)
            .await?;
        Ok(PgStore { pool })
    }

    /// A subject's assignments and consents (the facts of a decision), read on one connection:
    /// the pool charges a round trip on every acquire and release, so two reads on one
    /// connection cost half of one each. Never cached: another replica may have written.
    pub(super) async fn registry_of(
        &self,
        subject: &crate::cpr::Pseudonym,
    ) -> Result<std::sync::Arc<SubjectRegistry>, StoreError> {
        let mut conn = self.pool.acquire().await?;
        Ok(std::sync::Arc::new(SubjectRegistry {
            assignments: assignments::assignments_of(&mut *conn, subject).await?,
            consents: consents::consents_of(&mut *conn, subject).await?,
        }))
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
