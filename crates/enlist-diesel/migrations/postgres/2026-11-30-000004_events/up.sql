-- Change events for the host product, numbered per organization at commit
-- (organizations.event_seq is the counter; its row lock orders commits).
ALTER TABLE organizations ADD COLUMN event_seq BIGINT NOT NULL DEFAULT 0;
CREATE TABLE events (
    organization_id TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    seq BIGINT NOT NULL,
    id TEXT NOT NULL UNIQUE,
    at BIGINT NOT NULL,
    actor TEXT NOT NULL,
    kind TEXT NOT NULL,
    data TEXT NOT NULL,
    PRIMARY KEY (organization_id, seq)
);
CREATE INDEX events_at ON events(at);
