-- The audit trail: one row per decision (permit or deny), chained by SHA-256 hashes.
--
-- One column per field of a record (API.md §5 audit) so that a DPO can read the trail with SQL; lists
-- are JSON text. No CPR number (the subject is a keyed pseudonym) and no payload (field names and a
-- digest only). Instants are canonical RFC 3339 text in UTC with six fractional digits, exactly the
-- text that is hashed (docs/audit-format.md).
--
-- Deliberately no triggers that refuse UPDATE or DELETE: whoever can write the database file can
-- drop a trigger, and an edit made directly in the database is exactly what `sluse audit verify`
-- must expose — the chain, not the schema, is the protection.

CREATE TABLE audit_log (
    seq               INTEGER PRIMARY KEY CHECK (seq >= 1),  -- 1, 2, 3, … without gaps
    disclosure_id     TEXT NOT NULL,                         -- UUID v7, lowercase hyphenated
    at                TEXT NOT NULL,
    requester_sub     TEXT NOT NULL,
    requester_dept    TEXT NOT NULL,
    requester_role    TEXT NOT NULL,
    subject_pseudonym TEXT,                                  -- `ps_…`; NULL for no subject
    category          TEXT NOT NULL,
    purpose           TEXT NOT NULL,
    source            TEXT,                                  -- department ids
    recipient         TEXT,
    decision          TEXT NOT NULL CHECK (decision IN ('permit', 'deny')),
    outcome           TEXT NOT NULL CHECK (outcome IN
                        ('disclosed', 'delivered', 'denied', 'withheld', 'not_found',
                         'source_unavailable')),
    basis_kind        TEXT CHECK (basis_kind IN ('consent', 'legal')),
    basis_id          TEXT,
    reasons           TEXT NOT NULL,                         -- JSON: [{"code": …, "message": …}]
    fields_disclosed  TEXT NOT NULL,                         -- JSON array of field paths
    fields_redacted   TEXT NOT NULL,                         -- JSON array of field paths
    payload_digest    TEXT,                                  -- hex SHA-256 of what was released
    policy_version    TEXT NOT NULL,
    prev_hash         TEXT NOT NULL,                         -- hash of seq - 1; 64 zeros for seq 1
    hash              TEXT NOT NULL                          -- SHA-256(prev_hash || canonical(record))
);

-- The DPO's queries: by subject, by requester, by department (source or recipient), by time.
CREATE INDEX audit_log_by_subject ON audit_log (subject_pseudonym, seq);
CREATE INDEX audit_log_by_requester ON audit_log (requester_sub, seq);
CREATE INDEX audit_log_by_source ON audit_log (source, seq);
CREATE INDEX audit_log_by_recipient ON audit_log (recipient, seq);
CREATE INDEX audit_log_by_at ON audit_log (at);
CREATE INDEX audit_log_by_disclosure ON audit_log (disclosure_id);

-- The chain head, one row. The appender reads and moves it inside each batch's write transaction
-- (`BEGIN IMMEDIATE` on SQLite; `SELECT … FOR UPDATE` on PostgreSQL), so that every writer chains
-- after the true head and seq stays gap-free.
CREATE TABLE audit_head (
    id   INTEGER PRIMARY KEY CHECK (id = 1),
    seq  INTEGER NOT NULL CHECK (seq >= 0),
    hash TEXT NOT NULL
);

INSERT INTO audit_head (id, seq, hash)
VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');

-- Signed checkpoints of the head: Ed25519 over (seq, head_hash, at, key_id), base64.
CREATE TABLE audit_checkpoints (
    seq       INTEGER NOT NULL CHECK (seq >= 1),
    head_hash TEXT NOT NULL,
    at        TEXT NOT NULL,
    key_id    TEXT NOT NULL,
    signature TEXT NOT NULL,
    PRIMARY KEY (seq, key_id)
);
