-- SQLite's 0007 moves the audit trail's lookups by subject, requester and basis out of the
-- appender's commit into tables written behind the chain
-- (docs/decisions/0021-audit-lookups-trail-the-chain.md). PostgreSQL keeps them as indexes on
-- audit_log: its WAL logs an index insert as the tuple, not as the whole page, so they do not
-- multiply the commit's writes as SQLite's did. The file exists so both sets keep one history.
SELECT 1;
