//! The audit chain on PostgreSQL: each batch in one transaction that first locks the head row
//! (`SELECT … FOR UPDATE`), so several gateway processes on one database append to one chain.

use std::collections::HashMap;

use super::{
    PgStore, column,
    notices::{ItemColumns, lock_head_and_insert_notices},
};
use crate::{
    audit::{
        AuditStore, ChainHead, ChainedRecord, Checkpoint, StoredRecord,
        canonical::format_instant,
        entry::{Appended, Entry},
    },
    notices::InboxItem,
    store::{
        StoreError,
        audit::{
            AuditRow, Batch, BatchOutcome, CheckpointRow, basis_columns, db_seq, json_list,
            stale_entries, subjects_behind,
        },
        registry_version,
    },
};

const UTC_TEXT: &str = "'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'";

pub(in crate::store) fn select_columns() -> String {
    format!(
        "seq, disclosure_id::text AS disclosure_id, \
         to_char(at AT TIME ZONE 'UTC', {UTC_TEXT}) AS at, requester_sub, requester_dept, \
         requester_role, subject_pseudonym, category, purpose, source, recipient, decision, \
         outcome, basis_kind, basis_id, reasons::text AS reasons, \
         fields_disclosed::text AS fields_disclosed, fields_redacted::text AS fields_redacted, \
         payload_digest, policy_version, prev_hash, hash"
    )
}

/// A query whose arguments are still being bound.
type PgQuery<'q> = sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments>;

/// The chained records of a batch as one array per column, in the order of `INSERT_BATCH`:
/// `UNNEST` turns them back into rows, so the statement has one shape, prepared once per
/// connection, however many records a batch has (decision 0025).
struct RecordColumns<'a> {
    seq: Vec<i64>,
    disclosure_id: Vec<String>,
    at: Vec<String>,
    sub: Vec<&'a str>,
    dept: Vec<&'a str>,
    role: Vec<&'a str>,
    subject: Vec<Option<&'a str>>,
    category: Vec<&'a str>,
    purpose: Vec<&'a str>,
    source: Vec<Option<&'a str>>,
    recipient: Vec<Option<&'a str>>,
    decision: Vec<&'a str>,
    outcome: Vec<&'a str>,
    basis_kind: Vec<Option<&'a str>>,
    basis_id: Vec<Option<String>>,
    reasons: Vec<String>,
    disclosed: Vec<String>,
    redacted: Vec<String>,
    digest: Vec<Option<&'a str>>,
    policy: Vec<&'a str>,
    prev_hash: Vec<&'a str>,
    hash: Vec<&'a str>,
}

