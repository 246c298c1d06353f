-- The registry's versions (decision 0029). Every write to assignments or consents adds one to the
-- registry's version, on the chain's head row, and to its subject's, here, in its own transaction,
-- which so waits for the batch that holds the head locked. Every audit batch reads the registry's
-- version with the head (`FOR UPDATE`, which reads the row as it is once locked) and for an entry
-- decided at another one, its subject's version, in a later statement: an entry decided on a
-- subject's facts that have been written since is refused. So a decision is as current as the
-- commit that makes it durable, on every replica, and each replica may keep a subject's facts in
-- memory between decisions. Mirrors migrations/sqlite/0012_registry_version.sql.
ALTER TABLE audit_head ADD COLUMN registry_version BIGINT NOT NULL DEFAULT 0;

-- A subject absent here has never been written: version 0.
CREATE TABLE registry_versions (
    subject_pseudonym TEXT PRIMARY KEY,
    version           BIGINT NOT NULL CHECK (version > 0)
);
