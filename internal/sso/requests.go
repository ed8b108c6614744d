package sso

import (
	"context"
	"crypto/subtle"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/rookery/rookery/internal/db"
)

// request is a sign-in under way, stored between the redirect to the
// provider and its answer.
type request struct {
	ID       string // OIDC state, or the SAML AuthnRequest id
	Provider string
	Binding  string // SHA-256 (hex) of the browser cookie's value
	Nonce    string
	Verifier string // PKCE code verifier
	Next     string
	Expires  time.Time
}

// requests keeps sign-ins under way and the SAML assertions already
// accepted in the database, so every replica can finish a sign-in any
// other started, and refuses an assertion any other accepted.
type requests struct {
	db  *db.DB
	now func() time.Time
}

var errNoRequest = errors.New("no such sign-in under way")

// put stores r, first removing the expired ones.
func (q *requests) put(ctx context.Context, r request) error {
	now := q.now().UTC()
	if _, err := q.db.ExecContext(ctx, q.db.Rebind(`DELETE FROM sso_requests WHERE expires_at < ?`), now); err != nil {
		return fmt.Errorf("purge sign-ins: %w", err)
	}
	_, err := q.db.ExecContext(ctx, q.db.Rebind(`INSERT INTO sso_requests (id, provider, binding, nonce, verifier, next_path, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)`),
		r.ID, r.Provider, r.Binding, r.Nonce, r.Verifier, r.Next, r.Expires.UTC().Truncate(time.Microsecond))
	if err != nil {
		return fmt.Errorf("store sign-in: %w", err)
	}
	return nil
}

// take removes and returns the sign-in id of provider, so it is used at
// most once, even by two callbacks racing. It answers errNoRequest for
// one that is unknown, already used, expired, or started by another
// browser (binding is the value of the answering browser's cookie).
func (q *requests) take(ctx context.Context, id, provider, binding string) (request, error) {
	if id == "" || len(id) > 100 {
		return request{}, errNoRequest
	}
	r := request{ID: id}
	err := q.db.QueryRowContext(ctx, q.db.Rebind(`SELECT provider, binding, nonce, verifier, next_path, expires_at FROM sso_requests WHERE id = ?`), id).
		Scan(&r.Provider, &r.Binding, &r.Nonce, &r.Verifier, &r.Next, &r.Expires)
	if errors.Is(err, sql.ErrNoRows) {
		return request{}, errNoRequest
	}
	if err != nil {
		return request{}, fmt.Errorf("read sign-in: %w", err)
	}
	res, err := q.db.ExecContext(ctx, q.db.Rebind(`DELETE FROM sso_requests WHERE id = ?`), id)
	if err != nil {
		return request{}, fmt.Errorf("use sign-in: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil || n != 1 {
		return request{}, errNoRequest // another answer took it first
	}
	if r.Provider != provider || !q.now().Before(r.Expires) ||
		subtle.ConstantTimeCompare([]byte(r.Binding), []byte(hashBinding(binding))) != 1 {
		return request{}, errNoRequest
	}
	return r, nil
}

// seen records an accepted assertion id until expires, and reports false
// when it was already recorded (a replay). Expired records are purged
// first.
func (q *requests) seen(ctx context.Context, id string, expires time.Time) (bool, error) {
	if _, err := q.db.ExecContext(ctx, q.db.Rebind(`DELETE FROM sso_assertions WHERE expires_at < ?`), q.now().UTC()); err != nil {
		return false, fmt.Errorf("purge assertions: %w", err)
	}
	_, err := q.db.ExecContext(ctx, q.db.Rebind(`INSERT INTO sso_assertions (id, expires_at) VALUES (?, ?)`), id, expires.UTC().Truncate(time.Microsecond))
	if db.IsUniqueViolation(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("record assertion: %w", err)
	}
	return true, nil
}