impl<'a> RecordColumns<'a> {
    fn of(chained: &[&'a ChainedRecord]) -> Result<Self, StoreError> {
        let n = chained.len();
        let mut c = RecordColumns {
            seq: column(n),
            disclosure_id: column(n),
            at: column(n),
            sub: column(n),
            dept: column(n),
            role: column(n),
            subject: column(n),
            category: column(n),
            purpose: column(n),
            source: column(n),
            recipient: column(n),
            decision: column(n),
            outcome: column(n),
            basis_kind: column(n),
            basis_id: column(n),
            reasons: column(n),
            disclosed: column(n),
            redacted: column(n),
            digest: column(n),
            policy: column(n),
            prev_hash: column(n),
            hash: column(n),
        };
        for chained in chained {
            let r = &chained.record;
            let (kind, id) = basis_columns(r.basis.as_ref());
            c.seq.push(db_seq(chained.seq)?);
            c.disclosure_id.push(r.disclosure_id.to_string());
            c.at.push(format_instant(r.at));
            c.sub.push(r.requester.sub.as_str());
            c.dept.push(r.requester.dept.as_str());
            c.role.push(r.requester.role.as_str());
            c.subject
                .push(r.subject_pseudonym.as_ref().map(|p| p.as_str()));
            c.category.push(r.category.as_str());
            c.purpose.push(r.purpose.as_str());
            c.source.push(r.source.as_deref());
            c.recipient.push(r.recipient.as_deref());
            c.decision.push(r.decision.as_str());
            c.outcome.push(r.outcome.as_str());
            c.basis_kind.push(kind);
            c.basis_id.push(id);
            c.reasons.push(json_list(&r.reasons));
            c.disclosed.push(json_list(&r.fields_disclosed));
            c.redacted.push(json_list(&r.fields_redacted));
            c.digest.push(r.payload_digest.as_deref());
            c.policy.push(r.policy_version.as_str());
            c.prev_hash.push(chained.prev_hash.as_str());
            c.hash.push(chained.hash.as_str());
        }
        Ok(c)
    }

    /// Binds the columns as `$1` to `$22`.
    fn bind(self, query: PgQuery<'a>) -> PgQuery<'a> {
        query
            .bind(self.seq)
            .bind(self.disclosure_id)
            .bind(self.at)
            .bind(self.sub)
            .bind(self.dept)
            .bind(self.role)
            .bind(self.subject)
            .bind(self.category)
            .bind(self.purpose)
            .bind(self.source)
            .bind(self.recipient)
            .bind(self.decision)
            .bind(self.outcome)
            .bind(self.basis_kind)
            .bind(self.basis_id)
            .bind(self.reasons)
            .bind(self.disclosed)
            .bind(self.redacted)
            .bind(self.digest)
            .bind(self.policy)
            .bind(self.prev_hash)
            .bind(self.hash)
    }
}

/// Writes what a batch adds once its notices are in: its chained records, its inbox items and
/// the head's new position, in one statement. One round trip instead of three while the
/// chain's head is locked, which every replica's batches wait for (decision 0030).
async fn insert_chained(
    conn: &mut sqlx::PgConnection,
    chained: &[&ChainedRecord],
    items: &[InboxItem],
) -> Result<(), StoreError> {
    if chained.is_empty() && items.is_empty() {
        return Ok(());
    }
    // No records (every entry skipped): the head stays where it is.
    let head = chained.last().map(|last| db_seq(last.seq)).transpose()?;
    let query = RecordColumns::of(chained)?.bind(sqlx::query(INSERT_BATCH));
    ItemColumns::of(items)
        .bind(query)
        .bind(head)
        .bind(chained.last().map(|last| last.hash.as_str()))
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// `AuditStore::append_entries` on `pool`: the batch in one transaction that holds the chain's
/// head row locked. Runs on the appender's own thread ([`super::batch_writer`]).
pub(super) async fn append_entries(
    pool: &sqlx::PgPool,
    entries: Vec<Entry>,
) -> Result<BatchOutcome, StoreError> {
    if entries.iter().all(Entry::is_empty) {
        let outcomes = entries
            .into_iter()
            .map(|_| Appended::Chained(Vec::new()))
            .collect();
        return Ok((outcomes, 0));
    }
    let mut tx = pool.begin().await?;
    // INVARIANT: the head row stays locked until commit or rollback, so no other process can
    // chain after the same head, nor write to the registry (which updates the row's version):
    // the version read here holds until the commit.
    let notices = entries
        .iter()
        .filter_map(|e| Some((e.notice.as_ref()?, e.facts.as_ref().map(|f| f.registry))));
    let head = lock_head_and_insert_notices(&mut tx, notices).await?;
    let version = registry_version(head.registry_version)?;
    let mut inserted = head.inserted;
    let behind = subjects_behind(&entries, version);
    let stale = if behind.is_empty() {
        vec![false; entries.len()]
    } else {
        // A registry write committed since some entry was decided: its subject's version, read
        // now that the head is locked (so in a snapshot no later write can change), decides. The
        // notices of those still current go in after the others.
        let stale = stale_entries(
            &entries,
            version,
            &subject_versions(&mut tx, &behind).await?,
        );
        let late: Vec<_> = entries
            .iter()
            .zip(&stale)
            .filter(|(e, stale)| !**stale && !e.is_current_at(version))
            .filter_map(|(e, _)| Some((e.notice.as_ref()?, None)))
            .collect();
        if !late.is_empty() {
            let late = lock_head_and_insert_notices(&mut tx, late.into_iter()).await?;
            inserted.extend(late.inserted);
        }
        stale
    };
    let batch = Batch::plan(head.seq, &head.hash, &stale, entries, &inserted)?;
    insert_chained(&mut tx, &batch.chained(), &batch.items).await?;
    tx.commit().await?;
    Ok((batch.outcomes, version))
}

/// The versions of `subjects`, as committed (a subject never written is at 0).
async fn subject_versions(
    conn: &mut sqlx::PgConnection,
    subjects: &[&str],
) -> Result<HashMap<String, u64>, StoreError> {
    let rows: Vec<(String, i64)> = sqlx::query_as(
        "SELECT subject_pseudonym, version FROM registry_versions \
         WHERE subject_pseudonym = ANY($1)",
    )
    .bind(subjects)
    .fetch_all(&mut *conn)
    .await?;
    rows.into_iter()
        .map(|(subject, version)| Ok((subject, registry_version(version)?)))
        .collect()
}

/// [`insert_chained`]'s statement. The records: one array per column of `INSERT_COLUMNS`, in its
/// order (`$1`–`$22`); the inbox items (`$23`–`$31`); the head's new seq and hash (`$32`, `$33`;
/// null when the batch chained nothing).
/// The sub-statements see one snapshot and touch different tables; each item's `seq` is still
/// drawn after the head was locked (migration 0010).
const INSERT_BATCH: &str = "WITH records AS (INSERT INTO audit_log (seq, disclosure_id, at, \
     requester_sub, requester_dept, requester_role, subject_pseudonym, category, purpose, source, \
     recipient, decision, outcome, basis_kind, basis_id, reasons, fields_disclosed, \
     fields_redacted, payload_digest, policy_version, prev_hash, hash) \
     SELECT * FROM UNNEST($1::bigint[], $2::uuid[], $3::timestamptz[], $4::text[], $5::text[], \
     $6::text[], $7::text[], $8::text[], $9::text[], $10::text[], $11::text[], $12::text[], \
     $13::text[], $14::text[], $15::text[], $16::jsonb[], $17::jsonb[], $18::jsonb[], $19::text[], \
     $20::text[], $21::text[], $22::text[])), \
     items AS (INSERT INTO inbox_items (id, notice_id, recipient_dept, kind, sealed, redacted, \
     basis, disclosure_id, received_at) \
     SELECT * FROM UNNEST($23::uuid[], $24::uuid[], $25::text[], $26::text[], $27::bytea[], \
     $28::jsonb[], $29::jsonb[], $30::text[], $31::timestamptz[]) \
     ON CONFLICT (notice_id, recipient_dept) DO NOTHING) \
     UPDATE audit_head SET seq = $32, hash = $33 WHERE id = 1 AND $32::bigint IS NOT NULL";

impl AuditStore for PgStore {
    async fn append_entries(&self, entries: Vec<Entry>) -> Result<Vec<Appended>, StoreError> {
        let (outcomes, version) = self.writer.append(entries).await?;
        self.registry_written(version);
        Ok(outcomes)
    }

    async fn audit_page(&self, after: u64, limit: u32) -> Result<Vec<StoredRecord>, StoreError> {
        let rows: Vec<AuditRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {} FROM audit_log WHERE seq > $1 ORDER BY seq LIMIT $2",
            select_columns()
        )))
        .bind(db_seq(after)?)
        .bind(i64::from(limit))
        .fetch_all(self.pool())
        .await?;
        rows.into_iter().map(AuditRow::into_stored).collect()
    }

