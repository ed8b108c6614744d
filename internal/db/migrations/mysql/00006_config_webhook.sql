-- +goose Up
-- The durable outbox of configuration change events: one row per committed
-- change set, delivered to config_webhook_url with retries. Times are Unix
-- milliseconds, compared as numbers the same way on every database.
CREATE TABLE config_webhook_outbox (
    id BIGINT AUTO_INCREMENT PRIMARY KEY,
    -- The first audit record of the change set: a change set is queued once
    -- even when several replicas read the audit trail.
    first_audit_id BIGINT NOT NULL UNIQUE,
    change_id VARCHAR(100) NOT NULL,
    -- MEDIUMTEXT: a change set of many large values outgrows TEXT's 64 KiB.
    payload MEDIUMTEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    claimed_until BIGINT,
    delivered_at BIGINT,
    last_error VARCHAR(500),
    created_at BIGINT NOT NULL
);
CREATE INDEX idx_config_webhook_outbox_due ON config_webhook_outbox(delivered_at, next_attempt_at);

-- How far the audit trail has been turned into events. It starts at the
-- end of the trail: the changes made before the webhook existed are not sent.
CREATE TABLE config_webhook_cursor (
    id INTEGER PRIMARY KEY,
    last_audit_id BIGINT NOT NULL
);
INSERT INTO config_webhook_cursor (id, last_audit_id) SELECT 1, COALESCE(MAX(id), 0) FROM config_audit;

-- +goose Down
DROP TABLE config_webhook_cursor;
DROP TABLE config_webhook_outbox;
