-- The userName and displayName half of people search: a trigram index of
-- the two folded columns joined by a newline (the expression the search's
-- candidate query uses; no search term holds a newline, so a match is
-- inside one of them). CONCURRENTLY: writes go on while it builds.
CREATE INDEX CONCURRENTLY IF NOT EXISTS users_search_trgm ON users
    USING gin ((user_name_folded || chr(10) || COALESCE(display_name_folded, '')) gin_trgm_ops);
