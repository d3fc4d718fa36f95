DROP TRIGGER user_values_search_update;
DROP TRIGGER user_values_search_delete;
DROP TRIGGER user_values_search_insert;
DROP TRIGGER users_search_delete;
DROP TRIGGER users_search_update;
DROP TRIGGER users_search_insert;
DROP TABLE users_search;
