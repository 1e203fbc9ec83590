-- One set of migrations for SQLite and PostgreSQL: portable types only (BIGINT, TEXT), no
-- auto-increment (the store assigns sequence numbers itself), times as Unix milliseconds.

-- The audit log's head: the last sequence number and hash, and the anchor left by pruning
-- (the hash of the last pruned row, which the oldest kept row's prev_hash must equal).
CREATE TABLE audit_head (
    id BIGINT PRIMARY KEY,
    seq BIGINT NOT NULL,
    hash TEXT NOT NULL,
    pruned_through BIGINT NOT NULL,
    anchor TEXT NOT NULL
);
INSERT INTO audit_head (id, seq, hash, pruned_through, anchor) VALUES
    (1, 0, '0000000000000000000000000000000000000000000000000000000000000000', 0,
     '0000000000000000000000000000000000000000000000000000000000000000');

CREATE TABLE audit_log (
    seq BIGINT PRIMARY KEY,
    at_ms BIGINT NOT NULL,
    request_id TEXT NOT NULL,
    actor TEXT NOT NULL,
    role TEXT NOT NULL,
    org TEXT NOT NULL,
    action TEXT NOT NULL,
    targets TEXT NOT NULL,
    input TEXT NOT NULL,
    outcome TEXT NOT NULL,
    error_code TEXT NOT NULL,
    calls TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);
CREATE INDEX audit_log_org_seq ON audit_log (org, seq);
CREATE INDEX audit_log_at ON audit_log (at_ms);

-- Write intents: recorded before a write is queued, settled after. Those with an idempotency
-- key are its record (unique per scope and key); those without one make the audit complete.
CREATE TABLE write_intents (
    id TEXT PRIMARY KEY,
    principal TEXT NOT NULL,
    role TEXT NOT NULL,
    orgs TEXT NOT NULL,
    mutation TEXT NOT NULL,
    idem_key TEXT,
    fingerprint TEXT NOT NULL,
    state TEXT NOT NULL,
    owner TEXT NOT NULL,
    request_id TEXT NOT NULL,
    targets TEXT NOT NULL,
    result TEXT,
    created_ms BIGINT NOT NULL,
    updated_ms BIGINT NOT NULL,
    expires_ms BIGINT NOT NULL
);
CREATE UNIQUE INDEX write_intents_scope_key ON write_intents (principal, orgs, mutation, idem_key);
CREATE INDEX write_intents_state ON write_intents (state);
CREATE INDEX write_intents_expires ON write_intents (expires_ms);

-- Invitations this gateway sent that are still open, per organization.
CREATE TABLE open_invites (
    org TEXT NOT NULL,
    user_key TEXT NOT NULL,
    created_ms BIGINT NOT NULL,
    PRIMARY KEY (org, user_key)
);
