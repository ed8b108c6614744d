-- +goose Up
-- How each account signs in (password, oidc, saml), when it last did, and
-- whether it still waits for its invitation to be accepted (no password
-- chosen yet).
ALTER TABLE users ADD COLUMN sign_in_method VARCHAR(20) NOT NULL DEFAULT 'password';
ALTER TABLE users ADD COLUMN last_sign_in_at DATETIME(6) NULL;
ALTER TABLE users ADD COLUMN invited BOOLEAN NOT NULL DEFAULT FALSE;

-- +goose Down
ALTER TABLE users DROP COLUMN invited;
ALTER TABLE users DROP COLUMN last_sign_in_at;
ALTER TABLE users DROP COLUMN sign_in_method;