    async fn audit_head(&self) -> Result<ChainHead, StoreError> {
        let (seq, hash): (i64, String) =
            sqlx::query_as("SELECT seq, hash FROM audit_head WHERE id = 1")
                .fetch_one(self.pool())
                .await?;
        Ok(ChainHead {
            seq: u64::try_from(seq)
                .map_err(|_| StoreError::Corrupt("the audit head's seq is negative".to_owned()))?,
            hash,
        })
    }

    async fn insert_checkpoint(&self, c: &Checkpoint) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO audit_checkpoints (seq, head_hash, at, key_id, signature) \
             VALUES ($1, $2, $3::timestamptz, $4, $5) ON CONFLICT (seq, key_id) DO NOTHING",
        )
        .bind(db_seq(c.seq)?)
        .bind(&c.head_hash)
        .bind(format_instant(c.at))
        .bind(&c.key_id)
        .bind(&c.signature)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    async fn checkpoint_page(
        &self,
        after: Option<(u64, String)>,
        limit: u32,
    ) -> Result<Vec<Checkpoint>, StoreError> {
        let (seq, key_id) = match after {
            Some((seq, key_id)) => (db_seq(seq)?, key_id),
            None => (0, String::new()),
        };
        let rows: Vec<CheckpointRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT seq, head_hash, to_char(at AT TIME ZONE 'UTC', {UTC_TEXT}) AS at, key_id, \
             signature FROM audit_checkpoints \
             WHERE (seq, key_id) > ($1, $2) ORDER BY seq, key_id LIMIT $3"
        )))
        .bind(seq)
        .bind(key_id)
        .bind(i64::from(limit))
        .fetch_all(self.pool())
        .await?;
        rows.into_iter().map(Checkpoint::try_from).collect()
    }

    async fn latest_checkpoint_seq(&self) -> Result<Option<u64>, StoreError> {
        let seq: Option<i64> = sqlx::query_scalar("SELECT max(seq) FROM audit_checkpoints")
            .fetch_one(self.pool())
            .await?;
        Ok(seq.and_then(|s| u64::try_from(s).ok()))
    }
}

#[cfg(test)]
mod tests {
    use super::INSERT_BATCH;
    use crate::store::audit::{INSERT_COLUMNS, named_columns};

    #[test]
    fn the_insert_names_the_columns_the_chain_writes_and_unnests_one_array_each() {
        let listed: Vec<&str> = INSERT_COLUMNS.split(',').map(str::trim).collect();
        let (records, _) = INSERT_BATCH
            .split_once("), items AS (")
            .expect("the records' insert first");
        let records = records
            .strip_prefix("WITH records AS (")
            .expect("a records CTE");
        assert_eq!(named_columns(records), listed);
        let (_, arrays) = records
            .split_once(" SELECT * FROM UNNEST(")
            .expect("an insert from arrays");
        let arrays: Vec<&str> = arrays
            .trim_end_matches(')')
            .split(',')
            .map(str::trim)
            .collect();
        let numbered: Vec<String> = (1..=listed.len()).map(|i| format!("${i}::")).collect();
        assert_eq!(arrays.len(), listed.len());
        for (array, number) in arrays.iter().zip(&numbered) {
            assert!(
                array.starts_with(number.as_str()) && array.ends_with("[]"),
                "{array}"
            );
        }
    }
}
