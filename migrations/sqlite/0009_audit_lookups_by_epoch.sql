-- The lookups by subject, requester and basis, whose keys spread over thousands of values, are
-- partitioned by epochs of 4,096 records: key (seq >> 12, value, seq), `EPOCH_SHIFT` in
-- src/store/sqlite/lookups.rs (decision 0021, "Later").
--
-- Keyed by (value, seq) alone, the indexer's sorted pass of some thousand records landed on a leaf
-- page of its own per record once a table had outgrown one pass, and SQLite writes each dirty page
-- whole to the WAL: the cost that decision 0021 took out of the appender's commit came back in the
-- indexer's, growing with the trail. Within an epoch the pass writes one contiguous region. A
-- lookup probes each epoch up to the mark's.

CREATE TABLE audit_by_subject_epochs (
    epoch             INTEGER NOT NULL,
    subject_pseudonym TEXT NOT NULL,
    seq               INTEGER NOT NULL,
    PRIMARY KEY (epoch, subject_pseudonym, seq)
) WITHOUT ROWID;
INSERT INTO audit_by_subject_epochs (epoch, subject_pseudonym, seq)
    SELECT seq >> 12, subject_pseudonym, seq FROM audit_by_subject ORDER BY 1, 2, 3;
DROP TABLE audit_by_subject;
ALTER TABLE audit_by_subject_epochs RENAME TO audit_by_subject;

CREATE TABLE audit_by_requester_epochs (
    epoch         INTEGER NOT NULL,
    requester_sub TEXT NOT NULL,
    seq           INTEGER NOT NULL,
    PRIMARY KEY (epoch, requester_sub, seq)
) WITHOUT ROWID;
INSERT INTO audit_by_requester_epochs (epoch, requester_sub, seq)
    SELECT seq >> 12, requester_sub, seq FROM audit_by_requester ORDER BY 1, 2, 3;
DROP TABLE audit_by_requester;
ALTER TABLE audit_by_requester_epochs RENAME TO audit_by_requester;

CREATE TABLE audit_by_basis_epochs (
    epoch    INTEGER NOT NULL,
    basis_id TEXT NOT NULL,
    seq      INTEGER NOT NULL,
    PRIMARY KEY (epoch, basis_id, seq)
) WITHOUT ROWID;
INSERT INTO audit_by_basis_epochs (epoch, basis_id, seq)
    SELECT seq >> 12, basis_id, seq FROM audit_by_basis ORDER BY 1, 2, 3;
DROP TABLE audit_by_basis;
ALTER TABLE audit_by_basis_epochs RENAME TO audit_by_basis;
