-- Access review campaigns: one row per review, one row per item to decide (a user's
-- membership of a group, as the review's frozen snapshot recorded it). `id` sorts by creation
-- time (hex milliseconds, then random). An item's `decision` is the reviewer's (NULL: not
-- reviewed); `final_decision` is what completion settled on (the decision, or the review's
-- default for an item nobody decided); the `apply_*` columns record what applying it did.
CREATE TABLE reviews (
    id TEXT PRIMARY KEY,
    org TEXT NOT NULL,
    name TEXT NOT NULL,
    state TEXT NOT NULL,
    snapshot_seq BIGINT NOT NULL,
    created_by TEXT NOT NULL,
    created_at_ms BIGINT NOT NULL,
    due_at_ms BIGINT,
    reviewers TEXT NOT NULL,
    group_ids TEXT NOT NULL,
    default_decision TEXT NOT NULL,
    justification_required TEXT NOT NULL,
    lookback_ms BIGINT NOT NULL,
    item_count BIGINT NOT NULL,
    completed_at_ms BIGINT,
    completed_by TEXT,
    apply_revocations BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX reviews_by_org ON reviews (org, id);

CREATE TABLE review_items (
    review_id TEXT NOT NULL,
    seq BIGINT NOT NULL,
    user_key TEXT NOT NULL,
    user_email TEXT NOT NULL,
    user_name TEXT NOT NULL,
    user_status TEXT NOT NULL,
    group_id TEXT NOT NULL,
    group_name TEXT NOT NULL,
    recommendation TEXT NOT NULL,
    recommendation_reason TEXT NOT NULL,
    decision TEXT,
    justification TEXT NOT NULL DEFAULT '',
    decided_by TEXT,
    decided_at_ms BIGINT,
    deactivate BIGINT NOT NULL DEFAULT 0,
    final_decision TEXT,
    apply_result TEXT,
    apply_status BIGINT,
    applied_at_ms BIGINT,
    applied_by TEXT,
    request_id TEXT,
    PRIMARY KEY (review_id, seq)
);
CREATE INDEX review_items_by_group ON review_items (review_id, group_id, seq);
