-- The registry's version, on the chain's head row (decision 0029). Every write to assignments or
-- consents adds one to it in its own transaction, which so waits for the batch that holds the head
-- locked; every audit batch reads it with the head (`FOR UPDATE`) and refuses an entry whose
-- decision was made on facts of another version. So a decision is as current as the commit that
-- makes it durable, on every replica, and each replica may keep a subject's facts in memory between
-- decisions. Mirrors migrations/sqlite/0012_registry_version.sql.
ALTER TABLE audit_head ADD COLUMN registry_version BIGINT NOT NULL DEFAULT 0;
