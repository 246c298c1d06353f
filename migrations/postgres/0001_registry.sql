-- The registry: contact-person assignments (who has a need to know) and consents.
--
-- Mirrors migrations/sqlite/0001_registry.sql (a test keeps the two sets in step). A subject is
-- stored only as a keyed pseudonym (HMAC-SHA256 of the CPR number): never a CPR number.

CREATE TABLE assignments (
    id                UUID PRIMARY KEY,
    subject_pseudonym TEXT NOT NULL,
    contact_person    TEXT NOT NULL,
    department        TEXT NOT NULL,
    start_date        DATE NOT NULL,
    status            TEXT NOT NULL CHECK (status IN ('active', 'ended')),
    end_reason        TEXT CHECK (end_reason IN
                        ('anchored_education', 'anchored_employment', 'turned_25', 'moved', 'other')),
    ended_at          TIMESTAMPTZ,
    created_by        TEXT NOT NULL,
    created_at        TIMESTAMPTZ NOT NULL,
    CHECK ((status = 'active') = (ended_at IS NULL))
);

CREATE INDEX assignments_by_subject ON assignments (subject_pseudonym, status);
CREATE UNIQUE INDEX assignments_one_active
    ON assignments (subject_pseudonym, contact_person) WHERE status = 'active';

CREATE TABLE consents (
    id                 UUID PRIMARY KEY,
    subject_pseudonym  TEXT NOT NULL,
    givers             JSONB NOT NULL,
    categories         JSONB NOT NULL,
    recipients         JSONB NOT NULL,
    purposes           JSONB NOT NULL,
    special_categories BOOLEAN NOT NULL,
    valid_from         DATE NOT NULL,
    valid_until        DATE NOT NULL,
    evidence           TEXT NOT NULL,
    policy_version     TEXT NOT NULL,
    recorded_by        TEXT NOT NULL,
    recorded_by_dept   TEXT NOT NULL,
    recorded_at        TIMESTAMPTZ NOT NULL,
    withdrawn_at       TIMESTAMPTZ,
    withdrawn_by       TEXT,
    withdraw_reason    TEXT,
    CHECK (valid_from <= valid_until)
);

CREATE INDEX consents_by_subject ON consents (subject_pseudonym);

CREATE TABLE consent_events (
    seq        BIGSERIAL PRIMARY KEY,
    consent_id UUID NOT NULL REFERENCES consents (id),
    event      TEXT NOT NULL CHECK (event IN ('recorded', 'withdrawn')),
    at         TIMESTAMPTZ NOT NULL,
    actor      TEXT NOT NULL,
    reason     TEXT
);

CREATE INDEX consent_events_by_consent ON consent_events (consent_id);

CREATE FUNCTION refuse_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% rows are never deleted', TG_TABLE_NAME;
END;
$$;

CREATE TRIGGER consents_are_never_deleted BEFORE DELETE ON consents
    FOR EACH ROW EXECUTE FUNCTION refuse_delete();
CREATE TRIGGER consent_events_are_never_deleted BEFORE DELETE ON consent_events
    FOR EACH ROW EXECUTE FUNCTION refuse_delete();
