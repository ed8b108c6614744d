package auth

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rookery/rookery/internal/db"
	"github.com/rookery/rookery/internal/dbtest"
)

// clock is a settable time source.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// TestVerifyDuringOutage: while the database cannot answer, a session
// verified within the last minute keeps working; past that, and for a
// token this process never verified, the answer is ErrUnavailable (503),
// not the token's own signed claims.
func TestVerifyDuringOutage(t *testing.T) {
	d, _ := dbtest.Open(t, db.SQLite)
	clk := &clock{t: time.Now()}
	key := []byte("0123456789abcdef0123456789abcdef")
	s := New(d, key, Options{BcryptCost: 4, Now: clk.now})
	other := New(d, key, Options{BcryptCost: 4, Now: clk.now}) // another replica
	ctx := context.Background()
	u, err := s.Create(ctx, "a@example.com", "a-long-enough-password", Admin)
	if err != nil {
		t.Fatal(err)
	}
	tok, _, err := s.Issue(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	elsewhere, _, err := other.Issue(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	clk.add(10 * time.Second)
	if _, err := s.Verify(ctx, tok); err != nil {
		t.Fatalf("verify with the database up: %v", err)
	}
	d.Close() // the outage: every query now fails

	clk.add(30 * time.Second)
	if p, err := s.Verify(ctx, tok); err != nil || p.Email != "a@example.com" {
		t.Fatalf("session verified 30 s ago, database down: %v", err)
	}
	if _, err := s.Verify(ctx, elsewhere); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("token never verified here, database down: %v, want ErrUnavailable", err)
	}
	clk.add(31 * time.Second)
	if _, err := s.Verify(ctx, tok); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("session verified 61 s ago, database down: %v, want ErrUnavailable", err)
	}
}

// TestUpdateIsAllOrNothing: a change with one bad field writes none.
func TestUpdateIsAllOrNothing(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, set db.Settings) {
		d := dbtest.OpenSettings(t, set)
		s := New(d, []byte("0123456789abcdef0123456789abcdef"), Options{BcryptCost: 4})
		ctx := context.Background()
		if _, err := s.Create(ctx, "root@example.com", "a-long-enough-password", Admin); err != nil {
			t.Fatal(err)
		}
		u, err := s.Create(ctx, "b@example.com", "a-long-enough-password", Viewer)
		if err != nil {
			t.Fatal(err)
		}
		role, short, yes := Maintainer, "short", true
		if _, err := s.Update(ctx, u.ID, Change{Role: &role, Password: &short, Disabled: &yes}); !errors.Is(err, ErrInvalid) {
			t.Fatalf("update with a short password: %v, want ErrInvalid", err)
		}
		got, err := s.ByID(ctx, u.ID)
		if err != nil || got.Role != Viewer || got.Disabled {
			t.Fatalf("after a refused update: %+v %v", got, err)
		}
		if _, err := s.Authenticate(ctx, "b@example.com", "a-long-enough-password"); err != nil {
			t.Fatalf("password changed by a refused update: %v", err)
		}
		if _, err := s.Update(ctx, 9999, Change{Role: &role}); !errors.Is(err, ErrNotFound) {
			t.Fatalf("update of a missing user: %v", err)
		}
	})
}

// TestAPIKeyNeedsALiveSession: a key cannot be minted from a session that
// has been ended, even by a replica that still has it cached.
func TestAPIKeyNeedsALiveSession(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, set db.Settings) {
		d := dbtest.OpenSettings(t, set)
		key := []byte("0123456789abcdef0123456789abcdef")
		a := New(d, key, Options{BcryptCost: 4})
		b := New(d, key, Options{BcryptCost: 4}) // another replica
		ctx := context.Background()
		u, err := a.Create(ctx, "k@example.com", "a-long-enough-password", Viewer)
		if err != nil {
			t.Fatal(err)
		}
		tok, _, err := a.Issue(ctx, u)
		if err != nil {
			t.Fatal(err)
		}
		p, err := b.Verify(ctx, tok) // b caches the session
		if err != nil {
			t.Fatal(err)
		}
		if err := a.ChangeOwnPassword(ctx, u.ID, "", "a-long-enough-password", "another-long-passphrase"); err != nil {
			t.Fatal(err)
		}
		if p2, err := b.Verify(ctx, tok); err != nil || p2.SessionID != p.SessionID {
			t.Fatalf("the cached session: %v", err) // still cached on b: the window the key must not use
		}
		if _, _, err := b.CreateAPIKey(ctx, u.ID, p.SessionID, "stolen", time.Time{}); !errors.Is(err, ErrUnauthorized) {
			t.Fatalf("a key from an ended session: %v, want ErrUnauthorized", err)
		}
		if keys, _ := a.ListAPIKeys(ctx, u.ID); len(keys) != 0 {
			t.Fatalf("keys stored: %+v", keys)
		}
	})
}

// fakeSealer seals nothing and fails to open values marked bad; it knows
// one key id.
type fakeSealer struct{ known string }

func (f fakeSealer) Seal(_, plain string) (string, error) {
	return "enc:v1:" + f.known + ":" + plain, nil
}
func (f fakeSealer) Open(_, stored string) (string, error) {
	id, rest, _ := strings.Cut(strings.TrimPrefix(stored, "enc:v1:"), ":")
	if id != f.known || strings.HasPrefix(rest, "bad") {
		return "", errors.New("does not decrypt")
	}
	return rest, nil
}
func (f fakeSealer) Knows(id string) bool { return id == f.known }

// TestDamagedSigningKeyIsReplaced: a damaged row does not stop the
// instance; a key sealed under an unconfigured key does (wrong
// CONFIG_ENCRYPTION_KEY), and is left as it is.
func TestDamagedSigningKeyIsReplaced(t *testing.T) {
	d, _ := dbtest.Open(t, db.SQLite)
	ctx := context.Background()
	s := fakeSealer{known: "00112233aabbccdd"}
	log := slog.New(slog.DiscardHandler)
	first, err := LoadSigningKey(ctx, d, s, log)
	if err != nil || len(first) != 32 {
		t.Fatalf("first load: %v", err)
	}
	if _, err := d.Exec(`UPDATE app_secrets SET secret_value = 'enc:v1:00112233aabbccdd:badbadbad'`); err != nil {
		t.Fatal(err)
	}
	second, err := LoadSigningKey(ctx, d, s, log)
	if err != nil || len(second) != 32 || string(second) == string(first) {
		t.Fatalf("damaged row: %v (new key %v)", err, string(second) != string(first))
	}
	if _, err := d.Exec(`UPDATE app_secrets SET secret_value = 'enc:v1:ffffffffffffffff:whatever'`); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadSigningKey(ctx, d, s, log); err == nil {
		t.Fatal("a key sealed under an unconfigured key was accepted or replaced")
	}
	var v string
	_ = d.QueryRow(`SELECT secret_value FROM app_secrets`).Scan(&v)
	if v != "enc:v1:ffffffffffffffff:whatever" {
		t.Fatalf("the row sealed under another key was changed: %q", v)
	}
}
