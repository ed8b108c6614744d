package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"
)

// APIKeyPrefix starts every API key, so a token's kind shows at a glance
// and secret scanners can find leaked keys.
const APIKeyPrefix = "rk_"

// APIKey describes a key without its secret.
type APIKey struct {
	ID         int64      `json:"id"`
	UserID     int64      `json:"user_id"`
	Name       string     `json:"name"`
	Prefix     string     `json:"prefix"`
	CreatedAt  time.Time  `json:"created_at"`
	ExpiresAt  *time.Time `json:"expires_at"`
	LastUsedAt *time.Time `json:"last_used_at"`
	// Expired is true once ExpiresAt has passed: the key no longer works.
	Expired bool `json:"expired"`
}

// IsAPIKey reports whether a bearer token is an API key rather than a
// session token.
func IsAPIKey(token string) bool { return strings.HasPrefix(token, APIKeyPrefix) }

func hashKey(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// CreateAPIKey makes a key for a user, from one of their sessions, and
// returns it once; only its hash is stored. expires, when not zero, is
// when the key stops working; it must lie in the future. The key is
// written under the users lock and only while the session is live and the
// user enabled: a password change, disabling or deletion either comes
// after it (and revokes it) or before it (and the key is refused), so a
// key minted from a session being ended cannot outlive it.
func (s *Service) CreateAPIKey(ctx context.Context, userID int64, sessionID, name string, expires time.Time) (APIKey, string, error) {
	name = strings.TrimSpace(name)
	if name == "" || len(name) > 100 {
		return APIKey{}, "", fmt.Errorf("%w: the key name must be 1 to 100 characters", ErrInvalid)
	}
	var exp *time.Time
	if !expires.IsZero() {
		if !expires.After(s.now()) || expires.After(s.now().AddDate(10, 0, 0)) {
			return APIKey{}, "", fmt.Errorf("%w: expires_at must be in the future and at most ten years ahead", ErrInvalid)
		}
		t := expires.UTC().Truncate(time.Microsecond)
		exp = &t
	}
	b := make([]byte, 30)
	if _, err := rand.Read(b); err != nil {
		return APIKey{}, "", err
	}
	token := APIKeyPrefix + base64.RawURLEncoding.EncodeToString(b)
	now := s.now().UTC()
	k := APIKey{UserID: userID, Name: name, Prefix: token[:len(APIKeyPrefix)+6], CreatedAt: now.Truncate(time.Microsecond), ExpiresAt: exp}
	err := s.inUsersTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, s.db.Rebind(`INSERT INTO api_keys (user_id, name, prefix, key_hash, created_at, expires_at, revoked)
			SELECT s.user_id, ?, ?, ?, ?, ?, ? FROM sessions s JOIN users u ON u.id = s.user_id
			WHERE s.id = ? AND s.user_id = ? AND s.revoked = ? AND u.disabled = ? AND s.expires_at > ?`),
			k.Name, k.Prefix, hashKey(token), k.CreatedAt, exp, false, sessionID, userID, false, false, now)
		if err != nil {
			return fmt.Errorf("%w: %v", ErrUnavailable, err)
		}
		if n, err := res.RowsAffected(); err != nil || n != 1 {
			return ErrUnauthorized
		}
		if err := tx.QueryRowContext(ctx, s.db.Rebind(`SELECT id FROM api_keys WHERE key_hash = ?`), hashKey(token)).Scan(&k.ID); err != nil {
			return fmt.Errorf("%w: %v", ErrUnavailable, err)
		}
		return nil
	})
	if err != nil {
		return APIKey{}, "", err
	}
	return k, token, nil
}

// ListAPIKeys returns the keys of a user that are not revoked (expired
// ones included, marked), or of everyone when userID is 0.
func (s *Service) ListAPIKeys(ctx context.Context, userID int64) ([]APIKey, error) {
	q, args := `SELECT id, user_id, name, prefix, created_at, expires_at, last_used_at FROM api_keys WHERE revoked = ?`, []any{false}
	if userID != 0 {
		q, args = q+` AND user_id = ?`, append(args, userID)
	}
	rows, err := s.db.QueryContext(ctx, s.db.Rebind(q+` ORDER BY id`), args...)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	defer rows.Close()
	out := []APIKey{}
	for rows.Next() {
		var k APIKey
		var used, exp sql.NullTime
		if err := rows.Scan(&k.ID, &k.UserID, &k.Name, &k.Prefix, &k.CreatedAt, &exp, &used); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrUnavailable, err)
		}
		k.CreatedAt = k.CreatedAt.UTC()
		if exp.Valid {
			t := exp.Time.UTC()
			k.ExpiresAt, k.Expired = &t, !s.now().Before(t)
		}
		if used.Valid {
			t := used.Time.UTC()
			k.LastUsedAt = &t
		}
		out = append(out, k)
	}
	return out, rows.Err()
}

// RevokeAPIKey revokes a key; userID 0 lets an admin revoke anyone's.
func (s *Service) RevokeAPIKey(ctx context.Context, id, userID int64) error {
	q, args := `UPDATE api_keys SET revoked = ? WHERE id = ? AND revoked = ?`, []any{true, id, false}
	if userID != 0 {
		q, args = q+` AND user_id = ?`, append(args, userID)
	}
	res, err := s.db.ExecContext(ctx, s.db.Rebind(q), args...)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrKeyNotFound
	}
	return nil
}

// VerifyAPIKey authenticates an API key as its owner, with the owner's
// current role. Revoked and expired keys, and keys of disabled users, do
// not work.
func (s *Service) VerifyAPIKey(ctx context.Context, token string) (Principal, error) {
	var p Principal
	var id int64
	var role string
	now := s.now().UTC()
	err := s.db.QueryRowContext(ctx, s.db.Rebind(`SELECT k.id, u.id, u.email, u.role FROM api_keys k JOIN users u ON u.id = k.user_id
		WHERE k.key_hash = ? AND k.revoked = ? AND u.disabled = ? AND (k.expires_at IS NULL OR k.expires_at > ?)`),
		hashKey(token), false, false, now).Scan(&id, &p.UserID, &p.Email, &role)
	if errors.Is(err, sql.ErrNoRows) {
		return Principal{}, ErrUnauthorized
	}
	if err != nil {
		return Principal{}, fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	p.Role = Role(role)
	p.APIKeyID = id
	// Best effort: a failed timestamp update must not fail the request.
	_, _ = s.db.ExecContext(ctx, s.db.Rebind(`UPDATE api_keys SET last_used_at = ? WHERE id = ?`), now, id)
	return p, nil
}
