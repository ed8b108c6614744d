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
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/rookery/rookery/internal/db"
)

// The kinds of one-time email token.
const (
	TokenReset      = "reset"
	TokenInvitation = "invitation"
)

// How long the links work.
const (
	ResetTokenTTL      = time.Hour
	InvitationTokenTTL = 72 * time.Hour
)

// ErrTokenInvalid refuses a reset or invitation link that was used, has
// expired or was never issued; the three are not told apart. The API
// answers it with TokenInvalidMessage.
var ErrTokenInvalid = errors.New("the link is not valid: it was already used, has expired, or was never issued")

// TokenInvalidMessage is the sentence a person is shown for ErrTokenInvalid.
const TokenInvalidMessage = "This link is not valid: it was already used, has expired, or was never issued."

// QueueFunc writes the message that carries token to u, inside the
// transaction that issues the token (the email outbox), so the token and
// its message are stored together or not at all.
type QueueFunc func(tx *sql.Tx, u User, token string, expires time.Time) error

// TokenInfo describes a valid link without consuming it.
type TokenInfo struct {
	Email     string    `json:"email"`
	Kind      string    `json:"kind"`
	ExpiresAt time.Time `json:"expires_at"`
}

// CreateInvited adds a user without a password of their own, marked
// invited, and issues an invitation token that queue writes into the
// outbox in the same transaction. The licence's user limit applies as in
// Create.
func (s *Service) CreateInvited(ctx context.Context, email string, role Role, queue QueueFunc) (User, error) {
	email, err := NormalizeEmail(email)
	if err != nil {
		return User{}, err
	}
	if role, err = ParseRole(string(role)); err != nil {
		return User{}, err
	}
	// The account gets the bcrypt hash of a secret nobody sees, as single
	// sign-on accounts do: a password sign-in against it takes a full
	// compare like any other, so its timing does not tell that an
	// invitation is pending. The invited flag is what keeps it locked.
	hash, err := ssoPasswordHash(s.cost)
	if err != nil {
		return User{}, fmt.Errorf("hash placeholder password: %w", err)
	}
	now := s.now().UTC().Truncate(time.Microsecond)
	var out User
	err = s.inUsersTx(ctx, func(tx *sql.Tx) error {
		if s.CheckLimit != nil {
			n, err := s.countActive(ctx, tx, "")
			if err != nil {
				return err
			}
			if err := s.CheckLimit(ctx, n); err != nil {
				return err
			}
		}
		_, err := tx.ExecContext(ctx, s.db.Rebind(`INSERT INTO users (email, password_hash, role, disabled, created_at, updated_at, sign_in_method, invited)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)`), email, hash, string(role), false, now, now, MethodPassword, true)
		if db.IsUniqueViolation(err) {
			return ErrExists
		}
		if err != nil {
			return fmt.Errorf("%w: create user: %v", ErrUnavailable, err)
		}
		u, err := s.one(ctx, tx, `email = ?`, email)
		if err != nil {
			return err
		}
		out = u
		return s.issueToken(ctx, tx, u, TokenInvitation, InvitationTokenTTL, queue)
	})
	return out, err
}

// IssueReset issues a password reset token to the account email names and
// has queue write its message, when that account may reset its password:
// it exists, is enabled and signs in with a password. Otherwise it
// answers ErrNotFound and writes nothing. Callers must not tell the two
// apart to whoever asked (no account enumeration).
func (s *Service) IssueReset(ctx context.Context, email string, queue QueueFunc) error {
	norm, err := NormalizeEmail(email)
	if err != nil {
		return ErrNotFound
	}
	return s.inTx(ctx, func(tx *sql.Tx) error {
		u, err := s.one(ctx, tx, `email = ?`, norm)
		if err != nil {
			return err
		}
		if u.Disabled || u.SignInMethod != MethodPassword {
			return ErrNotFound
		}
		return s.issueToken(ctx, tx, u, TokenReset, ResetTokenTTL, queue)
	})
}

