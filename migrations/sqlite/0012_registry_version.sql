-- The registry's versions (decision 0029). Every write to assignments or consents adds one to the
-- registry's version, on the chain's head row, and to its subject's, here, in its own transaction.
-- Every audit batch reads the registry's version with the head, under the same lock, and for an
-- entry decided at another one, its subject's version: an entry decided on a subject's facts that
-- have been written since is refused. So a decision is as current as the commit that makes it
-- durable, and a gateway may keep a subject's facts in memory between decisions. Mirrored by
-- migrations/postgres/0012_registry_version.sql.
ALTER TABLE audit_head ADD COLUMN registry_version INTEGER NOT NULL DEFAULT 0;

-- A subject absent here has never been written: version 0.
CREATE TABLE registry_versions (
    subject_pseudonym TEXT PRIMARY KEY,
    version           INTEGER NOT NULL CHECK (version > 0)
) WITHOUT ROWID;
