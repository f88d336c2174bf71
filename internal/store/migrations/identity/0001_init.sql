-- Keystone's model. Domains are projects with is_domain = TRUE whose
-- domain_id is the root marker, as in keystone, so names are unique per
-- domain with one constraint and the hierarchy is one table.
CREATE TABLE projects (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    domain_id   TEXT NOT NULL,
    parent_id   TEXT REFERENCES projects(id),
    is_domain   BOOLEAN NOT NULL DEFAULT FALSE,
    enabled     BOOLEAN NOT NULL DEFAULT TRUE,
    description TEXT NOT NULL DEFAULT '',
    extra       TEXT NOT NULL DEFAULT '{}',
    created_at  BIGINT NOT NULL,
    UNIQUE (domain_id, name)
);
CREATE INDEX projects_parent ON projects (parent_id);

CREATE TABLE project_tags (
    project_id TEXT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    tag        TEXT NOT NULL,
    PRIMARY KEY (project_id, tag)
);

CREATE TABLE users (
    id                  TEXT PRIMARY KEY,
    name                TEXT NOT NULL,
    domain_id           TEXT NOT NULL REFERENCES projects(id),
    enabled             BOOLEAN NOT NULL DEFAULT TRUE,
    default_project_id  TEXT,
    password_hash       TEXT NOT NULL DEFAULT '',
    password_created_at BIGINT NOT NULL DEFAULT 0,
    password_expires_at BIGINT NOT NULL DEFAULT 0,
    options             TEXT NOT NULL DEFAULT '{}',
    extra               TEXT NOT NULL DEFAULT '{}',
    description         TEXT NOT NULL DEFAULT '',
    failed_auth_count   INTEGER NOT NULL DEFAULT 0,
    failed_auth_at      BIGINT NOT NULL DEFAULT 0,
    -- tokens issued before this instant are invalid (password change,
    -- disable): revocation without a token table.
    tokens_valid_after  BIGINT NOT NULL DEFAULT 0,
    created_at          BIGINT NOT NULL,
    UNIQUE (domain_id, name)
);

CREATE TABLE groups_ (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    domain_id   TEXT NOT NULL REFERENCES projects(id),
    description TEXT NOT NULL DEFAULT '',
    extra       TEXT NOT NULL DEFAULT '{}',
    created_at  BIGINT NOT NULL,
    UNIQUE (domain_id, name)
);

CREATE TABLE user_groups (
    user_id  TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    group_id TEXT NOT NULL REFERENCES groups_(id) ON DELETE CASCADE,
    PRIMARY KEY (user_id, group_id)
);
CREATE INDEX user_groups_group ON user_groups (group_id);

-- domain_id is '' for global roles.
CREATE TABLE roles (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    domain_id   TEXT NOT NULL DEFAULT '',
    description TEXT NOT NULL DEFAULT '',
    options     TEXT NOT NULL DEFAULT '{}',
    extra       TEXT NOT NULL DEFAULT '{}',
    created_at  BIGINT NOT NULL,
    UNIQUE (domain_id, name)
);

CREATE TABLE implied_roles (
    prior_role_id   TEXT NOT NULL REFERENCES roles(id) ON DELETE CASCADE,
    implied_role_id TEXT NOT NULL REFERENCES roles(id) ON DELETE CASCADE,
    PRIMARY KEY (prior_role_id, implied_role_id)
);

-- type: UserProject, GroupProject, UserDomain, GroupDomain, UserSystem,
-- GroupSystem; target_id is 'system' for system assignments.
CREATE TABLE assignments (
    type      TEXT NOT NULL,
    actor_id  TEXT NOT NULL,
    target_id TEXT NOT NULL,
    role_id   TEXT NOT NULL REFERENCES roles(id) ON DELETE CASCADE,
    inherited BOOLEAN NOT NULL DEFAULT FALSE,
    PRIMARY KEY (type, actor_id, target_id, role_id, inherited)
);
CREATE INDEX assignments_actor ON assignments (actor_id);
CREATE INDEX assignments_target ON assignments (target_id);

CREATE TABLE regions (
    id               TEXT PRIMARY KEY,
    description      TEXT NOT NULL DEFAULT '',
    parent_region_id TEXT REFERENCES regions(id),
    extra            TEXT NOT NULL DEFAULT '{}'
);

CREATE TABLE services (
    id          TEXT PRIMARY KEY,
    type        TEXT NOT NULL,
    name        TEXT NOT NULL DEFAULT '',
    description TEXT NOT NULL DEFAULT '',
    enabled     BOOLEAN NOT NULL DEFAULT TRUE,
    extra       TEXT NOT NULL DEFAULT '{}'
);

CREATE TABLE endpoints (
    id         TEXT PRIMARY KEY,
    service_id TEXT NOT NULL REFERENCES services(id) ON DELETE CASCADE,
    interface  TEXT NOT NULL,
    region_id  TEXT REFERENCES regions(id),
    url        TEXT NOT NULL,
    enabled    BOOLEAN NOT NULL DEFAULT TRUE,
    extra      TEXT NOT NULL DEFAULT '{}'
);

CREATE TABLE application_credentials (
    id           TEXT PRIMARY KEY,
    name         TEXT NOT NULL,
    user_id      TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    project_id   TEXT NOT NULL,
    secret_hash  TEXT NOT NULL,
    description  TEXT NOT NULL DEFAULT '',
    expires_at   BIGINT NOT NULL DEFAULT 0,
    unrestricted BOOLEAN NOT NULL DEFAULT FALSE,
    roles        TEXT NOT NULL DEFAULT '[]',
    access_rules TEXT NOT NULL DEFAULT '[]',
    created_at   BIGINT NOT NULL,
    UNIQUE (user_id, name)
);

-- Fernet keys: idx 0 is the staged key, the highest idx the primary.
CREATE TABLE fernet_keys (
    idx        INTEGER PRIMARY KEY,
    key_b64    TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

-- Explicit revocations (DELETE /v3/auth/tokens): audit IDs, kept until the
-- longest-lived token they could match has expired.
CREATE TABLE revocation_events (
    audit_id   TEXT PRIMARY KEY,
    revoked_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX revocation_events_revoked ON revocation_events (revoked_at);
