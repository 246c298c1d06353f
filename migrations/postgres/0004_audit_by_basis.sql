-- When a consent is withdrawn, every department that received data on it is told: find those
-- disclosures by their basis without scanning the trail.
CREATE INDEX audit_log_by_basis ON audit_log (basis_id, seq);
