ALTER TABLE event_consumers DROP COLUMN failing_since;
DROP TABLE webhooks;
