ALTER TABLE organizations ADD COLUMN event_seq BIGINT NOT NULL DEFAULT 0;
UPDATE organizations SET event_seq = (SELECT c.seq FROM event_counters c WHERE c.organization_id = organizations.id)
    WHERE id IN (SELECT organization_id FROM event_counters);
DROP TABLE event_counters;
