//! The DPO's review queue of statutory disclosures and the witnesses' co-signatures of checkpoints
//! (migration `0005_reviews.sql`), on both backends.

use jiff::Timestamp;
use sqlx::{FromRow, Row};

use super::{Store, StoreError, assignments::parse_instant, audit::AuditRow, audit::db_seq};
use crate::audit::{
    canonical::format_instant,
    review::{ReviewItem, ReviewMark, ReviewStatus},
    witness::WitnessSignature,
};

/// The condition that makes a record a statutory disclosure (the partial index's condition).
const STATUTORY: &str = "basis_kind = 'legal' AND outcome IN ('disclosed', 'delivered')";

const UTC_TEXT: &str = "'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'";

fn seq_of(value: i64, what: &str) -> Result<u64, StoreError> {
    u64::try_from(value).map_err(|_| StoreError::Corrupt(format!("{what} is negative")))
}

fn instant(text: &str) -> Result<Timestamp, StoreError> {
    parse_instant(text).ok_or_else(|| StoreError::Corrupt("an instant cannot be read".to_owned()))
}

fn status_condition(status: ReviewStatus) -> &'static str {
    match status {
        ReviewStatus::Pending => " AND record_seq IS NULL",
        ReviewStatus::Reviewed => " AND record_seq IS NOT NULL",
        ReviewStatus::All => "",
    }
}

/// The review columns of a queue row (`NULL`s when not reviewed).
#[derive(Debug, FromRow)]
struct ReviewColumns {
    record_seq: Option<i64>,
    record_disclosure_id: Option<String>,
    reviewed_by: Option<String>,
    reviewed_dept: Option<String>,
    reviewed_at: Option<String>,
    review_seq: Option<i64>,
}

impl ReviewColumns {
    fn into_mark(self) -> Result<Option<ReviewMark>, StoreError> {
        let (
            Some(record_seq),
            Some(disclosure_id),
            Some(reviewed_by),
            Some(reviewed_dept),
            Some(at),
            Some(review_seq),
        ) = (
            self.record_seq,
            self.record_disclosure_id,
            self.reviewed_by,
            self.reviewed_dept,
            self.reviewed_at,
            self.review_seq,
        )
        else {
            return Ok(None);
        };
        Ok(Some(ReviewMark {
            record_seq: seq_of(record_seq, "a review's record_seq")?,
            record_disclosure_id: disclosure_id,
            reviewed_by,
            reviewed_dept,
            reviewed_at: instant(&at)?,
            review_seq: seq_of(review_seq, "a review's review_seq")?,
        }))
    }
}

fn queue_item<R: Row>(row: &R) -> Result<ReviewItem, StoreError>
where
    for<'r> AuditRow: FromRow<'r, R>,
    for<'r> ReviewColumns: FromRow<'r, R>,
{
    let record = AuditRow::from_row(row)?
        .into_stored()?
        .into_chained()
        .map_err(StoreError::Corrupt)?;
    let review = ReviewColumns::from_row(row)?.into_mark()?;
    Ok(ReviewItem { record, review })
}

#[derive(Debug, FromRow)]
struct WitnessRow {
    seq: i64,
    key_id: String,
    witness_key_id: String,
    public_key: String,
    signature: String,
    received_at: String,
}

impl WitnessRow {
    fn into_signature(self) -> Result<WitnessSignature, StoreError> {
        Ok(WitnessSignature {
            seq: seq_of(self.seq, "a witness signature's seq")?,
            key_id: self.key_id,
            witness_key_id: self.witness_key_id,
            public_key: self.public_key,
            signature: self.signature,
            received_at: instant(&self.received_at)?,
        })
    }
}

impl Store {
    /// Statutory disclosures with `seq > after`, oldest first, with their review marks.
    pub async fn review_queue(
        &self,
        status: ReviewStatus,
        after: u64,
        limit: u32,
    ) -> Result<Vec<ReviewItem>, StoreError> {
        let condition = status_condition(status);
        match self {
            Store::Sqlite(s) => {
                let sql = format!(
                    "SELECT {}, record_seq, record_disclosure_id, reviewed_by, reviewed_dept, \
                     reviewed_at, review_seq \
                     FROM audit_log LEFT JOIN audit_reviews ON record_seq = seq \
                     WHERE {STATUTORY} AND seq > $1{condition} ORDER BY seq LIMIT $2",
                    super::sqlite::SELECT_COLUMNS
                );
                let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
                    .bind(db_seq(after)?)
                    .bind(i64::from(limit))
                    .fetch_all(s.pool())
                    .await?;
                rows.iter().map(queue_item).collect()
            }
            Store::Postgres(p) => {
                let sql = format!(
                    "SELECT {}, record_seq, record_disclosure_id::text AS record_disclosure_id, \
                     reviewed_by, reviewed_dept, \
                     to_char(reviewed_at AT TIME ZONE 'UTC', {UTC_TEXT}) AS reviewed_at, \
                     review_seq \
                     FROM audit_log LEFT JOIN audit_reviews ON record_seq = seq \
                     WHERE {STATUTORY} AND seq > $1{condition} ORDER BY seq LIMIT $2",
                    super::postgres::select_columns()
                );
                let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
                    .bind(db_seq(after)?)
                    .bind(i64::from(limit))
                    .fetch_all(p.pool())
                    .await?;
                rows.iter().map(queue_item).collect()
            }
        }
    }

