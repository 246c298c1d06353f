-- SQLite's 0009 partitions its lookup tables by subject, requester and basis by epoch
-- (docs/decisions/0021-audit-lookups-trail-the-chain.md). PostgreSQL has indexes on audit_log
-- instead of those tables; the file exists so both sets keep one history.
SELECT 1;
