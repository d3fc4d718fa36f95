DROP INDEX users_org_id;
