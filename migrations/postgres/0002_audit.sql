-- The audit trail: one row per decision (permit or deny), chained by SHA-256 hashes.
--
-- Mirrors migrations/sqlite/0002_audit.sql with native types (uuid, timestamptz with microsecond
-- precision, jsonb). No CPR number, no payload. Deliberately no triggers that refuse UPDATE or
-- DELETE: an edit made directly in the database is what `sluse audit verify` must expose.

CREATE TABLE audit_log (
    seq               BIGINT PRIMARY KEY CHECK (seq >= 1),
    disclosure_id     UUID NOT NULL,
    at                TIMESTAMPTZ NOT NULL,
    requester_sub     TEXT NOT NULL,
    requester_dept    TEXT NOT NULL,
    requester_role    TEXT NOT NULL,
    subject_pseudonym TEXT,
    category          TEXT NOT NULL,
    purpose           TEXT NOT NULL,
    source            TEXT,
    recipient         TEXT,
    decision          TEXT NOT NULL CHECK (decision IN ('permit', 'deny')),
    outcome           TEXT NOT NULL CHECK (outcome IN
                        ('disclosed', 'delivered', 'denied', 'withheld', 'not_found',
                         'source_unavailable')),
    basis_kind        TEXT CHECK (basis_kind IN ('consent', 'legal')),
    basis_id          TEXT,
    reasons           JSONB NOT NULL,
    fields_disclosed  JSONB NOT NULL,
    fields_redacted   JSONB NOT NULL,
    payload_digest    TEXT,
    policy_version    TEXT NOT NULL,
    prev_hash         TEXT NOT NULL,
    hash              TEXT NOT NULL
);

CREATE INDEX audit_log_by_subject ON audit_log (subject_pseudonym, seq);
CREATE INDEX audit_log_by_requester ON audit_log (requester_sub, seq);
CREATE INDEX audit_log_by_source ON audit_log (source, seq);
CREATE INDEX audit_log_by_recipient ON audit_log (recipient, seq);
CREATE INDEX audit_log_by_at ON audit_log (at);
CREATE INDEX audit_log_by_disclosure ON audit_log (disclosure_id);

-- The chain head, one row, locked with SELECT … FOR UPDATE by each batch's transaction: several
-- gateway processes on one database then keep one gap-free chain.
CREATE TABLE audit_head (
    id   SMALLINT PRIMARY KEY CHECK (id = 1),
    seq  BIGINT NOT NULL CHECK (seq >= 0),
    hash TEXT NOT NULL
);

INSERT INTO audit_head (id, seq, hash)
VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');

CREATE TABLE audit_checkpoints (
    seq       BIGINT NOT NULL CHECK (seq >= 1),
    head_hash TEXT NOT NULL,
    at        TIMESTAMPTZ NOT NULL,
    key_id    TEXT NOT NULL,
    signature TEXT NOT NULL,
    PRIMARY KEY (seq, key_id)
);
