package auth

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/rookery/rookery/internal/db"
)

// Change is an edit of one user; nil fields stay as they are. Update
// checks every field before it writes any.
type Change struct {
	Role     *Role
	Password *string
	Disabled *bool
}

// Create adds a user.
func (s *Service) Create(ctx context.Context, email, password string, role Role) (User, error) {
	return s.create(ctx, email, password, role, true)
}

func (s *Service) create(ctx context.Context, email, password string, role Role, limited bool) (User, error) {
	email, err := NormalizeEmail(email)
	if err != nil {
		return User{}, err
	}
	if _, err := ParseRole(string(role)); err != nil {
		return User{}, err
	}
	if err := CheckPassword(password); err != nil {
		return User{}, err
	}
	// Hash before the transaction: bcrypt takes a quarter of a second and
	// the transaction holds the users lock.
	hash, err := bcrypt.GenerateFromPassword([]byte(password), s.cost)
	if err != nil {
		return User{}, fmt.Errorf("hash password: %w", err)
	}
	now := s.now().UTC().Truncate(time.Microsecond)
	err = s.inUsersTx(ctx, func(tx *sql.Tx) error {
		if limited && s.CheckLimit != nil {
			n, err := s.countActive(ctx, tx, "")
			if err != nil {
				return err
			}
			if err := s.CheckLimit(ctx, n); err != nil {
				return err
			}
		}
		_, err := tx.ExecContext(ctx, s.db.Rebind(`INSERT INTO users (email, password_hash, role, disabled, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)`),
			email, string(hash), string(role), false, now, now)
		if db.IsUniqueViolation(err) {
			return ErrExists
		}
		if err != nil {
			return fmt.Errorf("%w: create user: %v", ErrUnavailable, err)
		}
		return nil
	})
	if err != nil {
		return User{}, err
	}
	return s.ByEmail(ctx, email)
}

