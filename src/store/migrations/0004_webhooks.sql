-- Webhooks: a durable outbox of deliveries, one per (endpoint, event), filled from the event log
-- as far as each endpoint's cursor; endpoints a receiver disabled (410 Gone).
CREATE TABLE webhook_cursors (
    endpoint TEXT PRIMARY KEY,
    seq BIGINT NOT NULL
);

-- `state`: pending, delivered or failed (parked after the last retry, or 410). `id` sorts by
-- creation time. One delivery per endpoint and event, however many replicas fill the outbox.
CREATE TABLE webhook_deliveries (
    id TEXT PRIMARY KEY,
    endpoint TEXT NOT NULL,
    org TEXT NOT NULL,
    seq BIGINT NOT NULL,
    kind TEXT NOT NULL,
    body TEXT NOT NULL,
    state TEXT NOT NULL,
    attempts BIGINT NOT NULL,
    next_try_ms BIGINT NOT NULL,
    created_ms BIGINT NOT NULL,
    delivered_ms BIGINT,
    last_status BIGINT,
    last_error TEXT NOT NULL,
    lease_owner TEXT NOT NULL,
    lease_until_ms BIGINT NOT NULL
);
CREATE UNIQUE INDEX webhook_once ON webhook_deliveries (endpoint, org, seq);
CREATE INDEX webhook_due ON webhook_deliveries (state, next_try_ms);
CREATE INDEX webhook_org ON webhook_deliveries (org, id);

CREATE TABLE webhook_endpoints (
    endpoint TEXT PRIMARY KEY,
    disabled_ms BIGINT NOT NULL,
    reason TEXT NOT NULL
);
