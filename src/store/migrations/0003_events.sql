-- Directory events: one ordered log per organization. `seq` counts 1, 2, 3… per organization,
-- taken from the organization's head row inside the appending transaction, so events commit in
-- `seq` order and a reader resuming after `seq` never misses one that commits later.
-- `pruned_through`: the highest `seq` removed by retention (a resume before it is refused).
CREATE TABLE events (
    org TEXT NOT NULL,
    seq BIGINT NOT NULL,
    at_ms BIGINT NOT NULL,
    kind TEXT NOT NULL,
    object_kind TEXT NOT NULL,
    object_id TEXT NOT NULL,
    actor TEXT NOT NULL,
    data TEXT NOT NULL,
    PRIMARY KEY (org, seq)
);
CREATE INDEX events_at ON events (at_ms);

CREATE TABLE event_heads (
    org TEXT PRIMARY KEY,
    seq BIGINT NOT NULL,
    pruned_through BIGINT NOT NULL
);

-- Expiry warnings already emitted per grant: how many of `grants.warn_before`'s offsets
-- (largest first) its end has passed.
ALTER TABLE grants ADD COLUMN warned BIGINT NOT NULL DEFAULT 0;
