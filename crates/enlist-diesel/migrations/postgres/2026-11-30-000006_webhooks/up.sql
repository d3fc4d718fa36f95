-- Webhook endpoints (Standard Webhooks). organization_id NULL: every
-- organization (registered by the operator). The signing secret must be
-- kept to sign; it is shown once at registration.
CREATE TABLE webhooks (
    id TEXT PRIMARY KEY NOT NULL,
    organization_id TEXT REFERENCES organizations(id) ON DELETE CASCADE,
    url TEXT NOT NULL,
    secret TEXT NOT NULL,
    allow_private BOOLEAN NOT NULL DEFAULT FALSE,
    created_at BIGINT NOT NULL,
    disabled_at BIGINT,
    disabled_reason TEXT
);
-- When a consumer's deliveries started failing (cleared by a success).
ALTER TABLE event_consumers ADD COLUMN failing_since BIGINT;
