ALTER TABLE outbox DROP COLUMN facts;
ALTER TABLE outbox DROP COLUMN kind;
DROP TABLE held_deprovisions;
DROP TABLE deprovisions;
DROP TABLE deprovision_guards;
