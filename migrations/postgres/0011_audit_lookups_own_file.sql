-- SQLite's 0011 moves its audit lookup tables into a file of their own
-- (docs/decisions/0026-audit-lookups-in-their-own-file.md). PostgreSQL has indexes on audit_log
-- instead of those tables; the file exists so both sets keep one history.
SELECT 1;