// inUsersTx runs fn in a transaction that holds the users lock, so the
// checks fn makes over many users (the licence limit, "at least one
// admin") cannot be raced by another writer.
func (s *Service) inUsersTx(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	defer tx.Rollback()
	if err := s.db.Lock(ctx, tx, db.LockUsers); err != nil {
		return fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	if err := fn(tx); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	return nil
}

// countActive counts the users that are not disabled, optionally only
// those of one role.
func (s *Service) countActive(ctx context.Context, tx *sql.Tx, role Role) (int, error) {
	q, args := `SELECT COUNT(*) FROM users WHERE disabled = ?`, []any{false}
	if role != "" {
		q, args = q+` AND role = ?`, append(args, string(role))
	}
	var n int
	if err := tx.QueryRowContext(ctx, s.db.Rebind(q), args...).Scan(&n); err != nil {
		return 0, fmt.Errorf("%w: count users: %v", ErrUnavailable, err)
	}
	return n, nil
}

const userColumns = `id, email, role, disabled, created_at, updated_at, sign_in_method, last_sign_in_at, invited`

func scanUser(r interface{ Scan(...any) error }) (User, error) {
	var u User
	var role string
	var last sql.NullTime
	err := r.Scan(&u.ID, &u.Email, &role, &u.Disabled, &u.CreatedAt, &u.UpdatedAt, &u.SignInMethod, &last, &u.Invited)
	finishUser(&u, role, last)
	return u, err
}

// ByEmail finds a user.
func (s *Service) ByEmail(ctx context.Context, email string) (User, error) {
	return s.one(ctx, s.db.DB, `email = ?`, strings.ToLower(strings.TrimSpace(email)))
}

// ByID finds a user.
func (s *Service) ByID(ctx context.Context, id int64) (User, error) {
	return s.one(ctx, s.db.DB, `id = ?`, id)
}

type queryRower interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func (s *Service) one(ctx context.Context, q queryRower, where string, arg any) (User, error) {
	u, err := scanUser(q.QueryRowContext(ctx, s.db.Rebind(`SELECT `+userColumns+` FROM users WHERE `+where), arg))
	if errors.Is(err, sql.ErrNoRows) {
		return u, ErrNotFound
	}
	if err != nil {
		return u, fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	return u, nil
}

// List returns every user ordered by id.
func (s *Service) List(ctx context.Context) ([]User, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+userColumns+` FROM users ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	defer rows.Close()
	var out []User
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrUnavailable, err)
		}
		out = append(out, u)
	}
	return out, rows.Err()
}

// Count returns the number of users, disabled ones included.
func (s *Service) Count(ctx context.Context) (int, error) {
	var n int
	if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM users`).Scan(&n); err != nil {
		return 0, fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	return n, nil
}

// SetPassword replaces a user's password, ends their sessions, revokes
// their API keys and retires their unused reset and invitation links.
func (s *Service) SetPassword(ctx context.Context, email, password string) error {
	u, err := s.ByEmail(ctx, email)
	if err != nil {
		return err
	}
	_, err = s.Update(ctx, u.ID, Change{Password: &password})
	return err
}

// SetRole changes a user's role and ends their sessions, so the new role
// applies at once. The last active admin cannot be demoted.
func (s *Service) SetRole(ctx context.Context, email string, role Role) error {
	u, err := s.ByEmail(ctx, email)
	if err != nil {
		return err
	}
	_, err = s.Update(ctx, u.ID, Change{Role: &role})
	return err
}

// SetDisabled disables or enables a user.
func (s *Service) SetDisabled(ctx context.Context, email string, disabled bool) error {
	u, err := s.ByEmail(ctx, email)
	if err != nil {
		return err
	}
	_, err = s.Update(ctx, u.ID, Change{Disabled: &disabled})
	return err
}

// Update applies ch to user id: every field is checked first, then all are
// written in one transaction, or none. Any change ends the user's
// sessions, so it applies at once. A new password, disabling and a lower
// role also revoke the user's API keys; a new password also retires the
// user's unused reset and invitation links. The change is refused when it
// would leave no active admin, or when enabling the user would exceed the
// licence's user limit.
func (s *Service) Update(ctx context.Context, id int64, ch Change) (User, error) {
	if ch.Role == nil && ch.Password == nil && ch.Disabled == nil {
		return User{}, fmt.Errorf("%w: nothing to change: send role, password or disabled", ErrInvalid)
	}
	if ch.Role != nil {
		r, err := ParseRole(string(*ch.Role))
		if err != nil {
			return User{}, err
		}
		ch.Role = &r
	}
	var hash string
	if ch.Password != nil {
		if err := CheckPassword(*ch.Password); err != nil {
			return User{}, err
		}
		h, err := bcrypt.GenerateFromPassword([]byte(*ch.Password), s.cost)
		if err != nil {
			return User{}, fmt.Errorf("hash password: %w", err)
		}
		hash = string(h)
	}
	var out User
	err := s.inUsersTx(ctx, func(tx *sql.Tx) error {
		u, err := s.one(ctx, tx, `id = ?`, id)
		if err != nil {
			return err
		}
		role, disabled := u.Role, u.Disabled
		if ch.Role != nil {
			role = *ch.Role
		}
		if ch.Disabled != nil {
			disabled = *ch.Disabled
		}
		if err := s.keepAnAdmin(ctx, tx, u, role == Admin && !disabled); err != nil {
			return err
		}
		if u.Disabled && !disabled && s.CheckLimit != nil {
			n, err := s.countActive(ctx, tx, "")
			if err != nil {
				return err
			}
			if err := s.CheckLimit(ctx, n); err != nil {
				return err
			}
		}
		now := s.now().UTC().Truncate(time.Microsecond)
		set, args := `role = ?, disabled = ?, updated_at = ?`, []any{string(role), disabled, now}
		if hash != "" {
			// A password set by an admin answers an invitation too.
			set, args = set+`, password_hash = ?, invited = ?`, append(args, hash, false)
		}
		if _, err := tx.ExecContext(ctx, s.db.Rebind(`UPDATE users SET `+set+` WHERE id = ?`), append(args, id)...); err != nil {
			return fmt.Errorf("%w: update user: %v", ErrUnavailable, err)
		}
		if hash != "" {
			if err := s.retireTokens(ctx, tx, id); err != nil {
				return err
			}
		}
		if err := s.endSessions(ctx, tx, id, ""); err != nil {
			return err
		}
		if hash != "" || (disabled && !u.Disabled) || roleRank(role) < roleRank(u.Role) {
			if err := s.revokeKeys(ctx, tx, id); err != nil {
				return err
			}
		}
		out = u
		out.Role, out.Disabled, out.UpdatedAt = role, disabled, now
		out.Invited = u.Invited && hash == ""
		return nil
	})
	if err != nil {
		return User{}, err
	}
	s.forgetUser(id)
	return out, nil
}

// keepAnAdmin refuses a change after which u is no longer an active admin
// when u is the last active admin. It runs under the users lock.
func (s *Service) keepAnAdmin(ctx context.Context, tx *sql.Tx, u User, stillAdmin bool) error {
	if u.Role != Admin || u.Disabled || stillAdmin {
		return nil
	}
	n, err := s.countActive(ctx, tx, Admin)
	if err != nil {
		return err
	}
	if n <= 1 {
		return fmt.Errorf("%w: %s is the last admin (no other admin is active); make another user admin first", ErrInvalid, u.Email)
	}
	return nil
}

// Delete removes a user with their sessions, API keys and team
// memberships. The last active admin cannot be deleted. Audit records
// keep the email, which they hold as text.
func (s *Service) Delete(ctx context.Context, id int64) (User, error) {
	var out User
	err := s.inUsersTx(ctx, func(tx *sql.Tx) error {
		u, err := s.one(ctx, tx, `id = ?`, id)
		if err != nil {
			return err
		}
		if err := s.keepAnAdmin(ctx, tx, u, false); err != nil {
			return err
		}
		// Explicit deletes rather than ON DELETE CASCADE alone: MySQL
		// ignores a REFERENCES clause written on the column.
		for _, q := range []string{`DELETE FROM sessions WHERE user_id = ?`, `DELETE FROM api_keys WHERE user_id = ?`,
			`DELETE FROM team_members WHERE user_id = ?`, `DELETE FROM users WHERE id = ?`} {
			if _, err := tx.ExecContext(ctx, s.db.Rebind(q), id); err != nil {
				return fmt.Errorf("%w: delete user: %v", ErrUnavailable, err)
			}
		}
		out = u
		return nil
	})
	if err != nil {
		return User{}, err
	}
	s.forgetUser(id)
	return out, nil
}

// ChangeOwnPassword replaces the password of the signed-in user after
// checking the current one. It ends the user's other sessions (keeping
// keepSession, the one making the change), revokes their API keys and
// retires their unused reset and invitation links.
func (s *Service) ChangeOwnPassword(ctx context.Context, id int64, keepSession, current, next string) error {
	if current == next {
		return fmt.Errorf("%w: the new password must differ from the current one", ErrInvalid)
	}
	if err := CheckPassword(next); err != nil {
		return err
	}
	var hash string
	var disabled bool
	err := s.db.QueryRowContext(ctx, s.db.Rebind(`SELECT password_hash, disabled FROM users WHERE id = ?`), id).Scan(&hash, &disabled)
	if errors.Is(err, sql.ErrNoRows) || disabled {
		return ErrUnauthorized
	}
	if err != nil {
		return fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	if bcrypt.CompareHashAndPassword([]byte(hash), []byte(current)) != nil {
		return fmt.Errorf("%w: the current password is wrong", ErrInvalid)
	}
	h, err := bcrypt.GenerateFromPassword([]byte(next), s.cost)
	if err != nil {
		return fmt.Errorf("hash password: %w", err)
	}
	err = s.inUsersTx(ctx, func(tx *sql.Tx) error {
		// Only if the hash is still the one checked: two changes racing
		// with the same current password must not both win.
		res, err := tx.ExecContext(ctx, s.db.Rebind(`UPDATE users SET password_hash = ?, updated_at = ? WHERE id = ? AND password_hash = ?`),
			string(h), s.now().UTC().Truncate(time.Microsecond), id, hash)
		if err != nil {
			return fmt.Errorf("%w: update password: %v", ErrUnavailable, err)
		}
		if n, err := res.RowsAffected(); err == nil && n != 1 {
			return fmt.Errorf("%w: the password was changed meanwhile; sign in again", ErrInvalid)
		}
		if err := s.retireTokens(ctx, tx, id); err != nil {
			return err
		}
		if err := s.endSessions(ctx, tx, id, keepSession); err != nil {
			return err
		}
		return s.revokeKeys(ctx, tx, id)
	})
	if err != nil {
		return err
	}
	s.forgetUser(id)
	return nil
}

// endSessions revokes every session of a user but keep.
func (s *Service) endSessions(ctx context.Context, tx *sql.Tx, userID int64, keep string) error {
	if _, err := tx.ExecContext(ctx, s.db.Rebind(`UPDATE sessions SET revoked = ? WHERE user_id = ? AND id <> ?`), true, userID, keep); err != nil {
		return fmt.Errorf("%w: end sessions: %v", ErrUnavailable, err)
	}
	return nil
}

func (s *Service) revokeKeys(ctx context.Context, tx *sql.Tx, userID int64) error {
	if _, err := tx.ExecContext(ctx, s.db.Rebind(`UPDATE api_keys SET revoked = ? WHERE user_id = ? AND revoked = ?`), true, userID, false); err != nil {
		return fmt.Errorf("%w: revoke API keys: %v", ErrUnavailable, err)
	}
	return nil
}

// PurgeSessions deletes sessions that have expired or were revoked, and
// returns how many. Revoked ones are refused the same way once deleted.
func (s *Service) PurgeSessions(ctx context.Context) (int64, error) {
	res, err := s.db.ExecContext(ctx, s.db.Rebind(`DELETE FROM sessions WHERE expires_at < ? OR revoked = ?`), s.now().UTC(), true)
	if err != nil {
		return 0, fmt.Errorf("%w: purge sessions: %v", ErrUnavailable, err)
	}
	n, _ := res.RowsAffected()
	return n, nil
}

// Authenticate checks an email and password. The time taken does not tell
// whether the account exists. A disabled account answers ErrDisabled, and
// only to the right password.
func (s *Service) Authenticate(ctx context.Context, email, password string) (User, error) {
	var hash string
	u, err := scanUserHash(s.db.QueryRowContext(ctx, s.db.Rebind(`SELECT `+userColumns+`, password_hash FROM users WHERE email = ?`),
		strings.ToLower(strings.TrimSpace(email))), &hash)
	if errors.Is(err, sql.ErrNoRows) {
		_ = bcrypt.CompareHashAndPassword(dummyHash(s.cost), []byte(password))
		return User{}, ErrCredentials
	}
	if err != nil {
		return User{}, fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	if _, err := bcrypt.Cost([]byte(hash)); err != nil {
		// Not a bcrypt hash (an account invited before invited accounts
		// got a real one): bcrypt would refuse it at once, so compare
		// against the dummy to take the same time as any other refusal.
		_ = bcrypt.CompareHashAndPassword(dummyHash(s.cost), []byte(password))
		return User{}, ErrCredentials
	}
	if bcrypt.CompareHashAndPassword([]byte(hash), []byte(password)) != nil {
		return User{}, ErrCredentials
	}
	if u.Invited {
		// An invited account signs in only once it has chosen a password
		// through its invitation (or an admin set one).
		return User{}, ErrCredentials
	}
	if u.Disabled {
		return User{}, ErrDisabled
	}
	return u, nil
}

func scanUserHash(r *sql.Row, hash *string) (User, error) {
	var u User
	var role string
	var last sql.NullTime
	err := r.Scan(&u.ID, &u.Email, &role, &u.Disabled, &u.CreatedAt, &u.UpdatedAt, &u.SignInMethod, &last, &u.Invited, hash)
	finishUser(&u, role, last)
	return u, err
}

func finishUser(u *User, role string, last sql.NullTime) {
	u.Role = Role(role)
	u.CreatedAt, u.UpdatedAt = u.CreatedAt.UTC(), u.UpdatedAt.UTC()
	if last.Valid {
		t := last.Time.UTC()
		u.LastSignInAt = &t
	}
}

var (
	dummyOnce sync.Once
	dummy     []byte
)

func dummyHash(cost int) []byte {
	dummyOnce.Do(func() { dummy, _ = bcrypt.GenerateFromPassword([]byte("rookery-timing-equaliser"), cost) })
	return dummy
}

// EnsureFirstAdmin creates the first admin when there are no users. With
// no password given it generates one and returns it, to be shown once.
func (s *Service) EnsureFirstAdmin(ctx context.Context, email, password string) (created bool, generated string, err error) {
	n, err := s.Count(ctx)
	if err != nil || n > 0 {
		return false, "", err
	}
	if email == "" {
		email = "admin@localhost.local"
	}
	if password == "" {
		b := make([]byte, 18)
		if _, err := rand.Read(b); err != nil {
			return false, "", err
		}
		password = base64.RawURLEncoding.EncodeToString(b)
		generated = password
	}
	// The first admin is never refused by a licence limit: without it
	// nobody could sign in to fix the licence.
	_, err = s.create(ctx, email, password, Admin, false)
	if errors.Is(err, ErrExists) {
		return false, "", nil // another replica won the race
	}
	if err != nil {
		return false, "", fmt.Errorf("create first admin: %w", err)
	}
	return true, generated, nil
}

// roleRank orders roles so "lower role" is one comparison.
func roleRank(r Role) int {
	switch r {
	case Admin:
		return 3
	case Maintainer:
		return 2
	case Viewer:
		return 1
	}
	return 0
}
