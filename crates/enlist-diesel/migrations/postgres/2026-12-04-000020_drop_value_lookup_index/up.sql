-- user_values_filtered (migration 19) serves every filter this release
-- sends through an index. A listed contract step: the previous release's
-- queries stay correct without this index; while both run, its filters on
-- profile values read them by scanning instead.
-- CONCURRENTLY: writes to user_values go on while it is dropped.
DROP INDEX CONCURRENTLY IF EXISTS user_values_lookup;
