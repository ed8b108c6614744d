-- +goose Up
-- Emails are stored lower-cased and compared byte for byte. A collation
-- that ignores accents (the server's default, utf8mb4_general_ci) would let
-- an address with an accent sign in to the account without it while the
-- sign-in throttle counts it as another account.
ALTER TABLE users MODIFY email VARCHAR(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL;

-- +goose Down
ALTER TABLE users MODIFY email VARCHAR(255) NOT NULL;
