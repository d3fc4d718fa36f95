DROP INDEX IF EXISTS user_values_filtered;
