//! The audit chain on PostgreSQL: each batch in one transaction that first locks the head row
//! (`SELECT … FOR UPDATE`), so several gateway processes on one database append to one chain.

use super::{
    PgStore, column,
    notices::{insert_items, insert_notices},
};
use crate::{
    audit::{
        AuditStore, ChainHead, ChainedRecord, Checkpoint, StoredRecord,
        canonical::format_instant,
        entry::{Appended, Entry},
    },
    store::{
        StoreError,
        audit::{
            AuditRow, Batch, BatchOutcome, CheckpointRow, basis_columns, db_seq, fresh_notices,
            json_list,
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

/// Inserts chained records in one statement, however many: each column travels as one array and
/// `UNNEST` turns them back into rows, so the statement has one shape, prepared once per
/// connection, and a batch costs one round trip per table (decision 0025).
async fn insert_records(
    conn: &mut sqlx::PgConnection,
    chained: &[&ChainedRecord],
) -> Result<(), StoreError> {
    if chained.is_empty() {
        return Ok(());
    }
    let n = chained.len();
    let mut seq = column(n);
    let (mut disclosure_id, mut at) = (column(n), column(n));
    let (mut sub, mut dept, mut role) = (column(n), column(n), column(n));
    let (mut subject, mut category, mut purpose) = (column(n), column(n), column(n));
    let (mut source, mut recipient) = (column(n), column(n));
    let (mut decision, mut outcome) = (column(n), column(n));
    let (mut basis_kind, mut basis_id) = (column(n), column(n));
    let (mut reasons, mut disclosed, mut redacted) = (column(n), column(n), column(n));
    let (mut digest, mut policy) = (column(n), column(n));
    let (mut prev_hash, mut hash) = (column(n), column(n));
    for c in chained {
        let r = &c.record;
        let (kind, id) = basis_columns(r.basis.as_ref());
        seq.push(db_seq(c.seq)?);
        disclosure_id.push(r.disclosure_id.to_string());
        at.push(format_instant(r.at));
        sub.push(r.requester.sub.as_str());
        dept.push(r.requester.dept.as_str());
        role.push(r.requester.role.as_str());
        subject.push(r.subject_pseudonym.as_ref().map(|p| p.as_str()));
        category.push(r.category.as_str());
        purpose.push(r.purpose.as_str());
        source.push(r.source.as_deref());
        recipient.push(r.recipient.as_deref());
        decision.push(r.decision.as_str());
        outcome.push(r.outcome.as_str());
        basis_kind.push(kind);
        basis_id.push(id);
        reasons.push(json_list(&r.reasons));
        disclosed.push(json_list(&r.fields_disclosed));
        redacted.push(json_list(&r.fields_redacted));
        digest.push(r.payload_digest.as_deref());
        policy.push(r.policy_version.as_str());
        prev_hash.push(c.prev_hash.as_str());
        hash.push(c.hash.as_str());
    }
    sqlx::query(INSERT_RECORDS)
        .bind(seq)
        .bind(disclosure_id)
        .bind(at)
        .bind(sub)
        .bind(dept)
        .bind(role)
        .bind(subject)
        .bind(category)
        .bind(purpose)
        .bind(source)
        .bind(recipient)
        .bind(decision)
        .bind(outcome)
        .bind(basis_kind)
        .bind(basis_id)
        .bind(reasons)
        .bind(disclosed)
        .bind(redacted)
        .bind(digest)
        .bind(policy)
        .bind(prev_hash)
        .bind(hash)
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
    // the version read here holds until the commit. The row is locked before the notices are
    // inserted: a process waiting on another's uncommitted idempotency key then holds no lock
    // that one needs.
    let (head_seq, head_hash, version): (i64, String, i64) = sqlx::query_as(
        "SELECT seq, hash, registry_version FROM audit_head WHERE id = 1 FOR UPDATE",
    )
    .fetch_one(&mut *tx)
    .await?;
    let version = registry_version(version)?;
    let inserted = insert_notices(&mut tx, fresh_notices(&entries, version)).await?;
    let batch = Batch::plan(head_seq, &head_hash, version, entries, &inserted)?;
    let chained = batch.chained();
    insert_records(&mut tx, &chained).await?;
    insert_items(&mut tx, &batch.items).await?;
    if let Some(last) = chained.last() {
        sqlx::query("UPDATE audit_head SET seq = $1, hash = $2 WHERE id = 1")
            .bind(db_seq(last.seq)?)
            .bind(&last.hash)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok((batch.outcomes, version))
}

/// [`insert_records`]' statement: one array per column of `INSERT_COLUMNS`, in its order.
const INSERT_RECORDS: &str = "INSERT INTO audit_log (seq, disclosure_id, at, requester_sub, \
     requester_dept, requester_role, subject_pseudonym, category, purpose, source, recipient, \
     decision, outcome, basis_kind, basis_id, reasons, fields_disclosed, fields_redacted, \
     payload_digest, policy_version, prev_hash, hash) \
     SELECT * FROM UNNEST($1::bigint[], $2::uuid[], $3::timestamptz[], $4::text[], $5::text[], \
     $6::text[], $7::text[], $8::text[], $9::text[], $10::text[], $11::text[], $12::text[], \
     $13::text[], $14::text[], $15::text[], $16::jsonb[], $17::jsonb[], $18::jsonb[], $19::text[], \
     $20::text[], $21::text[], $22::text[])";

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
    use super::INSERT_RECORDS;
    use crate::store::audit::{INSERT_COLUMNS, named_columns};

    #[test]
    fn the_insert_names_the_columns_the_chain_writes_and_unnests_one_array_each() {
        let listed: Vec<&str> = INSERT_COLUMNS.split(',').map(str::trim).collect();
        assert_eq!(named_columns(INSERT_RECORDS), listed);
        let (_, arrays) = INSERT_RECORDS
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
