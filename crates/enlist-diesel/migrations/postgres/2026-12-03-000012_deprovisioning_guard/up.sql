-- The deprovisioning guard. One row per organization that has one (no row:
-- the defaults), locked by every counted removal so processes sharing the
-- database count one at a time. Additive: the previous release ignores
-- these tables and columns.
CREATE TABLE deprovision_guards (
    organization_id TEXT PRIMARY KEY NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    enabled BOOLEAN NOT NULL,
    max_count BIGINT NOT NULL,
    percent BIGINT NOT NULL,
    window_secs BIGINT NOT NULL,
    held_since BIGINT,
    approved_until BIGINT,
    counted_since BIGINT
);
-- Deactivations and deletions of active members by SCIM, counted within
-- the window; pruned once older than the longest window.
CREATE TABLE deprovisions (
    organization_id TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    user_id TEXT NOT NULL,
    at BIGINT NOT NULL
);
CREATE INDEX deprovisions_org_at ON deprovisions(organization_id, at);
CREATE INDEX deprovisions_at ON deprovisions(at);
-- What the guard refused, one row per person, for the Admin's decision.
CREATE TABLE held_deprovisions (
    organization_id TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    user_id TEXT NOT NULL,
    user_name TEXT NOT NULL,
    email TEXT NOT NULL,
    removal TEXT NOT NULL,
    key_label TEXT NOT NULL,
    first_at BIGINT NOT NULL,
    last_at BIGINT NOT NULL,
    attempts BIGINT NOT NULL,
    PRIMARY KEY (organization_id, user_id)
);
-- What a notification says ('added': the welcome mail; 'deprovisioning_held':
-- the guard's alert to an Admin) and its figures.
ALTER TABLE outbox ADD COLUMN kind TEXT NOT NULL DEFAULT 'added';
ALTER TABLE outbox ADD COLUMN facts TEXT;
