-- Lookups of the audit trail by subject, requester and basis, written behind the chain
-- (docs/decisions/0021-audit-lookups-trail-the-chain.md).
--
-- Their keys are random: in an index on audit_log, each record of a batch dirtied a leaf page of
-- its own in each of the three, and SQLite writes every dirty page whole to the WAL at commit
-- (about 14 KiB of WAL per record). The appender's commit now writes audit_log and its indexes
-- on keys that grow with the chain (seq, at, disclosure id, departments); the indexer
-- (`SqliteStore::spawn_indexer`) copies the keys of the records past `indexed_upto` into these
-- tables in larger batches, sorted, one transaction each. A query reads a table up to
-- `indexed_upto` and audit_log itself past it, in one statement, so it never misses a record.

CREATE TABLE audit_by_subject (
    subject_pseudonym TEXT NOT NULL,
    seq               INTEGER NOT NULL,
    PRIMARY KEY (subject_pseudonym, seq)
) WITHOUT ROWID;

CREATE TABLE audit_by_requester (
    requester_sub TEXT NOT NULL,
    seq           INTEGER NOT NULL,
    PRIMARY KEY (requester_sub, seq)
) WITHOUT ROWID;

CREATE TABLE audit_by_basis (
    basis_id TEXT NOT NULL,
    seq      INTEGER NOT NULL,
    PRIMARY KEY (basis_id, seq)
) WITHOUT ROWID;

-- Every record with seq <= indexed_upto is in the tables above; none past it is.
CREATE TABLE audit_index_state (
    id           INTEGER PRIMARY KEY CHECK (id = 1),
    indexed_upto INTEGER NOT NULL CHECK (indexed_upto >= 0)
);

INSERT INTO audit_by_subject (subject_pseudonym, seq)
    SELECT subject_pseudonym, seq FROM audit_log WHERE subject_pseudonym IS NOT NULL;
INSERT INTO audit_by_requester (requester_sub, seq)
    SELECT requester_sub, seq FROM audit_log;
INSERT INTO audit_by_basis (basis_id, seq)
    SELECT basis_id, seq FROM audit_log WHERE basis_id IS NOT NULL;
INSERT INTO audit_index_state (id, indexed_upto)
    SELECT 1, coalesce(max(seq), 0) FROM audit_log;

DROP INDEX audit_log_by_subject;
DROP INDEX audit_log_by_requester;
DROP INDEX audit_log_by_basis;
