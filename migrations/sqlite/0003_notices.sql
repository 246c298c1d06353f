-- Notices (push) and the departments' inboxes.
--
-- A notice is claimed first under its idempotency key (unique per sending department), so two
-- concurrent retries cannot both deliver; its answer is stored with the inbox items in one
-- transaction, after every decision's audit record is durable. The subject's CPR number and the
-- redacted payload travel to the recipient, so inbox items keep them sealed (AEAD with a key derived
-- from the pseudonym key), never in clear text.

CREATE TABLE notices (
    id                TEXT PRIMARY KEY,
    sender_dept       TEXT NOT NULL,
    sender_sub        TEXT NOT NULL,
    idempotency_key   TEXT NOT NULL,
    body_digest       TEXT NOT NULL,                 -- SHA-256 of the request body
    kind              TEXT NOT NULL,
    subject_pseudonym TEXT NOT NULL,
    response          TEXT,                          -- the 202 answer (JSON), once complete
    created_at        TEXT NOT NULL,
    completed_at      TEXT,
    UNIQUE (sender_dept, idempotency_key)
);

CREATE TABLE inbox_items (
    id              TEXT PRIMARY KEY,
    notice_id       TEXT NOT NULL,                   -- the notice, or the withdrawn consent's id
    recipient_dept  TEXT NOT NULL,
    kind            TEXT NOT NULL,                   -- absence | education | concern | consent_withdrawn
    sealed          BLOB NOT NULL,                   -- nonce || AEAD(subject, data)
    redacted        TEXT NOT NULL,                   -- JSON array of withheld field paths
    basis           TEXT,                            -- JSON {kind, id}
    disclosure_id   TEXT NOT NULL,                   -- the audit record of this delivery
    received_at     TEXT NOT NULL,
    acked_at        TEXT,
    acked_by        TEXT,
    UNIQUE (notice_id, recipient_dept)
);

-- The inbox is read per department, oldest first, by cursor.
CREATE INDEX inbox_by_recipient ON inbox_items (recipient_dept, received_at, id);
