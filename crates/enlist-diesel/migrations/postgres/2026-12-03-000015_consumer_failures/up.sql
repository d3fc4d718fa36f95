-- The latest failures of each event consumer (a webhook endpoint) per
-- organization, with what the receiver answered, for the console's
-- Webhooks page; the newest 20 per consumer and organization are kept.
-- Additive: the previous release never writes it.
CREATE TABLE consumer_failures (
    consumer TEXT NOT NULL,
    organization_id TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    at BIGINT NOT NULL,
    seq BIGINT NOT NULL,
    error TEXT NOT NULL
);
CREATE INDEX consumer_failures_at ON consumer_failures(consumer, organization_id, at);
