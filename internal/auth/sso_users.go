package auth

import (
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/rookery/rookery/internal/db"
)

// ExternalIdentity is a user as an identity provider vouches for them at
// a single sign-on.
type ExternalIdentity struct {
	// Provider is MethodOIDC or MethodSAML.
	Provider string
	// Subject is the provider's stable id of the user (OIDC "sub", SAML
	// NameID).
	Subject string
	// Email is the verified address the provider gave.
	Email string
	// Role is the role the provider's claims map to; it is applied at
	// every sign-in. Empty means the provider stated no role (the role
	// claim or attribute is not configured, or absent from the answer):
	// a new account is viewer and an existing one keeps its role.
	Role Role
	// AutoCreate lets the sign-in create an account that does not exist
	// yet; without it only existing accounts may sign in.
	AutoCreate bool
}

// ErrNoAccount refuses a single sign-on of someone without an account
// when accounts are not created at first sign-in.
var ErrNoAccount = errors.New("there is no account for this address, and accounts are not created at single sign-on; ask an admin to create yours")

// ErrAdminLink refuses to link a password admin account to an identity
// that merely presents the same email: whoever controls an address at
// the provider would otherwise take over an admin of rookery.
var ErrAdminLink = errors.New("this address belongs to an admin account that signs in with a password, which single sign-on does not take over; sign in with the password")

// Accounts created by single sign-on get the bcrypt hash of a random
// secret nobody ever sees as their password hash: no password matches it,
// and checking one takes as long as for any account, so a sign-in attempt
// does not tell that the account signs in elsewhere.
var (
	noPasswordOnce sync.Once
	noPassword     string
	noPasswordErr  error
)

func ssoPasswordHash(cost int) (string, error) {
	noPasswordOnce.Do(func() {
		secret := make([]byte, 32)
		if _, err := rand.Read(secret); err != nil {
			noPasswordErr = err
			return
		}
		h, err := bcrypt.GenerateFromPassword(secret, cost)
		noPassword, noPasswordErr = string(h), err
	})
	return noPassword, noPasswordErr
}

// SignInExternal finds, links or creates the account of a user a provider
// vouched for, in one transaction under the users lock:
//   - a known (provider, subject) is that account, whatever its email now;
//   - otherwise an account with the same email is linked to the identity
//     (its sign-in method becomes the provider's), unless it is already
//     linked to another subject of that provider;
//   - otherwise, with AutoCreate, a new account is created, the licence's
//     user limit checked in the same transaction.
//
// An account that signs in with a password and is admin is never linked
// (ErrAdminLink): an email address the provider passes on is not enough
// to hand over an admin account.
//
// The role is set from id.Role at every sign-in, except that the last
// active admin is never demoted and an empty id.Role leaves an existing
// account's role alone. A disabled account answers ErrDisabled.
// The caller starts the session (Issue).
func (s *Service) SignInExternal(ctx context.Context, id ExternalIdentity) (User, error) {
	if id.Provider != MethodOIDC && id.Provider != MethodSAML {
		return User{}, fmt.Errorf("%w: unknown sign-in provider %q", ErrInvalid, id.Provider)
	}
	if id.Subject == "" || len(id.Subject) > 255 {
		return User{}, fmt.Errorf("%w: the provider sent no usable subject (1 to 255 characters)", ErrInvalid)
	}
	email, err := NormalizeEmail(id.Email)
	if err != nil {
		return User{}, fmt.Errorf("%w: the provider sent no usable email address", ErrInvalid)
	}
	// No role stated: a new account gets the least one, an existing
	// account keeps its own.
	role, stated := Viewer, id.Role != ""
	if stated {
		if role, err = ParseRole(string(id.Role)); err != nil {
			return User{}, err
		}
	}
	// Made before the transaction, which holds the users lock: bcrypt is
	// slow on purpose (once per process).
	hash, err := ssoPasswordHash(s.cost)
	if err != nil {
		return User{}, fmt.Errorf("hash: %w", err)
	}
	var out User
	var changed bool
	err = s.inUsersTx(ctx, func(tx *sql.Tx) error {
		changed = false
		now := s.now().UTC().Truncate(time.Microsecond)
		u, found, err := s.byIdentity(ctx, tx, id.Provider, id.Subject)
		if err != nil {
			return err
		}
		if !found {
			u, err = s.one(ctx, tx, `email = ?`, email)
			switch {
			case errors.Is(err, ErrNotFound):
				if !id.AutoCreate {
					return ErrNoAccount
				}
				if u, err = s.createExternal(ctx, tx, email, hash, role, id.Provider, now); err != nil {
					return err
				}
			case err != nil:
				return err
			case u.SignInMethod == MethodPassword && u.Role == Admin:
				return ErrAdminLink
			default:
				if err := s.linkIdentity(ctx, tx, u, id.Provider); err != nil {
					return err
				}
			}
			if _, err := tx.ExecContext(ctx, s.db.Rebind(`INSERT INTO sso_identities (provider, subject, user_id, created_at) VALUES (?, ?, ?, ?)`),
				id.Provider, id.Subject, u.ID, now); err != nil {
				return fmt.Errorf("%w: link identity: %v", ErrUnavailable, err)
			}
			u.SignInMethod = id.Provider
		}
		if u.Disabled {
			return ErrDisabled
		}
		if stated && role != u.Role {
			// The last active admin keeps the role: demoting them from a
			// claim would leave nobody to administer rookery.
			if err := s.keepAnAdmin(ctx, tx, u, role == Admin); err == nil {
				if _, err := tx.ExecContext(ctx, s.db.Rebind(`UPDATE users SET role = ?, updated_at = ? WHERE id = ?`), string(role), now, u.ID); err != nil {
					return fmt.Errorf("%w: update role: %v", ErrUnavailable, err)
				}
				// The new role applies at once: sessions with the old one end,
				// and a lower role loses the API keys made under the higher.
				if err := s.endSessions(ctx, tx, u.ID, ""); err != nil {
					return err
				}
				if roleRank(role) < roleRank(u.Role) {
					if err := s.revokeKeys(ctx, tx, u.ID); err != nil {
						return err
					}
				}
				u.Role, u.UpdatedAt, changed = role, now, true
			} else if !errors.Is(err, ErrInvalid) {
				return err
			}
		}
		out = u
		return nil
	})
	if err != nil {
		return User{}, err
	}
	if changed {
		s.forgetUser(out.ID)
	}
	return out, nil
}

