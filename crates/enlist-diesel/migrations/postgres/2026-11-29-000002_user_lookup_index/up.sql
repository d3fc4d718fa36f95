-- Lookups by id within an organization (member batches, get_many) must use
-- an index on both columns: with only (organization_id, seq) and (id), a
-- planner without statistics scans the organization's whole roster.
CREATE INDEX users_org_id ON users(organization_id, id);
