package sso

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/crewjam/saml"

	"github.com/rookery/rookery/internal/db"
	"github.com/rookery/rookery/internal/dbtest"
)

// TestRequestsSingleUse: a sign-in under way is taken once, by many
// concurrent answers, and only with the browser's binding, before it
// expires; an assertion id is accepted once until it expires.
func TestRequestsSingleUse(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, set db.Settings) {
		d := dbtest.OpenSettings(t, set)
		var now atomic.Int64
		now.Store(time.Now().UnixNano())
		q := &requests{db: d, now: func() time.Time { return time.Unix(0, now.Load()) }}
		ctx := t.Context()
		put := func(id, binding string) {
			t.Helper()
			if err := q.put(ctx, request{ID: id, Provider: "oidc", Binding: hashBinding(binding), Nonce: "n", Verifier: "v", Next: "/x",
				Expires: q.now().Add(requestTTL)}); err != nil {
				t.Fatal(err)
			}
		}

		put("race", "b1")
		var wg sync.WaitGroup
		var won atomic.Int64
		for range 16 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r, err := q.take(ctx, "race", "oidc", "b1")
				switch {
				case err == nil && r.Next == "/x" && r.Nonce == "n" && r.Verifier == "v":
					won.Add(1)
				case !errors.Is(err, errNoRequest):
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		if won.Load() != 1 {
			t.Fatalf("%d answers took the sign-in, want 1", won.Load())
		}

		put("bound", "b1")
		if _, err := q.take(ctx, "bound", "oidc", "another-browser"); !errors.Is(err, errNoRequest) {
			t.Fatalf("another browser's binding: %v", err)
		}
		if _, err := q.take(ctx, "bound", "oidc", "b1"); !errors.Is(err, errNoRequest) {
			t.Fatalf("a sign-in tried with the wrong binding stays used: %v", err)
		}
		put("saml-only", "b1")
		if _, err := q.take(ctx, "saml-only", "saml", "b1"); !errors.Is(err, errNoRequest) {
			t.Fatalf("another provider's sign-in: %v", err)
		}
		put("late", "b1")
		now.Add(int64(requestTTL + time.Second))
		if _, err := q.take(ctx, "late", "oidc", "b1"); !errors.Is(err, errNoRequest) {
			t.Fatalf("expired sign-in: %v", err)
		}

		cache := replayCache{q}
		exp := q.now().Add(time.Minute)
		var fresh atomic.Int64
		for range 16 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				switch err := cache.Consume("assertion-1", exp); {
				case err == nil:
					fresh.Add(1)
				case !errors.Is(err, saml.ErrAssertionReplayed):
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		if fresh.Load() != 1 {
			t.Fatalf("assertion accepted %d times, want 1", fresh.Load())
		}
		// Once expired, the record is purged (the assertion itself would
		// be refused for its age by then).
		now.Add(int64(2 * time.Minute))
		if err := cache.Consume("assertion-2", q.now().Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
		var n int
		if err := d.QueryRowContext(ctx, `SELECT COUNT(*) FROM sso_assertions`).Scan(&n); err != nil || n != 1 {
			t.Fatalf("%d assertion records after the purge (%v), want 1", n, err)
		}
	})
}

// TestSAMLReplayCheckUnavailable: when the database cannot record an
// assertion id, the sign-in is reported unavailable, not as an invalid
// answer, also after the SAML library wrapped the error.
func TestSAMLReplayCheckUnavailable(t *testing.T) {
	d, _ := dbtest.Open(t, db.SQLite)
	q := &requests{db: d, now: time.Now}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	err := replayCache{q}.Consume("id-1", time.Now().Add(time.Minute))
	if err == nil || errors.Is(err, saml.ErrAssertionReplayed) {
		t.Fatalf("Consume on a closed database: %v", err)
	}
	// crewjam wraps it: assertion "id": <err>, inside InvalidResponseError.
	wrapped := &saml.InvalidResponseError{PrivateErr: fmt.Errorf("assertion %q: %w", "id-1", err)}
	if e := samlError(wrapped); e.Outcome != OutcomeUnavailable || !strings.Contains(e.Reason, "database is unavailable") {
		t.Fatalf("samlError = %q (%s)", e.Reason, e.Outcome)
	}
	// A real replay stays invalid.
	replay := &saml.InvalidResponseError{PrivateErr: fmt.Errorf("assertion %q: %w", "id-1", saml.ErrAssertionReplayed)}
	if e := samlError(replay); e.Outcome != OutcomeInvalid {
		t.Fatalf("replay: %q (%s)", e.Reason, e.Outcome)
	}
}
