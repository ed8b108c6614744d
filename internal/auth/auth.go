// Package auth keeps rookery's users, signs them in and checks who is
// calling: bcrypt password hashes, signed access tokens backed by a
// sessions table, roles, and a throttle on failed sign-ins.
package auth

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"net/mail"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/crypto/bcrypt"

	"github.com/rookery/rookery/internal/db"
)

// Role is what a user may do.
type Role string

// The roles, from most to least powerful.
const (
	Admin      Role = "admin"
	Maintainer Role = "maintainer"
	Viewer     Role = "viewer"
)

// ParseRole accepts the three role names.
func ParseRole(s string) (Role, error) {
	switch r := Role(strings.ToLower(strings.TrimSpace(s))); r {
	case Admin, Maintainer, Viewer:
		return r, nil
	}
	return "", fmt.Errorf("%w: role must be admin, maintainer or viewer", ErrInvalid)
}

// Errors callers map to HTTP codes.
var (
	ErrInvalid      = errors.New("invalid input")
	ErrExists       = errors.New("a user with that email already exists")
	ErrNotFound     = errors.New("user not found")
	ErrKeyNotFound  = errors.New("API key not found")
	ErrCredentials  = errors.New("email or password is wrong")
	ErrUnauthorized = errors.New("not signed in or the session has ended")
	ErrUnavailable  = errors.New("user database unavailable")
)

