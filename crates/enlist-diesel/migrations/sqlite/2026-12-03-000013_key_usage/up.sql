-- Each API key's traffic per hour (requests, refusals, latest request and
-- success), counted in each process and added up here, for the console's
-- connection health. Additive: the previous release ignores it.
CREATE TABLE key_usage (
    key_id TEXT NOT NULL,
    organization_id TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    hour BIGINT NOT NULL,
    requests BIGINT NOT NULL,
    refusals BIGINT NOT NULL,
    last_request_at BIGINT NOT NULL,
    last_success_at BIGINT,
    PRIMARY KEY (key_id, hour)
);
CREATE INDEX key_usage_org_hour ON key_usage(organization_id, hour);
