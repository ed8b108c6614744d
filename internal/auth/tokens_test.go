package auth

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/rookery/rookery/internal/db"
	"github.com/rookery/rookery/internal/dbtest"
)

var testKey = []byte("0123456789abcdef0123456789abcdef")

// TestTokens: Issue gives a token Verify accepts as its user's; a token
// that is expired, revoked, altered, signed by another algorithm or
// another key, or missing the claims rookery requires is refused with
// ErrUnauthorized (401), never accepted on its own claims.
func TestTokens(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, set db.Settings) {
		d := dbtest.OpenSettings(t, set)
		clk := &clock{t: time.Now()}
		s := New(d, testKey, Options{BcryptCost: 4, TokenTTL: time.Hour, Now: clk.now})
		ctx := context.Background()
		u, err := s.Create(ctx, "tok@example.com", "a-long-enough-password", Maintainer)
		if err != nil {
			t.Fatal(err)
		}

		// issue starts a session and returns its token and session id.
		issue := func(t *testing.T) (string, string) {
			t.Helper()
			tok, exp, err := s.Issue(ctx, u)
			if err != nil {
				t.Fatal(err)
			}
			if want := clk.now().Add(time.Hour); exp.Before(want.Add(-time.Second)) || exp.After(want.Add(time.Second)) {
				t.Fatalf("expires at %v, want about %v", exp, want)
			}
			var c jwt.RegisteredClaims
			if _, _, err := jwt.NewParser().ParseUnverified(tok, &c); err != nil {
				t.Fatal(err)
			}
			return tok, c.ID
		}
		// forge signs claims for a real session with method and key.
		forge := func(t *testing.T, sid string, method jwt.SigningMethod, key any, edit func(jwt.MapClaims)) string {
			t.Helper()
			now := clk.now()
			c := jwt.MapClaims{"iss": "rookery", "sub": "1", "jti": sid, "email": u.Email, "role": "admin",
				"iat": now.Unix(), "exp": now.Add(time.Hour).Unix()}
			if edit != nil {
				edit(c)
			}
			tok, err := jwt.NewWithClaims(method, c).SignedString(key)
			if err != nil {
				t.Fatal(err)
			}
			return tok
		}

		tests := []struct {
			name  string
			token func(t *testing.T) string
			ok    bool
		}{
			{name: "issued", ok: true, token: func(t *testing.T) string { tok, _ := issue(t); return tok }},
			{name: "verified again after the cache", ok: true, token: func(t *testing.T) string {
				tok, _ := issue(t)
				clk.add(sessionRecheck + time.Second) // the session row is read again
				return tok
			}},
			{name: "expired", token: func(t *testing.T) string {
				tok, _ := issue(t)
				clk.add(time.Hour + time.Second)
				t.Cleanup(func() { clk.add(-time.Hour - time.Second) })
				return tok
			}},
			{name: "expired after it was verified", token: func(t *testing.T) string {
				tok, _ := issue(t)
				if _, err := s.Verify(ctx, tok); err != nil { // remembered as checked
					t.Fatal(err)
				}
				clk.add(time.Hour + time.Second)
				t.Cleanup(func() { clk.add(-time.Hour - time.Second) })
				return tok
			}},
			{name: "revoked after it was verified", token: func(t *testing.T) string {
				tok, sid := issue(t)
				if _, err := s.Verify(ctx, tok); err != nil {
					t.Fatal(err)
				}
				if err := s.Revoke(ctx, sid); err != nil {
					t.Fatal(err)
				}
				return tok
			}},
			{name: "revoked", token: func(t *testing.T) string {
				tok, sid := issue(t)
				if err := s.Revoke(ctx, sid); err != nil {
					t.Fatal(err)
				}
				return tok
			}},
			{name: "payload altered", token: func(t *testing.T) string {
				tok, _ := issue(t)
				parts := strings.Split(tok, ".")
				// Claim the admin role with the original signature.
				c := jwt.MapClaims{}
				if _, _, err := jwt.NewParser().ParseUnverified(tok, c); err != nil {
					t.Fatal(err)
				}
				c["role"] = "admin"
				forged, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SigningString()
				return forged + "." + parts[2]
			}},
			{name: "signature altered", token: func(t *testing.T) string {
				tok, _ := issue(t)
				sig := []byte(tok[strings.LastIndex(tok, ".")+1:])
				sig[3] ^= 1
				return tok[:strings.LastIndex(tok, ".")+1] + string(sig)
			}},
			{name: "HS512 with the right key", token: func(t *testing.T) string {
				_, sid := issue(t)
				return forge(t, sid, jwt.SigningMethodHS512, testKey, nil)
			}},
			{name: "alg none", token: func(t *testing.T) string {
				_, sid := issue(t)
				return forge(t, sid, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, nil)
			}},
			{name: "another key", token: func(t *testing.T) string {
				_, sid := issue(t)
				return forge(t, sid, jwt.SigningMethodHS256, []byte("another-key-another-key-another-k"), nil)
			}},
			{name: "another issuer", token: func(t *testing.T) string {
				_, sid := issue(t)
				return forge(t, sid, jwt.SigningMethodHS256, testKey, func(c jwt.MapClaims) { c["iss"] = "someone-else" })
			}},
			{name: "no expiry", token: func(t *testing.T) string {
				_, sid := issue(t)
				return forge(t, sid, jwt.SigningMethodHS256, testKey, func(c jwt.MapClaims) { delete(c, "exp") })
			}},
			{name: "unknown session", token: func(t *testing.T) string {
				return forge(t, "no-such-session", jwt.SigningMethodHS256, testKey, nil)
			}},
			{name: "not a token", token: func(*testing.T) string { return "not-a-token" }},
			{name: "empty", token: func(*testing.T) string { return "" }},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				p, err := s.Verify(ctx, tt.token(t))
				if tt.ok {
					if err != nil || p.UserID != u.ID || p.Email != u.Email || p.Role != Maintainer || p.SessionID == "" {
						t.Fatalf("Verify = %+v, %v; want the maintainer's session", p, err)
					}
					return
				}
				if !errors.Is(err, ErrUnauthorized) {
					t.Fatalf("Verify = %+v, %v; want ErrUnauthorized", p, err)
				}
			})
		}
	})
}

// TestTokenOfAnotherReplica: replicas sharing the signing key accept each
// other's tokens (the session is in the shared database), and a process
// with a different key refuses them.
func TestTokenOfAnotherReplica(t *testing.T) {
	d, _ := dbtest.Open(t, db.SQLite)
	ctx := context.Background()
	a := New(d, testKey, Options{BcryptCost: 4})
	u, err := a.Create(ctx, "r@example.com", "a-long-enough-password", Viewer)
	if err != nil {
		t.Fatal(err)
	}
	tok, _, err := a.Issue(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	if p, err := New(d, testKey, Options{}).Verify(ctx, tok); err != nil || p.Email != u.Email {
		t.Fatalf("replica with the shared key: %+v, %v", p, err)
	}
	if _, err := New(d, []byte("another-key-another-key-another-k"), Options{}).Verify(ctx, tok); !errors.Is(err, ErrUnauthorized) {
		t.Fatalf("process with another key: %v, want ErrUnauthorized", err)
	}
}
