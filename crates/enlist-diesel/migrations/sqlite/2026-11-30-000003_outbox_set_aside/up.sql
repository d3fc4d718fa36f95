-- A notification that can never be sent (an address no server accepts, a
-- permanent SMTP refusal, too many attempts) is set aside: kept for the
-- operator (`enlist outbox`), never claimed again until requeued.
ALTER TABLE outbox ADD COLUMN set_aside_at BIGINT;
