-- +goose Up
-- Single sign-on. An identity is a provider's subject (OIDC "sub", SAML
-- NameID) linked to one user; it is what a returning user is recognised
-- by, whatever their email says now.
CREATE TABLE sso_identities (
    provider VARCHAR(20) NOT NULL,
    subject VARCHAR(255) NOT NULL,
    user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (provider, subject)
);
CREATE INDEX idx_sso_identities_user ON sso_identities(user_id);

-- A sign-in under way: the state sent to the provider (or the SAML
-- request id), with what the answer is checked against. binding is the
-- SHA-256 of the random value in the browser's cookie, so only the
-- browser that started the sign-in can finish it. A row is deleted when
-- it is used: state is single use.
CREATE TABLE sso_requests (
    id VARCHAR(100) PRIMARY KEY,
    provider VARCHAR(20) NOT NULL,
    binding VARCHAR(64) NOT NULL,
    nonce VARCHAR(100) NOT NULL,
    verifier VARCHAR(100) NOT NULL,
    next_path VARCHAR(1000) NOT NULL,
    expires_at TIMESTAMP NOT NULL
);
CREATE INDEX idx_sso_requests_expires ON sso_requests(expires_at);

-- SAML assertion ids already accepted, kept until the assertion expires,
-- so a captured assertion cannot be replayed.
CREATE TABLE sso_assertions (
    id VARCHAR(255) PRIMARY KEY,
    expires_at TIMESTAMP NOT NULL
);
CREATE INDEX idx_sso_assertions_expires ON sso_assertions(expires_at);

-- +goose Down
DROP TABLE sso_assertions;
DROP TABLE sso_requests;
DROP TABLE sso_identities;