// IssueResetFor is an admin's "email a reset link" for user id. It
// refuses, with the reason, accounts a reset cannot help.
func (s *Service) IssueResetFor(ctx context.Context, id int64, queue QueueFunc) (User, error) {
	var out User
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		u, err := s.one(ctx, tx, `id = ?`, id)
		if err != nil {
			return err
		}
		switch {
		case u.Disabled:
			return fmt.Errorf("%w: %s is disabled; enable the account first", ErrInvalid, u.Email)
		case u.SignInMethod != MethodPassword:
			return fmt.Errorf("%w: %s signs in through single sign-on (%s); rookery keeps no password for it", ErrInvalid, u.Email, u.SignInMethod)
		case u.Invited:
			return fmt.Errorf("%w: %s has not accepted the invitation yet; resend the invitation instead", ErrInvalid, u.Email)
		}
		out = u
		return s.issueToken(ctx, tx, u, TokenReset, ResetTokenTTL, queue)
	})
	return out, err
}

// ResendInvitation issues a new invitation token to an invited user id;
// the earlier links stop working.
func (s *Service) ResendInvitation(ctx context.Context, id int64, queue QueueFunc) (User, error) {
	var out User
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		u, err := s.one(ctx, tx, `id = ?`, id)
		if err != nil {
			return err
		}
		switch {
		case !u.Invited:
			return fmt.Errorf("%w: %s has already chosen a password; send a password reset instead", ErrInvalid, u.Email)
		case u.Disabled:
			return fmt.Errorf("%w: %s is disabled; enable the account first", ErrInvalid, u.Email)
		}
		out = u
		return s.issueToken(ctx, tx, u, TokenInvitation, InvitationTokenTTL, queue)
	})
	return out, err
}

// LookupToken tells whose a valid token is, without consuming it.
func (s *Service) LookupToken(ctx context.Context, token string) (TokenInfo, error) {
	var info TokenInfo
	var exp int64
	var disabled bool
	var method string
	err := s.db.QueryRowContext(ctx, s.db.Rebind(`SELECT u.email, t.kind, t.expires_at, u.disabled, u.sign_in_method
		FROM email_tokens t JOIN users u ON u.id = t.user_id WHERE t.token_hash = ? AND t.used_at IS NULL AND t.expires_at > ?`),
		hashToken(token), s.now().UnixMilli()).Scan(&info.Email, &info.Kind, &exp, &disabled, &method)
	if errors.Is(err, sql.ErrNoRows) || (err == nil && (disabled || method != MethodPassword)) {
		return TokenInfo{}, ErrTokenInvalid
	}
	if err != nil {
		return TokenInfo{}, fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	info.ExpiresAt = time.UnixMilli(exp).UTC()
	return info, nil
}

// ResetWithToken consumes a reset or invitation token and sets the
// password of its user, in one transaction: the token is marked used only
// if it was unused and unexpired, so of many concurrent uses exactly one
// succeeds. The account stops being invited, its other links stop
// working, all its sessions end and its API keys are revoked. The
// password follows the usual rules.
func (s *Service) ResetWithToken(ctx context.Context, token, password string) (User, error) {
	if err := CheckPassword(password); err != nil {
		return User{}, err
	}
	// A cheap look first: hashing takes a quarter of a second, not to be
	// spent on links that cannot work.
	if _, err := s.LookupToken(ctx, token); err != nil {
		return User{}, err
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(password), s.cost)
	if err != nil {
		return User{}, fmt.Errorf("hash password: %w", err)
	}
	var out User
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		now := s.now()
		res, err := tx.ExecContext(ctx, s.db.Rebind(`UPDATE email_tokens SET used_at = ? WHERE token_hash = ? AND used_at IS NULL AND expires_at > ?`),
			now.UnixMilli(), hashToken(token), now.UnixMilli())
		if err != nil {
			return fmt.Errorf("%w: use token: %v", ErrUnavailable, err)
		}
		if n, err := res.RowsAffected(); err != nil || n != 1 {
			return ErrTokenInvalid
		}
		var userID int64
		if err := tx.QueryRowContext(ctx, s.db.Rebind(`SELECT user_id FROM email_tokens WHERE token_hash = ?`), hashToken(token)).Scan(&userID); err != nil {
			return fmt.Errorf("%w: read token: %v", ErrUnavailable, err)
		}
		u, err := s.one(ctx, tx, `id = ?`, userID)
		if errors.Is(err, ErrNotFound) {
			return ErrTokenInvalid
		}
		if err != nil {
			return err
		}
		if u.Disabled || u.SignInMethod != MethodPassword {
			return ErrTokenInvalid
		}
		at := now.UTC().Truncate(time.Microsecond)
		if _, err := tx.ExecContext(ctx, s.db.Rebind(`UPDATE users SET password_hash = ?, invited = ?, updated_at = ? WHERE id = ?`),
			string(hash), false, at, userID); err != nil {
			return fmt.Errorf("%w: set password: %v", ErrUnavailable, err)
		}
		if err := s.retireTokens(ctx, tx, userID); err != nil {
			return err
		}
		if err := s.endSessions(ctx, tx, userID, ""); err != nil {
			return err
		}
		if err := s.revokeKeys(ctx, tx, userID); err != nil {
			return err
		}
		out = u
		out.Invited, out.UpdatedAt = false, at
		return nil
	})
	if err != nil {
		return User{}, err
	}
	s.forgetUser(out.ID)
	return out, nil
}