    /// `(pending, overdue)`: statutory disclosures not reviewed, and those of them made before
    /// `overdue_before`.
    pub async fn review_counts(&self, overdue_before: Timestamp) -> Result<(u64, u64), StoreError> {
        let (pending, overdue): (i64, i64) = match self {
            Store::Sqlite(s) => {
                sqlx::query_as(sqlx::AssertSqlSafe(format!(
                    "SELECT count(*), coalesce(sum(CASE WHEN at < $1 THEN 1 ELSE 0 END), 0) \
                     FROM audit_log LEFT JOIN audit_reviews ON record_seq = seq \
                     WHERE {STATUTORY} AND record_seq IS NULL"
                )))
                .bind(format_instant(overdue_before))
                .fetch_one(s.pool())
                .await?
            }
            Store::Postgres(p) => {
                sqlx::query_as(sqlx::AssertSqlSafe(format!(
                    "SELECT count(*), \
                     coalesce(sum(CASE WHEN at < $1::timestamptz THEN 1 ELSE 0 END), 0)::bigint \
                     FROM audit_log LEFT JOIN audit_reviews ON record_seq = seq \
                     WHERE {STATUTORY} AND record_seq IS NULL"
                )))
                .bind(format_instant(overdue_before))
                .fetch_one(p.pool())
                .await?
            }
        };
        Ok((seq_of(pending, "a count")?, seq_of(overdue, "a count")?))
    }

    /// Stores a review mark; `false` if the record was already marked (the first mark is kept).
    pub async fn insert_review(&self, mark: &ReviewMark) -> Result<bool, StoreError> {
        let (uuid_cast, instant_cast) = match self {
            Store::Sqlite(_) => ("", ""),
            Store::Postgres(_) => ("::uuid", "::timestamptz"),
        };
        let sql = format!(
            "INSERT INTO audit_reviews (record_seq, record_disclosure_id, reviewed_by, \
             reviewed_dept, reviewed_at, review_seq) \
             VALUES ($1, $2{uuid_cast}, $3, $4, $5{instant_cast}, $6) \
             ON CONFLICT (record_seq) DO NOTHING"
        );
        let record_seq = db_seq(mark.record_seq)?;
        let review_seq = db_seq(mark.review_seq)?;
        let at = format_instant(mark.reviewed_at);
        let done = match self {
            Store::Sqlite(s) => sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(record_seq)
                .bind(&mark.record_disclosure_id)
                .bind(&mark.reviewed_by)
                .bind(&mark.reviewed_dept)
                .bind(at)
                .bind(review_seq)
                .execute(s.pool())
                .await?
                .rows_affected(),
            Store::Postgres(p) => sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(record_seq)
                .bind(&mark.record_disclosure_id)
                .bind(&mark.reviewed_by)
                .bind(&mark.reviewed_dept)
                .bind(at)
                .bind(review_seq)
                .execute(p.pool())
                .await?
                .rows_affected(),
        };
        Ok(done == 1)
    }

    /// Stores a witness co-signature; one already stored for the same `(seq, key_id,
    /// witness_key_id)` is kept. `false` if it was there already.
    pub async fn insert_witness(&self, w: &WitnessSignature) -> Result<bool, StoreError> {
        let instant_cast = match self {
            Store::Sqlite(_) => "",
            Store::Postgres(_) => "::timestamptz",
        };
        let sql = format!(
            "INSERT INTO audit_witness_signatures (seq, key_id, witness_key_id, public_key, \
             signature, received_at) VALUES ($1, $2, $3, $4, $5, $6{instant_cast}) \
             ON CONFLICT (seq, key_id, witness_key_id) DO NOTHING"
        );
        let seq = db_seq(w.seq)?;
        let at = format_instant(w.received_at);
        let done = match self {
            Store::Sqlite(s) => sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(seq)
                .bind(&w.key_id)
                .bind(&w.witness_key_id)
                .bind(&w.public_key)
                .bind(&w.signature)
                .bind(at)
                .execute(s.pool())
                .await?
                .rows_affected(),
            Store::Postgres(p) => sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(seq)
                .bind(&w.key_id)
                .bind(&w.witness_key_id)
                .bind(&w.public_key)
                .bind(&w.signature)
                .bind(at)
                .execute(p.pool())
                .await?
                .rows_affected(),
        };
        Ok(done == 1)
    }

    /// Every witness co-signature, by `(seq, key_id, witness_key_id)`.
    pub async fn witness_signatures(&self) -> Result<Vec<WitnessSignature>, StoreError> {
        let rows: Vec<WitnessRow> = match self {
            Store::Sqlite(s) => {
                sqlx::query_as(
                    "SELECT seq, key_id, witness_key_id, public_key, signature, received_at \
                     FROM audit_witness_signatures ORDER BY seq, key_id, witness_key_id",
                )
                .fetch_all(s.pool())
                .await?
            }
            Store::Postgres(p) => {
                sqlx::query_as(sqlx::AssertSqlSafe(format!(
                    "SELECT seq, key_id, witness_key_id, public_key, signature, \
                     to_char(received_at AT TIME ZONE 'UTC', {UTC_TEXT}) AS received_at \
                     FROM audit_witness_signatures ORDER BY seq, key_id, witness_key_id"
                )))
                .fetch_all(p.pool())
                .await?
            }
        };
        rows.into_iter().map(WitnessRow::into_signature).collect()
    }
}
