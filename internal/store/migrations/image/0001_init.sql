-- Glance's model. Rows are deleted with the image (glance soft-deletes;
-- nothing here needs the history). Custom properties and tags have their
-- own tables so listing can filter on them through indexes.
CREATE TABLE images (
    id               TEXT PRIMARY KEY,
    name             TEXT NOT NULL DEFAULT '',
    status           TEXT NOT NULL,
    visibility       TEXT NOT NULL,
    owner            TEXT NOT NULL,
    disk_format      TEXT NOT NULL DEFAULT '',
    container_format TEXT NOT NULL DEFAULT '',
    size             BIGINT,
    virtual_size     BIGINT,
    checksum         TEXT NOT NULL DEFAULT '',
    os_hash_algo     TEXT NOT NULL DEFAULT '',
    os_hash_value    TEXT NOT NULL DEFAULT '',
    min_disk         INTEGER NOT NULL DEFAULT 0,
    min_ram          INTEGER NOT NULL DEFAULT 0,
    protected        BOOLEAN NOT NULL DEFAULT FALSE,
    os_hidden        BOOLEAN NOT NULL DEFAULT FALSE,
    -- data put by PUT /stage, waiting for an import (JSON), and its size
    -- for the quota
    staged           TEXT NOT NULL DEFAULT '',
    staged_size      BIGINT NOT NULL DEFAULT 0,
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL
);
CREATE INDEX images_created ON images (created_at, id);
CREATE INDEX images_owner ON images (owner, created_at);
CREATE INDEX images_visibility ON images (visibility, created_at);
CREATE INDEX images_status ON images (status);

CREATE TABLE image_properties (
    image_id TEXT NOT NULL REFERENCES images(id) ON DELETE CASCADE,
    name     TEXT NOT NULL,
    value    TEXT NOT NULL,
    PRIMARY KEY (image_id, name)
);
CREATE INDEX image_properties_name_value ON image_properties (name, value);

CREATE TABLE image_tags (
    image_id TEXT NOT NULL REFERENCES images(id) ON DELETE CASCADE,
    tag      TEXT NOT NULL,
    PRIMARY KEY (image_id, tag)
);
CREATE INDEX image_tags_tag ON image_tags (tag);

CREATE TABLE image_members (
    image_id   TEXT NOT NULL REFERENCES images(id) ON DELETE CASCADE,
    member_id  TEXT NOT NULL,
    status     TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (image_id, member_id)
);
CREATE INDEX image_members_member ON image_members (member_id, status);

-- Tasks outlive their image, as in glance.
CREATE TABLE image_tasks (
    id         TEXT PRIMARY KEY,
    type       TEXT NOT NULL,
    status     TEXT NOT NULL,
    owner      TEXT NOT NULL,
    image_id   TEXT NOT NULL DEFAULT '',
    input      TEXT NOT NULL DEFAULT '{}',
    result     TEXT NOT NULL DEFAULT '{}',
    message    TEXT NOT NULL DEFAULT '',
    request_id TEXT NOT NULL DEFAULT '',
    user_id    TEXT NOT NULL DEFAULT '',
    expires_at BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX image_tasks_owner ON image_tasks (owner, created_at);
CREATE INDEX image_tasks_image ON image_tasks (image_id);