// User is a stored user without the hash.
type User struct {
	ID        int64     `json:"id"`
	Email     string    `json:"email"`
	Role      Role      `json:"role"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Principal is who is calling, as established from a token.
type Principal struct {
	UserID    int64
	Email     string
	Role      Role
	SessionID string
	ExpiresAt time.Time
	// APIKeyID is set when the caller used an API key instead of a session.
	APIKeyID int64
}

// Options tune the service; zero values are sensible.
type Options struct {
	TokenTTL   time.Duration // default 1h
	BcryptCost int           // default bcrypt.DefaultCost+2
	Now        func() time.Time
}

// Service is the user store plus token issuing and checking.
type Service struct {
	db     *db.DB
	key    []byte
	ttl    time.Duration
	cost   int
	now    func() time.Time
	parser *jwt.Parser

	// BeforeCreate, when set, may refuse a new user (licence limits).
	BeforeCreate func(ctx context.Context, existing int) error

	mu    sync.Mutex
	known map[string]knownSession
}

// knownSession caches a session check so that most requests cost no query
// and a database outage does not sign everybody out.
type knownSession struct {
	p       Principal
	checked time.Time
}

const sessionRecheck = 5 * time.Second

// sessionCheckTimeout bounds the session lookup of one request.
const sessionCheckTimeout = 2 * time.Second

// New builds the service. signingKey signs access tokens; every replica
// must share it (see LoadSigningKey).
func New(d *db.DB, signingKey []byte, o Options) *Service {
	if o.TokenTTL <= 0 {
		o.TokenTTL = time.Hour
	}
	if o.BcryptCost == 0 {
		o.BcryptCost = bcrypt.DefaultCost + 2
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Service{db: d, key: signingKey, ttl: o.TokenTTL, cost: o.BcryptCost, now: o.Now,
		parser: jwt.NewParser(jwt.WithValidMethods([]string{"HS256"}), jwt.WithIssuer("rookery"), jwt.WithExpirationRequired(),
			jwt.WithTimeFunc(o.Now)),
		known: map[string]knownSession{}}
}

// Sealer protects the signing key at rest; config.Sealer satisfies it.
type Sealer interface {
	Seal(name, plaintext string) (string, error)
	Open(name, stored string) (string, error)
}

// LoadSigningKey returns the shared token signing key, creating it on first
// use. Replicas racing to create it all end up with the one that won.
func LoadSigningKey(ctx context.Context, d *db.DB, sealer Sealer) ([]byte, error) {
	const name = "jwt_signing_key"
	read := func() (string, error) {
		var v string
		err := d.QueryRowContext(ctx, d.Rebind(`SELECT secret_value FROM app_secrets WHERE name = ?`), name).Scan(&v)
		return v, err
	}
	stored, err := read()
	if errors.Is(err, sql.ErrNoRows) {
		k := make([]byte, 32)
		if _, err := rand.Read(k); err != nil {
			return nil, fmt.Errorf("generate signing key: %w", err)
		}
		sealed, serr := sealer.Seal(name, base64.StdEncoding.EncodeToString(k))
		if serr != nil {
			return nil, serr
		}
		_, serr = d.ExecContext(ctx, d.Rebind(`INSERT INTO app_secrets (name, secret_value, created_at) VALUES (?, ?, ?)`), name, sealed, time.Now().UTC())
		if serr != nil && !db.IsUniqueViolation(serr) {
			return nil, fmt.Errorf("store signing key: %w", serr)
		}
		stored, err = read()
	}
	if err != nil {
		return nil, fmt.Errorf("read signing key: %w", err)
	}
	plain, err := sealer.Open(name, stored)
	if err != nil {
		return nil, fmt.Errorf("signing key: %w", err)
	}
	return base64.StdEncoding.DecodeString(plain)
}

// NormalizeEmail validates and lower-cases an address.
func NormalizeEmail(s string) (string, error) {
	s = strings.ToLower(strings.TrimSpace(s))
	a, err := mail.ParseAddress(s)
	if err != nil || a.Address != s || len(s) > 255 {
		return "", fmt.Errorf("%w: email must be an address such as ops@example.com", ErrInvalid)
	}
	return s, nil
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
	if limited && s.BeforeCreate != nil {
		n, err := s.Count(ctx)
		if err != nil {
			return User{}, err
		}
		if err := s.BeforeCreate(ctx, n); err != nil {
			return User{}, err
		}
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(password), s.cost)
	if err != nil {
		return User{}, fmt.Errorf("hash password: %w", err)
	}
	now := s.now().UTC().Truncate(time.Microsecond)
	_, err = s.db.ExecContext(ctx, s.db.Rebind(`INSERT INTO users (email, password_hash, role, created_at, updated_at) VALUES (?, ?, ?, ?, ?)`),
		email, string(hash), string(role), now, now)
	if db.IsUniqueViolation(err) {
		return User{}, ErrExists
	}
	if err != nil {
		return User{}, fmt.Errorf("%w: create user: %v", ErrUnavailable, err)
	}
	return s.ByEmail(ctx, email)
}

const userColumns = `id, email, role, created_at, updated_at`

func scanUser(r interface{ Scan(...any) error }) (User, error) {
	var u User
	var role string
	err := r.Scan(&u.ID, &u.Email, &role, &u.CreatedAt, &u.UpdatedAt)
	u.Role = Role(role)
	u.CreatedAt, u.UpdatedAt = u.CreatedAt.UTC(), u.UpdatedAt.UTC()
	return u, err
}

// ByEmail finds a user.
func (s *Service) ByEmail(ctx context.Context, email string) (User, error) {
	u, err := scanUser(s.db.QueryRowContext(ctx, s.db.Rebind(`SELECT `+userColumns+` FROM users WHERE email = ?`), strings.ToLower(strings.TrimSpace(email))))
	if errors.Is(err, sql.ErrNoRows) {
		return u, ErrNotFound
	}
	if err != nil {
		return u, fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	return u, nil
}

// ByID finds a user.
func (s *Service) ByID(ctx context.Context, id int64) (User, error) {
	u, err := scanUser(s.db.QueryRowContext(ctx, s.db.Rebind(`SELECT `+userColumns+` FROM users WHERE id = ?`), id))
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

// Count returns the number of users.
func (s *Service) Count(ctx context.Context) (int, error) {
	var n int
	if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM users`).Scan(&n); err != nil {
		return 0, fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	return n, nil
}

