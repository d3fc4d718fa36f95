CREATE INDEX user_values_exact ON user_values(attr, sub, value, user_id);
