-- The DPO's review of statutory disclosures, and witnesses' co-signatures of checkpoints.
--
-- A disclosure made on a legal basis without consent (basis_kind 'legal', outcome 'disclosed' or
-- 'delivered') waits in the console's review queue until a DPO marks it reviewed. The mark is
-- itself an audit record (purpose 'dpo.review', docs/audit-format.md) — `review_seq` is its place in
-- the chain; this table is the index the queue reads, the chain is the evidence.

CREATE TABLE audit_reviews (
    record_seq           INTEGER PRIMARY KEY,   -- the reviewed disclosure's seq in audit_log
    record_disclosure_id TEXT NOT NULL,
    reviewed_by          TEXT NOT NULL,         -- the DPO's sub
    reviewed_dept        TEXT NOT NULL,
    reviewed_at          TEXT NOT NULL,         -- canonical instant text
    review_seq           INTEGER NOT NULL       -- the review's own audit record
);

-- The queue: statutory disclosures by seq, without scanning the rest of the trail.
CREATE INDEX audit_log_statutory ON audit_log (seq)
    WHERE basis_kind = 'legal' AND outcome IN ('disclosed', 'delivered');

-- Co-signatures of signed checkpoints by witnesses (`sluse audit witness`): Ed25519 by the
-- witness's key over the witness message of docs/audit-format.md, base64.
CREATE TABLE audit_witness_signatures (
    seq            INTEGER NOT NULL,            -- the checkpoint's seq
    key_id         TEXT NOT NULL,               -- the checkpoint's (gateway) key id
    witness_key_id TEXT NOT NULL,               -- first 16 hex digits of SHA-256(public key)
    public_key     TEXT NOT NULL,               -- the witness's raw 32-byte public key, base64
    signature      TEXT NOT NULL,
    received_at    TEXT NOT NULL,
    PRIMARY KEY (seq, key_id, witness_key_id)
);
