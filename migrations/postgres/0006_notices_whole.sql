-- A notice is now stored whole: its row, answer included, commits in the audit appender's
-- transaction together with its audit records and inbox items. Earlier versions claimed the key
-- first and stored the answer later; a claim whose notice never completed delivered nothing
-- (items and answer were written together) and would block its key for ever, so it goes.
DELETE FROM notices WHERE response IS NULL;
