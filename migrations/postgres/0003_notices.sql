-- Notices (push) and the departments' inboxes. Mirrors migrations/sqlite/0003_notices.sql.

CREATE TABLE notices (
    id                UUID PRIMARY KEY,
    sender_dept       TEXT NOT NULL,
    sender_sub        TEXT NOT NULL,
    idempotency_key   TEXT NOT NULL,
    body_digest       TEXT NOT NULL,
    kind              TEXT NOT NULL,
    subject_pseudonym TEXT NOT NULL,
    response          JSONB,
    created_at        TIMESTAMPTZ NOT NULL,
    completed_at      TIMESTAMPTZ,
    UNIQUE (sender_dept, idempotency_key)
);

CREATE TABLE inbox_items (
    id              UUID PRIMARY KEY,
    notice_id       UUID NOT NULL,
    recipient_dept  TEXT NOT NULL,
    kind            TEXT NOT NULL,
    sealed          BYTEA NOT NULL,
    redacted        JSONB NOT NULL,
    basis           JSONB,
    disclosure_id   TEXT NOT NULL,
    received_at     TIMESTAMPTZ NOT NULL,
    acked_at        TIMESTAMPTZ,
    acked_by        TEXT,
    UNIQUE (notice_id, recipient_dept)
);

CREATE INDEX inbox_by_recipient ON inbox_items (recipient_dept, received_at, id);
