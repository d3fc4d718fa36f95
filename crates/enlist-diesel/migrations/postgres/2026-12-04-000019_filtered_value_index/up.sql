-- Index entries only for the profile attributes identity providers filter
-- on (emails: Entra ID's match query; the enterprise employeeNumber: a
-- matching attribute admins choose). Every other value row was one more
-- entry at a random place in user_values_lookup: 28 of them per Entra-sized
-- user. Filters on other attributes read the organization's users' rows
-- through user_values_user. The list is repeated, literally, by every
-- query that means to use the index (sql.rs, FILTERED_ATTRS).
-- CONCURRENTLY: writes go on while it builds.
CREATE INDEX CONCURRENTLY IF NOT EXISTS user_values_filtered ON user_values(attr, sub, folded, user_id)
    WHERE attr IN ('emails', 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber');