// issueToken stores a new token of kind for u (the earlier unused ones of
// that kind stop working) and hands it to queue, in tx.
func (s *Service) issueToken(ctx context.Context, tx *sql.Tx, u User, kind string, ttl time.Duration, queue QueueFunc) error {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return fmt.Errorf("generate token: %w", err)
	}
	token := base64.RawURLEncoding.EncodeToString(b)
	now := s.now()
	exp := now.Add(ttl)
	if _, err := tx.ExecContext(ctx, s.db.Rebind(`UPDATE email_tokens SET used_at = ? WHERE user_id = ? AND kind = ? AND used_at IS NULL`),
		now.UnixMilli(), u.ID, kind); err != nil {
		return fmt.Errorf("%w: retire earlier tokens: %v", ErrUnavailable, err)
	}
	if _, err := tx.ExecContext(ctx, s.db.Rebind(`INSERT INTO email_tokens (token_hash, kind, user_id, created_at, expires_at) VALUES (?, ?, ?, ?, ?)`),
		hashToken(token), kind, u.ID, now.UnixMilli(), exp.UnixMilli()); err != nil {
		return fmt.Errorf("%w: store token: %v", ErrUnavailable, err)
	}
	if queue == nil {
		return nil
	}
	return queue(tx, u, token, exp.UTC())
}

// retireTokens makes every unused reset and invitation link of a user stop
// working, in tx: any way of setting the password does this, so a link
// mailed before the change cannot undo it.
func (s *Service) retireTokens(ctx context.Context, tx *sql.Tx, userID int64) error {
	if _, err := tx.ExecContext(ctx, s.db.Rebind(`UPDATE email_tokens SET used_at = ? WHERE user_id = ? AND used_at IS NULL`),
		s.now().UnixMilli(), userID); err != nil {
		return fmt.Errorf("%w: retire email links: %v", ErrUnavailable, err)
	}
	return nil
}

// PurgeEmailTokens deletes the tokens that expired more than a day ago
// (used or not) and returns how many; a lookup refuses them either way.
func (s *Service) PurgeEmailTokens(ctx context.Context) (int64, error) {
	res, err := s.db.ExecContext(ctx, s.db.Rebind(`DELETE FROM email_tokens WHERE expires_at < ?`), s.now().Add(-24*time.Hour).UnixMilli())
	if err != nil {
		return 0, fmt.Errorf("%w: purge email tokens: %v", ErrUnavailable, err)
	}
	n, _ := res.RowsAffected()
	return n, nil
}

// inTx runs fn in a writing transaction.
func (s *Service) inTx(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	defer tx.Rollback()
	if err := fn(tx); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	return nil
}

// hashToken is what is stored of a token: its SHA-256. The token has 256
// random bits, so a fast hash is enough.
func hashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}
