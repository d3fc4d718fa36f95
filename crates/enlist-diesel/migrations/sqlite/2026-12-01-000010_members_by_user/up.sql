-- A user's groups are read by user_id (every lookup that shows `groups`):
-- with the group id in the index, the membership row itself is not read.
DROP INDEX group_members_user;
CREATE INDEX group_members_user ON group_members(user_id, group_id);
