-- The inbox is read in commit order (decision 0023).
--
-- Ordered by (received_at, id), a reader could skip an item for ever: received_at is set when the
-- notice is decided, before the commit, so an item could commit after a later-stamped one that a
-- reader had already passed with its cursor. `seq` is the rowid, handed out as max + 1 by the one
-- connection that inserts items (the audit appender, one transaction at a time): every commit's
-- items come after every earlier commit's. Items are never deleted from the end, so a seq is never
-- handed out twice. The id keeps its value (the sealed copy's associated data) but loses its index:
-- nothing looks an item up by id.

CREATE TABLE inbox_items_by_seq (
    seq             INTEGER PRIMARY KEY,
    id              TEXT NOT NULL,
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
INSERT INTO inbox_items_by_seq (id, notice_id, recipient_dept, kind, sealed, redacted, basis,
                                disclosure_id, received_at, acked_at, acked_by)
    SELECT id, notice_id, recipient_dept, kind, sealed, redacted, basis, disclosure_id,
           received_at, acked_at, acked_by
    FROM inbox_items ORDER BY received_at, id;
DROP TABLE inbox_items;
ALTER TABLE inbox_items_by_seq RENAME TO inbox_items;

CREATE INDEX inbox_by_recipient ON inbox_items (recipient_dept, seq);
