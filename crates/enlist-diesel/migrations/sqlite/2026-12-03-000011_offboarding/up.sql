-- Offboarding leaves the organization row as a tombstone (renamed, SCIM
-- off) until its last event, organization.deleted, has been kept as long
-- as any other; every read leaves tombstones out. Additive: the previous
-- release ignores the column.
ALTER TABLE organizations ADD COLUMN deleted_at BIGINT;
