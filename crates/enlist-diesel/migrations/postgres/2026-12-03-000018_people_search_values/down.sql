DROP INDEX IF EXISTS user_values_search_trgm;
