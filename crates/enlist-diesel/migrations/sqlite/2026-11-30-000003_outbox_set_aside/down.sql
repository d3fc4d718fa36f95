ALTER TABLE outbox DROP COLUMN set_aside_at;
