-- Access snapshots: one row per snapshot of an organization's users, their status and their
-- groups. `content` is the canonical encoding (JSON, users by id, groups by id) gzipped;
-- `content_hash` is the SHA-256 of the uncompressed encoding (the same directory gives the
-- same one), `hash` the SHA-256 of `previous_hash`, the metadata and the uncompressed content:
-- one chain per organization. `seq` counts 1, 2, 3… per organization, taken from the head row
-- inside the appending transaction, so two replicas never fork the chain; the head also keeps
-- the newest snapshot's time, which a scheduled snapshot checks in that same transaction.
-- `content` is a BLOB on SQLite (a BYTEA declaration has no text affinity there) and BYTEA on
-- PostgreSQL.
CREATE TABLE snapshots (
    org TEXT NOT NULL,
    seq BIGINT NOT NULL,
    taken_at_ms BIGINT NOT NULL,
    trigger_kind TEXT NOT NULL,
    taken_by TEXT NOT NULL,
    user_count BIGINT NOT NULL,
    group_count BIGINT NOT NULL,
    mirror_fetched_at_ms BIGINT,
    complete BIGINT NOT NULL,
    content_hash TEXT NOT NULL,
    previous_hash TEXT NOT NULL,
    hash TEXT NOT NULL,
    content_bytes BIGINT NOT NULL,
    stored_bytes BIGINT NOT NULL,
    content BYTEA NOT NULL,
    PRIMARY KEY (org, seq)
);
CREATE INDEX snapshots_taken ON snapshots (org, taken_at_ms);

CREATE TABLE snapshot_heads (
    org TEXT PRIMARY KEY,
    seq BIGINT NOT NULL,
    hash TEXT NOT NULL,
    taken_at_ms BIGINT NOT NULL
);
