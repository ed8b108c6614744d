-- +goose Up
-- Accounts can be disabled; API keys can expire.
ALTER TABLE users ADD COLUMN disabled BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE api_keys ADD COLUMN expires_at TIMESTAMP NULL;
CREATE INDEX idx_sessions_expires ON sessions(expires_at);

-- One row per limited resource. A transaction that checks a limit or an
-- invariant (the licence's user limit, one team, "never zero admins")
-- first locks its row, so concurrent writers take turns instead of each
-- counting the same rows. (SQLite needs no row lock: its write
-- transactions already run one at a time.)
CREATE TABLE app_locks (
    name VARCHAR(50) PRIMARY KEY
);
INSERT INTO app_locks (name) VALUES ('users');
INSERT INTO app_locks (name) VALUES ('teams');

-- +goose Down
DROP TABLE app_locks;
DROP INDEX idx_sessions_expires;
ALTER TABLE api_keys DROP COLUMN expires_at;
ALTER TABLE users DROP COLUMN disabled;
