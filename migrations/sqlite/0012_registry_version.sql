-- The registry's version, on the chain's head row (decision 0029). Every write to assignments or
-- consents adds one to it in its own transaction; every audit batch reads it with the head, under
-- the same lock, and refuses an entry whose decision was made on facts of another version. So a
-- decision is as current as the commit that makes it durable, and a gateway may keep a subject's
-- facts in memory between decisions. Mirrored by migrations/postgres/0012_registry_version.sql.
ALTER TABLE audit_head ADD COLUMN registry_version INTEGER NOT NULL DEFAULT 0;
