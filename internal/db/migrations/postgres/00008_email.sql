-- +goose Up
-- The outbox of email: every message is written here in the transaction
-- that causes it and sent by a background worker with retries. Times are
-- Unix milliseconds, compared as numbers the same way on every database.
-- The body is sealed like the secrets (it may carry a one-time link).
CREATE TABLE email_outbox (
    id BIGSERIAL PRIMARY KEY,
    kind VARCHAR(30) NOT NULL,
    recipient VARCHAR(320) NOT NULL,
    subject VARCHAR(500) NOT NULL,
    body TEXT NOT NULL,
    message_id VARCHAR(255) NOT NULL,
    status VARCHAR(10) NOT NULL DEFAULT 'queued',
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    claimed_until BIGINT,
    last_attempt_at BIGINT,
    last_error VARCHAR(500),
    created_at BIGINT NOT NULL,
    sent_at BIGINT
);
CREATE INDEX idx_email_outbox_due ON email_outbox(status, next_attempt_at);

-- One-time links of password resets and invitations. Only the SHA-256 of
-- the token is kept: the database alone cannot be used to take over an
-- account.
CREATE TABLE email_tokens (
    token_hash CHAR(64) PRIMARY KEY,
    kind VARCHAR(20) NOT NULL,
    user_id BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT
);
CREATE INDEX idx_email_tokens_user ON email_tokens(user_id);

-- Licence expiry notices already queued: one per licence expiry date and
-- days-before mark (30, 7, 1), so each goes out once whichever replica
-- sees it first.
CREATE TABLE license_expiry_notices (
    expires_at BIGINT NOT NULL,
    days_before INTEGER NOT NULL,
    queued_at BIGINT NOT NULL,
    PRIMARY KEY (expires_at, days_before)
);

-- +goose Down
DROP TABLE license_expiry_notices;
DROP TABLE email_tokens;
DROP TABLE email_outbox;
