-- Time-bound group access: one row per grant, and the history of each grant's states.

-- `state` is pending, active, expired, revoked or failed. `standing` is 1 when the user was a
-- member already (expiry then removes nothing). `end_as` is the state an ending takes (revoked
-- once a revocation was asked for). `lag_ms`: from the due time to the upstream's answer to
-- the removal. A due grant is taken by one replica at a time through its lease.
CREATE TABLE grants (
    id TEXT PRIMARY KEY,
    org TEXT NOT NULL,
    user_key TEXT NOT NULL,
    user_email TEXT NOT NULL,
    group_id TEXT NOT NULL,
    granted_by TEXT NOT NULL,
    reason TEXT NOT NULL,
    granted_ms BIGINT NOT NULL,
    expires_ms BIGINT NOT NULL,
    state TEXT NOT NULL,
    standing BIGINT NOT NULL,
    end_as TEXT NOT NULL,
    ended_ms BIGINT,
    lag_ms BIGINT,
    attempts BIGINT NOT NULL,
    next_try_ms BIGINT NOT NULL,
    last_error TEXT NOT NULL,
    lease_owner TEXT NOT NULL,
    lease_until_ms BIGINT NOT NULL
);
CREATE INDEX grants_due ON grants (state, expires_ms);
CREATE INDEX grants_member ON grants (org, user_key, group_id, state);
CREATE INDEX grants_org_id ON grants (org, id);

CREATE TABLE grant_events (
    grant_id TEXT NOT NULL,
    n BIGINT NOT NULL,
    at_ms BIGINT NOT NULL,
    state TEXT NOT NULL,
    note TEXT NOT NULL,
    PRIMARY KEY (grant_id, n)
);
