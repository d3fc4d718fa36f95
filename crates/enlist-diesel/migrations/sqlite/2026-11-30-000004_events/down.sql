DROP TABLE events;
ALTER TABLE organizations DROP COLUMN event_seq;