// SetPassword replaces a user's password and ends their sessions.
func (s *Service) SetPassword(ctx context.Context, email, password string) error {
	if err := CheckPassword(password); err != nil {
		return err
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(password), s.cost)
	if err != nil {
		return fmt.Errorf("hash password: %w", err)
	}
	return s.updateUser(ctx, email, `password_hash = ?`, string(hash))
}

// SetRole changes a user's role and ends their sessions, so the new role
// applies at once. The last admin cannot be demoted.
func (s *Service) SetRole(ctx context.Context, email string, role Role) error {
	if _, err := ParseRole(string(role)); err != nil {
		return err
	}
	u, err := s.ByEmail(ctx, email)
	if err != nil {
		return err
	}
	if u.Role == Admin && role != Admin {
		var admins int
		if err := s.db.QueryRowContext(ctx, s.db.Rebind(`SELECT COUNT(*) FROM users WHERE role = ?`), string(Admin)).Scan(&admins); err != nil {
			return fmt.Errorf("%w: %v", ErrUnavailable, err)
		}
		if admins <= 1 {
			return fmt.Errorf("%w: %s is the last admin; make another admin first", ErrInvalid, u.Email)
		}
	}
	return s.updateUser(ctx, email, `role = ?`, string(role))
}

func (s *Service) updateUser(ctx context.Context, email, set string, arg any) error {
	u, err := s.ByEmail(ctx, email)
	if err != nil {
		return err
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, s.db.Rebind(`UPDATE users SET `+set+`, updated_at = ? WHERE id = ?`), arg, s.now().UTC(), u.ID); err != nil {
		return fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	if _, err := tx.ExecContext(ctx, s.db.Rebind(`UPDATE sessions SET revoked = ? WHERE user_id = ?`), true, u.ID); err != nil {
		return fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	s.forgetUser(u.ID)
	return nil
}

// Authenticate checks an email and password. The time taken does not tell
// whether the account exists.
func (s *Service) Authenticate(ctx context.Context, email, password string) (User, error) {
	var u User
	var hash, role string
	err := s.db.QueryRowContext(ctx, s.db.Rebind(`SELECT id, email, role, created_at, updated_at, password_hash FROM users WHERE email = ?`),
		strings.ToLower(strings.TrimSpace(email))).Scan(&u.ID, &u.Email, &role, &u.CreatedAt, &u.UpdatedAt, &hash)
	if errors.Is(err, sql.ErrNoRows) {
		_ = bcrypt.CompareHashAndPassword(dummyHash(s.cost), []byte(password))
		return User{}, ErrCredentials
	}
	if err != nil {
		return User{}, fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	if bcrypt.CompareHashAndPassword([]byte(hash), []byte(password)) != nil {
		return User{}, ErrCredentials
	}
	u.Role = Role(role)
	return u, nil
}

var (
	dummyOnce sync.Once
	dummy     []byte
)

func dummyHash(cost int) []byte {
	dummyOnce.Do(func() { dummy, _ = bcrypt.GenerateFromPassword([]byte("rookery-timing-equaliser"), cost) })
	return dummy
}

type claims struct {
	Email string `json:"email"`
	Role  Role   `json:"role"`
	jwt.RegisteredClaims
}

// Issue starts a session for u and returns its signed access token.
func (s *Service) Issue(ctx context.Context, u User) (string, time.Time, error) {
	id := make([]byte, 18)
	if _, err := rand.Read(id); err != nil {
		return "", time.Time{}, err
	}
	sid := base64.RawURLEncoding.EncodeToString(id)
	now := s.now().UTC().Truncate(time.Second)
	exp := now.Add(s.ttl)
	if _, err := s.db.ExecContext(ctx, s.db.Rebind(`INSERT INTO sessions (id, user_id, created_at, expires_at, revoked) VALUES (?, ?, ?, ?, ?)`),
		sid, u.ID, now, exp, false); err != nil {
		return "", time.Time{}, fmt.Errorf("%w: start session: %v", ErrUnavailable, err)
	}
	tok := jwt.NewWithClaims(jwt.SigningMethodHS256, claims{Email: u.Email, Role: u.Role, RegisteredClaims: jwt.RegisteredClaims{
		Issuer: "rookery", Subject: fmt.Sprint(u.ID), ID: sid, IssuedAt: jwt.NewNumericDate(now), ExpiresAt: jwt.NewNumericDate(exp)}})
	signed, err := tok.SignedString(s.key)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("sign token: %w", err)
	}
	return signed, exp, nil
}

// Verify checks a token and its session. When the database cannot be
// reached it trusts the signed claims until they expire, so an outage does
// not sign everybody out; revocations then apply once it is back.
func (s *Service) Verify(ctx context.Context, token string) (Principal, error) {
	var c claims
	if _, err := s.parser.ParseWithClaims(token, &c, func(*jwt.Token) (any, error) { return s.key, nil }); err != nil {
		return Principal{}, ErrUnauthorized
	}
	now := s.now()
	s.mu.Lock()
	k, ok := s.known[c.ID]
	s.mu.Unlock()
	if ok && now.Sub(k.checked) < sessionRecheck {
		return k.p, nil
	}
	var p Principal
	var revoked bool
	var role string
	// A database that stops answering (a partition, a frozen server) must
	// not hold every request until the driver gives up: past this bound the
	// signed claims are trusted, as for any other database error.
	qctx, cancel := context.WithTimeout(ctx, sessionCheckTimeout)
	err := s.db.QueryRowContext(qctx, s.db.Rebind(`SELECT s.user_id, u.email, u.role, s.expires_at, s.revoked
		FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.id = ?`), c.ID).Scan(&p.UserID, &p.Email, &role, &p.ExpiresAt, &revoked)
	cancel()
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return Principal{}, ErrUnauthorized
	case err != nil:
		if ok {
			return k.p, nil
		}
		var id int64
		fmt.Sscan(c.Subject, &id)
		return Principal{UserID: id, Email: c.Email, Role: c.Role, SessionID: c.ID, ExpiresAt: c.ExpiresAt.Time}, nil
	case revoked || !now.Before(p.ExpiresAt):
		s.mu.Lock()
		delete(s.known, c.ID)
		s.mu.Unlock()
		return Principal{}, ErrUnauthorized
	}
	p.Role, p.SessionID = Role(role), c.ID
	s.mu.Lock()
	if len(s.known) > 10000 { // bound memory; entries are cheap to rebuild
		clear(s.known)
	}
	s.known[c.ID] = knownSession{p: p, checked: now}
	s.mu.Unlock()
	return p, nil
}

// Revoke ends a session.
func (s *Service) Revoke(ctx context.Context, sessionID string) error {
	s.mu.Lock()
	delete(s.known, sessionID)
	s.mu.Unlock()
	if _, err := s.db.ExecContext(ctx, s.db.Rebind(`UPDATE sessions SET revoked = ? WHERE id = ?`), true, sessionID); err != nil {
		return fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	return nil
}

func (s *Service) forgetUser(id int64) {
	s.mu.Lock()
	for k, v := range s.known {
		if v.p.UserID == id {
			delete(s.known, k)
		}
	}
	s.mu.Unlock()
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

// ResealSigningKey re-encrypts the stored signing key after a key rotation.
func ResealSigningKey(ctx context.Context, d *db.DB, from, to Sealer) error {
	const name = "jwt_signing_key"
	var stored string
	err := d.QueryRowContext(ctx, d.Rebind(`SELECT secret_value FROM app_secrets WHERE name = ?`), name).Scan(&stored)
	if errors.Is(err, sql.ErrNoRows) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read signing key: %w", err)
	}
	plain, err := from.Open(name, stored)
	if err != nil {
		return fmt.Errorf("signing key: %w", err)
	}
	sealed, err := to.Seal(name, plain)
	if err != nil {
		return err
	}
	if _, err := d.ExecContext(ctx, d.Rebind(`UPDATE app_secrets SET secret_value = ? WHERE name = ?`), sealed, name); err != nil {
		return fmt.Errorf("store signing key: %w", err)
	}
	return nil
}
