-- The email and name half of people search: a trigram index of the folded
-- emails and given and family names only (partial: the other value rows
-- pay nothing). CONCURRENTLY: writes go on while it builds.
CREATE INDEX CONCURRENTLY IF NOT EXISTS user_values_search_trgm ON user_values USING gin (folded gin_trgm_ops)
    WHERE (attr = 'emails' AND sub = 'value') OR (attr = 'name' AND sub IN ('givenName', 'familyName'));
