-- The userName and displayName half of people search: a trigram index of
-- the two folded columns together (the expression the search's candidate
-- query uses). CONCURRENTLY: writes go on while it builds.
CREATE INDEX CONCURRENTLY IF NOT EXISTS users_search_trgm ON users
    USING gin ((user_name_folded || ' ' || COALESCE(display_name_folded, '')) gin_trgm_ops);
