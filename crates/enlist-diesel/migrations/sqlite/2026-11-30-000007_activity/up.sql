-- The provisioning activity log: every SCIM request that changed something
-- or was refused, for the organization's admin. Written in batches, off
-- the requests' transactions; pruned after its retention.
CREATE TABLE activity (
    id TEXT PRIMARY KEY NOT NULL,
    organization_id TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    at BIGINT NOT NULL,
    key_label TEXT NOT NULL,
    method TEXT NOT NULL,
    route TEXT NOT NULL,
    resource_id TEXT,
    subject TEXT,
    subject_folded TEXT,
    status INTEGER NOT NULL,
    scim_type TEXT,
    detail TEXT,
    latency_ms BIGINT NOT NULL,
    request_id TEXT NOT NULL,
    summary TEXT NOT NULL
);
CREATE INDEX activity_org_at ON activity(organization_id, at);
CREATE INDEX activity_at ON activity(at);
