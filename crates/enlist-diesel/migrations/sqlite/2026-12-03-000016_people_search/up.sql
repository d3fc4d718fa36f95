-- Substring search over people ("mith" finds Smith): an FTS5 trigram index
-- of each user's searchable text (userName, displayName, emails, given and
-- family name, folded), keyed by users.seq. A `co` filter on those
-- attributes reads its candidates here (crates/enlist-diesel/src/sql/search.rs).
--
-- Triggers only mark a user whose searchable text may have changed, in
-- `search_dirty` (a cheap row); the writer brings the index up to date
-- for the marked users at the end of each batch, in the batch's own
-- transaction (crates/enlist-diesel/src/writer.rs): one index write per
-- user and batch rather than one per value row, which cost a create a
-- third of its speed. Writes of a previous release are marked too, and
-- indexed with this release's next batch. Additive.
CREATE VIRTUAL TABLE users_search USING fts5(text, tokenize = 'trigram');

CREATE TABLE search_dirty (seq INTEGER PRIMARY KEY);

-- One user's searchable text, defined once: the two columns and the value
-- rows (emails, value), (name, givenName), (name, familyName), joined by
-- newlines. A value already inside the userName or the displayName (the
-- email that is the userName, the names inside "Joan Smith") is left out:
-- every part of it is found there, and the index is half the size.
CREATE VIEW users_search_text AS
SELECT u.seq AS seq, u.id AS id,
       u.user_name_folded || char(10) || COALESCE(u.display_name_folded, '') || COALESCE((
           SELECT char(10) || group_concat(v.folded, char(10)) FROM user_values v WHERE v.user_id = u.id
           AND ((v.attr = 'emails' AND v.sub = 'value') OR (v.attr = 'name' AND v.sub IN ('givenName', 'familyName')))
           AND instr(u.user_name_folded || char(10) || COALESCE(u.display_name_folded, ''), v.folded) = 0), '') AS text
FROM users u;

CREATE TRIGGER users_search_insert AFTER INSERT ON users BEGIN
    INSERT OR IGNORE INTO search_dirty (seq) VALUES (new.seq);
END;
CREATE TRIGGER users_search_update AFTER UPDATE OF user_name_folded, display_name_folded ON users
WHEN old.user_name_folded IS NOT new.user_name_folded OR old.display_name_folded IS NOT new.display_name_folded BEGIN
    INSERT OR IGNORE INTO search_dirty (seq) VALUES (new.seq);
END;
CREATE TRIGGER users_search_delete AFTER DELETE ON users BEGIN
    INSERT OR IGNORE INTO search_dirty (seq) VALUES (old.seq);
END;
CREATE TRIGGER user_values_search_insert AFTER INSERT ON user_values
WHEN (new.attr = 'emails' AND new.sub = 'value') OR (new.attr = 'name' AND new.sub IN ('givenName', 'familyName')) BEGIN
    INSERT OR IGNORE INTO search_dirty (seq) SELECT seq FROM users WHERE id = new.user_id;
END;
CREATE TRIGGER user_values_search_delete AFTER DELETE ON user_values
WHEN (old.attr = 'emails' AND old.sub = 'value') OR (old.attr = 'name' AND old.sub IN ('givenName', 'familyName')) BEGIN
    INSERT OR IGNORE INTO search_dirty (seq) SELECT seq FROM users WHERE id = old.user_id;
END;
CREATE TRIGGER user_values_search_update AFTER UPDATE ON user_values
WHEN (old.attr = 'emails' AND old.sub = 'value') OR (old.attr = 'name' AND old.sub IN ('givenName', 'familyName'))
  OR (new.attr = 'emails' AND new.sub = 'value') OR (new.attr = 'name' AND new.sub IN ('givenName', 'familyName')) BEGIN
    INSERT OR IGNORE INTO search_dirty (seq) SELECT seq FROM users WHERE id = new.user_id;
END;

-- Everyone already there.
INSERT INTO users_search (rowid, text) SELECT seq, text FROM users_search_text;
