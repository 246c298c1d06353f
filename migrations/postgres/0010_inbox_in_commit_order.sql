-- The inbox is read in commit order (decision 0023).
--
-- Ordered by (received_at, id), a reader could skip an item for ever: received_at is set when the
-- notice is decided, before the commit, so an item could commit after a later-stamped one that a
-- reader had already passed with its cursor. `seq` comes from a sequence, drawn only inside the
-- audit appender's transaction after it has locked the chain's head row (`insert_items`): a
-- transaction draws after every earlier one has committed and become visible, so each commit's
-- items come after every earlier commit's, across gateway processes. A rolled-back transaction
-- leaves a gap, never a reordering.

ALTER TABLE inbox_items ADD COLUMN seq BIGINT;
UPDATE inbox_items SET seq = ordered.n
    FROM (SELECT id, row_number() OVER (ORDER BY received_at, id) AS n FROM inbox_items) AS ordered
    WHERE inbox_items.id = ordered.id;
CREATE SEQUENCE inbox_items_seq OWNED BY inbox_items.seq;
SELECT setval('inbox_items_seq', COALESCE((SELECT max(seq) FROM inbox_items), 0) + 1, false);
ALTER TABLE inbox_items
    ALTER COLUMN seq SET DEFAULT nextval('inbox_items_seq'),
    ALTER COLUMN seq SET NOT NULL;

DROP INDEX inbox_by_recipient;
CREATE UNIQUE INDEX inbox_by_recipient ON inbox_items (recipient_dept, seq);
