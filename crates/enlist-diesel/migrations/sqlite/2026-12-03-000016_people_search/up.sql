-- Substring search over people ("mith" finds Smith): an FTS5 trigram index
-- of each user's searchable text (userName, displayName, emails, given and
-- family name, folded), keyed by users.seq. Triggers keep it in step with
-- every write, a previous release's included. A `co` filter on those
-- attributes reads its candidates here, then checks each exactly.
-- Additive: the previous release never reads it.
CREATE VIRTUAL TABLE users_search USING fts5(text, tokenize = 'trigram');

-- The searchable value rows: (emails, value), (name, givenName),
-- (name, familyName). Each trigger rebuilds one user's text.
CREATE TRIGGER users_search_insert AFTER INSERT ON users BEGIN
    INSERT INTO users_search (rowid, text) VALUES (new.seq, new.user_name_folded || char(10) || COALESCE(new.display_name_folded, ''));
END;
CREATE TRIGGER users_search_update AFTER UPDATE OF user_name_folded, display_name_folded ON users
WHEN old.user_name_folded IS NOT new.user_name_folded OR old.display_name_folded IS NOT new.display_name_folded BEGIN
    DELETE FROM users_search WHERE rowid = new.seq;
    INSERT INTO users_search (rowid, text)
    SELECT new.seq, new.user_name_folded || char(10) || COALESCE(new.display_name_folded, '') || COALESCE((
        SELECT char(10) || group_concat(v.folded, char(10)) FROM user_values v WHERE v.user_id = new.id
        AND ((v.attr = 'emails' AND v.sub = 'value') OR (v.attr = 'name' AND v.sub IN ('givenName', 'familyName')))), '');
END;
CREATE TRIGGER users_search_delete AFTER DELETE ON users BEGIN
    DELETE FROM users_search WHERE rowid = old.seq;
END;
CREATE TRIGGER user_values_search_insert AFTER INSERT ON user_values
WHEN (new.attr = 'emails' AND new.sub = 'value') OR (new.attr = 'name' AND new.sub IN ('givenName', 'familyName')) BEGIN
    UPDATE users_search SET text = text || char(10) || new.folded
    WHERE rowid = (SELECT seq FROM users WHERE id = new.user_id);
END;
CREATE TRIGGER user_values_search_delete AFTER DELETE ON user_values
WHEN (old.attr = 'emails' AND old.sub = 'value') OR (old.attr = 'name' AND old.sub IN ('givenName', 'familyName')) BEGIN
    DELETE FROM users_search WHERE rowid = (SELECT seq FROM users WHERE id = old.user_id);
    INSERT INTO users_search (rowid, text)
    SELECT u.seq, u.user_name_folded || char(10) || COALESCE(u.display_name_folded, '') || COALESCE((
        SELECT char(10) || group_concat(v.folded, char(10)) FROM user_values v WHERE v.user_id = u.id
        AND ((v.attr = 'emails' AND v.sub = 'value') OR (v.attr = 'name' AND v.sub IN ('givenName', 'familyName')))), '')
    FROM users u WHERE u.id = old.user_id;
END;
CREATE TRIGGER user_values_search_update AFTER UPDATE ON user_values
WHEN (old.attr = 'emails' AND old.sub = 'value') OR (old.attr = 'name' AND old.sub IN ('givenName', 'familyName'))
  OR (new.attr = 'emails' AND new.sub = 'value') OR (new.attr = 'name' AND new.sub IN ('givenName', 'familyName')) BEGIN
    DELETE FROM users_search WHERE rowid = (SELECT seq FROM users WHERE id = new.user_id);
    INSERT INTO users_search (rowid, text)
    SELECT u.seq, u.user_name_folded || char(10) || COALESCE(u.display_name_folded, '') || COALESCE((
        SELECT char(10) || group_concat(v.folded, char(10)) FROM user_values v WHERE v.user_id = u.id
        AND ((v.attr = 'emails' AND v.sub = 'value') OR (v.attr = 'name' AND v.sub IN ('givenName', 'familyName')))), '')
    FROM users u WHERE u.id = new.user_id;
END;

-- Everyone already there.
INSERT INTO users_search (rowid, text)
SELECT u.seq, u.user_name_folded || char(10) || COALESCE(u.display_name_folded, '') || COALESCE((
    SELECT char(10) || group_concat(v.folded, char(10)) FROM user_values v WHERE v.user_id = u.id
    AND ((v.attr = 'emails' AND v.sub = 'value') OR (v.attr = 'name' AND v.sub IN ('givenName', 'familyName')))), '')
FROM users u;
