-- SQLite's 0008 moves the lookups by department and time behind the chain, as its 0007 did for
-- subject, requester and basis (docs/decisions/0021-audit-lookups-trail-the-chain.md); PostgreSQL
-- keeps them as indexes on audit_log. Both drop the index on the disclosure id: no query uses it
-- (records are addressed by seq), and every index is paid for on each append.
DROP INDEX audit_log_by_disclosure;
