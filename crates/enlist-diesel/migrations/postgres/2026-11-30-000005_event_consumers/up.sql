-- Durable positions of in-process event consumers, one row per consumer
-- and organization; a claim (lease_token, leased_until) hands an
-- organization's events to one process at a time.
CREATE TABLE event_consumers (
    consumer TEXT NOT NULL,
    organization_id TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    position BIGINT NOT NULL DEFAULT 0,
    lease_token TEXT,
    leased_until BIGINT NOT NULL DEFAULT 0,
    retry_at BIGINT NOT NULL DEFAULT 0,
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    PRIMARY KEY (consumer, organization_id)
);
