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
	"log/slog"
	"net/mail"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/crypto/bcrypt"

	"github.com/rookery/rookery/config"
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
	ErrDisabled     = errors.New("this account is disabled; ask an admin to enable it")
)

// User is a stored user without the hash.
type User struct {
	ID        int64     `json:"id"`
	Email     string    `json:"email"`
	Role      Role      `json:"role"`
	Disabled  bool      `json:"disabled"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
	// SignInMethod is how the account signs in: MethodPassword, MethodOIDC
	// or MethodSAML.
	SignInMethod string `json:"sign_in_method"`
	// LastSignInAt is when a session was last started for the account;
	// nil when it never signed in.
	LastSignInAt *time.Time `json:"last_sign_in_at"`
	// Invited is true while the account waits for its invitation to be
	// accepted: it has no password of its own yet.
	Invited bool `json:"invited"`
}

// The ways an account signs in.
const (
	MethodPassword = "password"
	MethodOIDC     = "oidc"
	MethodSAML     = "saml"
)

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

	// CheckLimit, when set, may refuse a change that adds an active user
	// (a new user, or a disabled one enabled again): it is called inside
	// the writing transaction, after the users lock is held, with the
	// number of active users before the change (licence limits).
	CheckLimit func(ctx context.Context, active int) error

	// cacheHits and cacheMisses count session checks answered from known
	// and those that had to ask the database (cache.hits/cache.misses).
	cacheHits, cacheMisses atomic.Uint64

	mu    sync.Mutex
	known map[string]knownSession
	// signed remembers tokens whose signature and claims were checked, so
	// a client sending the same token again costs no parse and no HMAC.
	// Only the expiry changes with time; a session's revocation is still
	// checked through known.
	signed map[string]signedToken
	// epoch counts forgets: a session check that started before one must
	// not cache what it read, which may predate a revocation.
	epoch uint64
}

// signedToken is what checking a token's signature and claims gave.
type signedToken struct {
	sessionID string
	expires   time.Time
}

// knownSession caches a session check so that most requests cost no query
// and a database outage does not sign everybody out.
type knownSession struct {
	p       Principal
	checked time.Time
}

const sessionRecheck = 5 * time.Second

// outageTrust is how long after its last successful check a session keeps
// working while the database cannot be reached.
const outageTrust = time.Minute

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
		known: map[string]knownSession{}, signed: map[string]signedToken{}}
}

// Sealer protects the signing key at rest; config.Sealer satisfies it.
type Sealer interface {
	Seal(name, plaintext string) (string, error)
	Open(name, stored string) (string, error)
	Knows(keyID string) bool
}

const signingKeyName = "jwt_signing_key"

// LoadSigningKey returns the shared token signing key, creating it on first
// use. Replicas racing to create it all end up with the one that won. A
// stored key that was sealed with one of the sealer's keys but no longer
// opens (a damaged or tampered row) is replaced by a new one, with an
// error in the log: every session ends, but the instance keeps working
// and can be repaired. A key sealed under a key the sealer does not hold
// means the process was started with the wrong CONFIG_ENCRYPTION_KEY, and
// is an error: replacing it would lock out the replicas that hold the
// right one.
func LoadSigningKey(ctx context.Context, d *db.DB, sealer Sealer, log *slog.Logger) ([]byte, error) {
	read := func() (string, error) {
		var v string
		err := d.QueryRowContext(ctx, d.Rebind(`SELECT secret_value FROM app_secrets WHERE name = ?`), signingKeyName).Scan(&v)
		return v, err
	}
	stored, err := read()
	if errors.Is(err, sql.ErrNoRows) {
		sealed, serr := newSealedSigningKey(sealer)
		if serr != nil {
			return nil, serr
		}
		_, serr = d.ExecContext(ctx, d.Rebind(`INSERT INTO app_secrets (name, secret_value, created_at) VALUES (?, ?, ?)`), signingKeyName, sealed, time.Now().UTC())
		if serr != nil && !db.IsUniqueViolation(serr) {
			return nil, fmt.Errorf("store signing key: %w", serr)
		}
		stored, err = read()
	}
	if err != nil {
		return nil, fmt.Errorf("read signing key: %w", err)
	}
	plain, err := sealer.Open(signingKeyName, stored)
	if err != nil {
		if id := config.SealedKeyID(stored); validKeyID(id) && !sealer.Knows(id) {
			return nil, fmt.Errorf("signing key: %w", err)
		}
		log.Error("the stored token signing key cannot be decrypted although it was sealed with a configured key: the row is damaged; replacing it with a new key, so everyone signs in again",
			"error", err.Error())
		sealed, serr := newSealedSigningKey(sealer)
		if serr != nil {
			return nil, serr
		}
		// Only the damaged row is replaced: a replica that got there first
		// has already stored a good one, which the re-read below opens.
		if _, serr := d.ExecContext(ctx, d.Rebind(`UPDATE app_secrets SET secret_value = ? WHERE name = ? AND secret_value = ?`),
			sealed, signingKeyName, stored); serr != nil {
			return nil, fmt.Errorf("replace damaged signing key: %w", serr)
		}
		if stored, err = read(); err != nil {
			return nil, fmt.Errorf("read signing key: %w", err)
		}
		if plain, err = sealer.Open(signingKeyName, stored); err != nil {
			return nil, fmt.Errorf("signing key: %w", err)
		}
	}
	return base64.StdEncoding.DecodeString(plain)
}

func newSealedSigningKey(sealer Sealer) (string, error) {
	k := make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		return "", fmt.Errorf("generate signing key: %w", err)
	}
	return sealer.Seal(signingKeyName, base64.StdEncoding.EncodeToString(k))
}

// validKeyID reports whether id has the shape of a key id (config.KeyID:
// 16 hex digits), so an unknown one names a key rather than damage.
func validKeyID(id string) bool {
	if len(id) != 16 {
		return false
	}
	for _, c := range id {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
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
	if _, err := s.db.ExecContext(ctx, s.db.Rebind(`UPDATE users SET last_sign_in_at = ? WHERE id = ?`), now, u.ID); err != nil {
		return "", time.Time{}, fmt.Errorf("%w: record sign-in: %v", ErrUnavailable, err)
	}
	tok := jwt.NewWithClaims(jwt.SigningMethodHS256, claims{Email: u.Email, Role: u.Role, RegisteredClaims: jwt.RegisteredClaims{
		Issuer: "rookery", Subject: fmt.Sprint(u.ID), ID: sid, IssuedAt: jwt.NewNumericDate(now), ExpiresAt: jwt.NewNumericDate(exp)}})
	signed, err := tok.SignedString(s.key)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("sign token: %w", err)
	}
	// The session was just written: it counts as verified now.
	s.remember(Principal{UserID: u.ID, Email: u.Email, Role: u.Role, SessionID: sid, ExpiresAt: exp}, s.now())
	return signed, exp, nil
}

// Verify checks a token and its session. When the database cannot be
// reached, a session this process verified within the last minute keeps
// working on what was verified then (so an outage does not sign everybody
// out); any other token answers ErrUnavailable, because its signed claims
// may describe a session that has since been revoked, a user since
// demoted or disabled.
func (s *Service) Verify(ctx context.Context, token string) (Principal, error) {
	now := s.now()
	sid, err := s.checkSigned(token, now)
	if err != nil {
		return Principal{}, err
	}
	s.mu.Lock()
	k, ok := s.known[sid]
	s.mu.Unlock()
	if ok && now.Sub(k.checked) < sessionRecheck {
		s.cacheHits.Add(1)
		return k.p, nil
	}
	s.cacheMisses.Add(1)
	var p Principal
	var revoked, disabled bool
	var role string
	s.mu.Lock()
	epoch := s.epoch
	s.mu.Unlock()
	// A database that stops answering (a partition, a frozen server) must
	// not hold every request until the driver gives up.
	qctx, cancel := context.WithTimeout(ctx, sessionCheckTimeout)
	err = s.db.QueryRowContext(qctx, s.db.Rebind(`SELECT s.user_id, u.email, u.role, u.disabled, s.expires_at, s.revoked
		FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.id = ?`), sid).Scan(&p.UserID, &p.Email, &role, &disabled, &p.ExpiresAt, &revoked)
	cancel()
	switch {
	case errors.Is(err, sql.ErrNoRows):
		s.forgetSession(sid)
		return Principal{}, ErrUnauthorized
	case err != nil:
		if ok && now.Sub(k.checked) < outageTrust && now.Before(k.p.ExpiresAt) {
			return k.p, nil
		}
		return Principal{}, fmt.Errorf("%w: check session: %v", ErrUnavailable, err)
	case revoked || disabled || !now.Before(p.ExpiresAt):
		s.forgetSession(sid)
		return Principal{}, ErrUnauthorized
	}
	p.Role, p.SessionID = Role(role), sid
	s.rememberSince(p, now, epoch)
	return p, nil
}

// checkSigned returns the session id of a token signed with this
// service's key, unexpired at now. A token checked once is remembered
// until it expires: the same text cannot verify differently later.
func (s *Service) checkSigned(token string, now time.Time) (string, error) {
	s.mu.Lock()
	t, ok := s.signed[token]
	s.mu.Unlock()
	if ok && now.Before(t.expires) {
		return t.sessionID, nil
	}
	var c claims
	if _, err := s.parser.ParseWithClaims(token, &c, func(*jwt.Token) (any, error) { return s.key, nil }); err != nil {
		return "", ErrUnauthorized
	}
	s.mu.Lock()
	if len(s.signed) > 10000 { // bound memory; entries are cheap to rebuild
		clear(s.signed)
	}
	s.signed[token] = signedToken{sessionID: c.ID, expires: c.ExpiresAt.Time}
	s.mu.Unlock()
	return c.ID, nil
}

// SessionCacheCounts returns how many session checks the in-memory cache
// answered and how many went to the database, since the Service was made.
func (s *Service) SessionCacheCounts() (hits, misses uint64) {
	return s.cacheHits.Load(), s.cacheMisses.Load()
}

// remember caches a verified session.
func (s *Service) remember(p Principal, at time.Time) {
	s.mu.Lock()
	s.rememberLocked(p, at)
	s.mu.Unlock()
}

// rememberSince caches a session checked by a read that began at epoch,
// unless something was forgotten since: that read may have missed it.
func (s *Service) rememberSince(p Principal, at time.Time, epoch uint64) {
	s.mu.Lock()
	if s.epoch == epoch {
		s.rememberLocked(p, at)
	}
	s.mu.Unlock()
}

func (s *Service) rememberLocked(p Principal, at time.Time) {
	if len(s.known) > 10000 { // bound memory; entries are cheap to rebuild
		clear(s.known)
	}
	s.known[p.SessionID] = knownSession{p: p, checked: at}
}

func (s *Service) forgetSession(id string) {
	s.mu.Lock()
	delete(s.known, id)
	s.epoch++
	s.mu.Unlock()
}

// Revoke ends a session.
func (s *Service) Revoke(ctx context.Context, sessionID string) error {
	s.forgetSession(sessionID)
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
	s.epoch++
	s.mu.Unlock()
}
