CREATE INDEX IF NOT EXISTS user_values_lookup ON user_values(attr, sub, folded, user_id);