// byIdentity finds the user linked to a provider's subject. A link whose
// user is gone (deleted where the database did not cascade) is removed
// and reported as not found.
func (s *Service) byIdentity(ctx context.Context, tx *sql.Tx, provider, subject string) (User, bool, error) {
	var userID int64
	err := tx.QueryRowContext(ctx, s.db.Rebind(`SELECT user_id FROM sso_identities WHERE provider = ? AND subject = ?`), provider, subject).Scan(&userID)
	if errors.Is(err, sql.ErrNoRows) {
		return User{}, false, nil
	}
	if err != nil {
		return User{}, false, fmt.Errorf("%w: read identity: %v", ErrUnavailable, err)
	}
	u, err := s.one(ctx, tx, `id = ?`, userID)
	if errors.Is(err, ErrNotFound) {
		if _, err := tx.ExecContext(ctx, s.db.Rebind(`DELETE FROM sso_identities WHERE provider = ? AND subject = ?`), provider, subject); err != nil {
			return User{}, false, fmt.Errorf("%w: remove stale identity: %v", ErrUnavailable, err)
		}
		return User{}, false, nil
	}
	if err != nil {
		return User{}, false, err
	}
	return u, true, nil
}

// linkIdentity makes an existing account sign in through provider. An
// account already linked to another subject of the same provider is
// refused: a second identity claiming its address is not the same person
// as far as rookery can tell.
func (s *Service) linkIdentity(ctx context.Context, tx *sql.Tx, u User, provider string) error {
	var n int
	if err := tx.QueryRowContext(ctx, s.db.Rebind(`SELECT COUNT(*) FROM sso_identities WHERE provider = ? AND user_id = ?`), provider, u.ID).Scan(&n); err != nil {
		return fmt.Errorf("%w: read identities: %v", ErrUnavailable, err)
	}
	if n > 0 {
		return fmt.Errorf("%w: the account %s is already linked to another identity at the %s provider; ask an admin", ErrInvalid, u.Email, strings.ToUpper(provider))
	}
	if _, err := tx.ExecContext(ctx, s.db.Rebind(`UPDATE users SET sign_in_method = ?, invited = ?, updated_at = ? WHERE id = ?`),
		provider, false, s.now().UTC().Truncate(time.Microsecond), u.ID); err != nil {
		return fmt.Errorf("%w: link account: %v", ErrUnavailable, err)
	}
	return nil
}

// createExternal inserts an account that signs in through provider and
// has no password, after the licence's user limit allows one more.
func (s *Service) createExternal(ctx context.Context, tx *sql.Tx, email, hash string, role Role, provider string, now time.Time) (User, error) {
	if s.CheckLimit != nil {
		n, err := s.countActive(ctx, tx, "")
		if err != nil {
			return User{}, err
		}
		if err := s.CheckLimit(ctx, n); err != nil {
			return User{}, err
		}
	}
	_, err := tx.ExecContext(ctx, s.db.Rebind(`INSERT INTO users (email, password_hash, role, disabled, created_at, updated_at, sign_in_method) VALUES (?, ?, ?, ?, ?, ?, ?)`),
		email, hash, string(role), false, now, now, provider)
	if db.IsUniqueViolation(err) {
		return User{}, ErrExists
	}
	if err != nil {
		return User{}, fmt.Errorf("%w: create user: %v", ErrUnavailable, err)
	}
	return s.one(ctx, tx, `email = ?`, email)
}
