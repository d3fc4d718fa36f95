-- Enlist schema, PostgreSQL. Keep in step with migrations/sqlite (a test
-- checks both hold the same versions). Times are microseconds since the
-- Unix epoch; ids are opaque text; `*_folded` columns hold the case-folded
-- text computed in Rust, so case-insensitive uniqueness and lookups behave
-- identically on both backends.

CREATE TABLE organizations (
    id TEXT PRIMARY KEY NOT NULL,
    name TEXT NOT NULL UNIQUE,
    scim_enabled BOOLEAN NOT NULL,
    default_role TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE domains (
    domain TEXT PRIMARY KEY NOT NULL,
    organization_id TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE
);
CREATE INDEX domains_org ON domains(organization_id);

CREATE TABLE accounts (
    id TEXT PRIMARY KEY NOT NULL,
    email TEXT NOT NULL,
    email_folded TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL
);

CREATE TABLE users (
    seq BIGSERIAL PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    organization_id TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    account_id TEXT NOT NULL REFERENCES accounts(id),
    user_name TEXT NOT NULL,
    user_name_folded TEXT NOT NULL,
    external_id TEXT,
    display_name_folded TEXT,
    active BOOLEAN NOT NULL,
    effective_role TEXT NOT NULL,
    role_source TEXT NOT NULL,
    manager_id TEXT,
    profile TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    version BIGINT NOT NULL,
    CONSTRAINT users_user_name_unique UNIQUE (organization_id, user_name_folded),
    CONSTRAINT users_account_unique UNIQUE (organization_id, account_id)
);
CREATE INDEX users_org_seq ON users(organization_id, seq);
CREATE INDEX users_org_external ON users(organization_id, external_id);
CREATE INDEX users_org_display ON users(organization_id, display_name_folded);
CREATE INDEX users_org_manager ON users(organization_id, manager_id);
CREATE INDEX users_org_role ON users(organization_id, effective_role, active);
CREATE INDEX users_account ON users(account_id);

-- Every simple value of a profile, so filters on any attribute run in SQL:
-- one row per (attribute, element, sub-attribute).
CREATE TABLE user_values (
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    attr TEXT NOT NULL,
    idx INTEGER NOT NULL,
    sub TEXT NOT NULL,
    value TEXT NOT NULL,
    folded TEXT NOT NULL
);
CREATE INDEX user_values_lookup ON user_values(attr, sub, folded, user_id);
CREATE INDEX user_values_exact ON user_values(attr, sub, value, user_id);
CREATE INDEX user_values_user ON user_values(user_id, attr, idx);

CREATE TABLE groups (
    seq BIGSERIAL PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    organization_id TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    display_name TEXT NOT NULL,
    display_name_folded TEXT NOT NULL,
    external_id TEXT,
    role TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    version BIGINT NOT NULL,
    CONSTRAINT groups_display_name_unique UNIQUE (organization_id, display_name_folded)
);
CREATE INDEX groups_org_seq ON groups(organization_id, seq);
CREATE INDEX groups_org_external ON groups(organization_id, external_id);

CREATE TABLE group_members (
    group_id TEXT NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    PRIMARY KEY (group_id, user_id)
);
CREATE INDEX group_members_user ON group_members(user_id);

CREATE TABLE api_keys (
    id TEXT PRIMARY KEY NOT NULL,
    organization_id TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    label TEXT NOT NULL,
    secret_hash TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    last_used_at BIGINT,
    revoked_at BIGINT
);
CREATE INDEX api_keys_org ON api_keys(organization_id);

-- Append-only; kept when resources go.
CREATE TABLE audit_log (
    seq BIGSERIAL PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    organization_id TEXT NOT NULL,
    at BIGINT NOT NULL,
    actor TEXT NOT NULL,
    resource TEXT NOT NULL,
    resource_id TEXT NOT NULL,
    operation TEXT NOT NULL,
    changes TEXT NOT NULL,
    note TEXT
);
CREATE INDEX audit_org_at ON audit_log(organization_id, at);

CREATE TABLE outbox (
    seq BIGSERIAL PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    organization_id TEXT NOT NULL,
    organization_name TEXT NOT NULL,
    recipient TEXT NOT NULL,
    recipient_name TEXT,
    added_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    sent_at BIGINT,
    last_error TEXT
);
CREATE INDEX outbox_due ON outbox(sent_at, next_attempt_at);
