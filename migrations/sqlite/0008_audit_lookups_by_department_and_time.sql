-- The audit trail's lookups by department (source, recipient) and by time move behind the chain as
-- well, and the unused index on the disclosure id goes (decision 0021, "Later").
--
-- In an index on audit_log each batch of the appender split a leaf page of its own in each of
-- them: about 300 bytes of WAL per record each, half of all that a record cost (2.1 KiB of WAL
-- with them, 0.96 KiB without, measured with bench/sqlite-floor.py). The indexer
-- (`SqliteStore::spawn_indexer`) now fills these tables too, up to `indexed_upto`, and a query
-- reads a table up to the mark and audit_log past it, as for subject, requester and basis.
--
-- No query looks a record up by its disclosure id (the API and the console address records by
-- seq); a search by it would be one more table of this kind.

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

-- Up to the mark exactly: past it the indexer adds these keys with the others.
INSERT INTO audit_by_source (source, seq)
    SELECT source, seq FROM audit_log
    WHERE source IS NOT NULL AND seq <= (SELECT indexed_upto FROM audit_index_state WHERE id = 1);
INSERT INTO audit_by_recipient (recipient, seq)
    SELECT recipient, seq FROM audit_log
    WHERE recipient IS NOT NULL AND seq <= (SELECT indexed_upto FROM audit_index_state WHERE id = 1);
INSERT INTO audit_by_at (at, seq)
    SELECT at, seq FROM audit_log
    WHERE seq <= (SELECT indexed_upto FROM audit_index_state WHERE id = 1);

DROP INDEX audit_log_by_source;
DROP INDEX audit_log_by_recipient;
DROP INDEX audit_log_by_at;
DROP INDEX audit_log_by_disclosure;
