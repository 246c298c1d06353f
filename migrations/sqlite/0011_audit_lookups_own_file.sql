-- The audit trail's lookup tables move to a file of their own beside the database
-- (`<database>-lookups`, decision 0026): written there, the indexer no longer holds the database's
-- write lock, which the audit appender needs for every batch. The lookups are derived from
-- audit_log; the gateway creates the new file and its indexer fills it from the first record, so
-- nothing is copied here. Searches stay complete meanwhile: they scan audit_log past the mark.
DROP TABLE audit_by_subject;
DROP TABLE audit_by_requester;
DROP TABLE audit_by_basis;
DROP TABLE audit_by_source;
DROP TABLE audit_by_recipient;
DROP TABLE audit_by_at;
DROP TABLE audit_index_state;
