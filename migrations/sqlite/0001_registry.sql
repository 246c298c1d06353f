-- The registry: contact-person assignments (who has a need to know) and consents.
--
-- A subject is stored only as a keyed pseudonym (HMAC-SHA256 of the CPR number with the gateway's
-- pseudonym key): the gateway never writes a CPR number to disk. A query by CPR number computes the
-- same pseudonym. Dates are ISO 8601 text (`YYYY-MM-DD`), instants RFC 3339 text in UTC, so that they
-- sort as text and read the same in the SQLite shell as in the API.

CREATE TABLE assignments (
    id                TEXT PRIMARY KEY,
    subject_pseudonym TEXT NOT NULL,
    contact_person    TEXT NOT NULL,                 -- the contact person's `sub`
    department        TEXT NOT NULL,                 -- the youth-unit department that assigned
    start_date        TEXT NOT NULL,
    status            TEXT NOT NULL CHECK (status IN ('active', 'ended')),
    end_reason        TEXT CHECK (end_reason IN
                        ('anchored_education', 'anchored_employment', 'turned_25', 'moved', 'other')),
    ended_at          TEXT,
    created_by        TEXT NOT NULL,
    created_at        TEXT NOT NULL,
    CHECK ((status = 'active') = (ended_at IS NULL))
);

-- Need-to-know is looked up per request by subject (and contact person).
CREATE INDEX assignments_by_subject ON assignments (subject_pseudonym, status);
-- A contact person is assigned to a young person at most once at a time.
CREATE UNIQUE INDEX assignments_one_active
    ON assignments (subject_pseudonym, contact_person) WHERE status = 'active';

CREATE TABLE consents (
    id                 TEXT PRIMARY KEY,
    subject_pseudonym  TEXT NOT NULL,
    givers             TEXT NOT NULL,                -- JSON: [{"role": "...", "pseudonym": "..."?}]
    categories         TEXT NOT NULL,                -- JSON array of category ids
    recipients         TEXT NOT NULL,                -- JSON array of department ids
    purposes           TEXT NOT NULL,                -- JSON array of purpose ids
    special_categories INTEGER NOT NULL CHECK (special_categories IN (0, 1)),
    valid_from         TEXT NOT NULL,
    valid_until        TEXT NOT NULL,
    evidence           TEXT NOT NULL,
    policy_version     TEXT NOT NULL,
    recorded_by        TEXT NOT NULL,
    recorded_by_dept   TEXT NOT NULL,
    recorded_at        TEXT NOT NULL,
    withdrawn_at       TEXT,
    withdrawn_by       TEXT,
    withdraw_reason    TEXT,
    CHECK (valid_from <= valid_until)
);

CREATE INDEX consents_by_subject ON consents (subject_pseudonym);

-- Every change to a consent is an event; consents and events are never deleted.
CREATE TABLE consent_events (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    consent_id TEXT NOT NULL REFERENCES consents (id),
    event      TEXT NOT NULL CHECK (event IN ('recorded', 'withdrawn')),
    at         TEXT NOT NULL,
    actor      TEXT NOT NULL,
    reason     TEXT
);

CREATE INDEX consent_events_by_consent ON consent_events (consent_id);

CREATE TRIGGER consents_are_never_deleted BEFORE DELETE ON consents
BEGIN
    SELECT RAISE(ABORT, 'consents are never deleted; withdraw them');
END;

CREATE TRIGGER consent_events_are_never_deleted BEFORE DELETE ON consent_events
BEGIN
    SELECT RAISE(ABORT, 'consent events are never deleted');
END;
