package auth

import (
	"context"
	"database/sql"
	"errors"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/rookery/rookery/internal/db"
	"github.com/rookery/rookery/internal/dbtest"
)

// captured records what a QueueFunc was given.
type captured struct {
	mu     sync.Mutex
	tokens []string
	users  []User
	exp    []time.Time
}

func (c *captured) queue(_ *sql.Tx, u User, token string, exp time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.tokens, c.users, c.exp = append(c.tokens, token), append(c.users, u), append(c.exp, exp)
	return nil
}

func (c *captured) last(t *testing.T) string {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.tokens) == 0 {
		t.Fatal("no token was queued")
	}
	return c.tokens[len(c.tokens)-1]
}

// A reset token works once, for an hour, is stored hashed, and its use
// sets the password, ends the sessions and revokes the API keys.
func TestResetToken(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, set db.Settings) {
		d := dbtest.OpenSettings(t, set)
		clk := &clock{t: time.Now()}
		s := New(d, testKey, Options{BcryptCost: 4, Now: clk.now})
		ctx := context.Background()
		u, err := s.Create(ctx, "reset@example.com", "the-old-password-1", Viewer)
		if err != nil {
			t.Fatal(err)
		}
		session, _, err := s.Issue(ctx, u)
		if err != nil {
			t.Fatal(err)
		}
		var c captured
		if err := s.IssueReset(ctx, "  Reset@Example.com ", c.queue); err != nil {
			t.Fatalf("issue: %v", err)
		}
		token := c.last(t)
		if got := c.exp[0].Sub(clk.now()); got < 59*time.Minute || got > 61*time.Minute {
			t.Errorf("valid for %v, want an hour", got)
		}
		var stored string
		if err := d.QueryRowContext(ctx, `SELECT token_hash FROM email_tokens`).Scan(&stored); err != nil || stored == token || stored != hashToken(token) {
			t.Errorf("stored %q for token %q (%v), want its SHA-256 only", stored, token, err)
		}
		info, err := s.LookupToken(ctx, token)
		if err != nil || info.Email != "reset@example.com" || info.Kind != TokenReset {
			t.Fatalf("lookup: %+v, %v", info, err)
		}
		if _, err := s.LookupToken(ctx, token); err != nil {
			t.Fatalf("a lookup consumed the token: %v", err)
		}
		if _, err := s.ResetWithToken(ctx, token, "short"); !errors.Is(err, ErrInvalid) {
			t.Errorf("weak password: %v, want ErrInvalid", err)
		}
		if _, err := s.ResetWithToken(ctx, token, "the-new-password-2"); err != nil {
			t.Fatalf("reset: %v", err)
		}
		if _, err := s.Authenticate(ctx, "reset@example.com", "the-new-password-2"); err != nil {
			t.Errorf("new password refused: %v", err)
		}
		if _, err := s.Authenticate(ctx, "reset@example.com", "the-old-password-1"); !errors.Is(err, ErrCredentials) {
			t.Errorf("old password: %v", err)
		}
		clk.add(10 * time.Second) // past the session cache
		if _, err := s.Verify(ctx, session); !errors.Is(err, ErrUnauthorized) {
			t.Errorf("session after reset: %v, want it ended", err)
		}
		for _, try := range []func() error{
			func() error { _, err := s.LookupToken(ctx, token); return err },
			func() error { _, err := s.ResetWithToken(ctx, token, "another-password-3"); return err },
			func() error { _, err := s.ResetWithToken(ctx, "never-issued", "another-password-3"); return err },
		} {
			if err := try(); !errors.Is(err, ErrTokenInvalid) {
				t.Errorf("used or unknown token: %v, want ErrTokenInvalid", err)
			}
		}

		// Expired after an hour; a newer token retires the older one.
		if err := s.IssueReset(ctx, "reset@example.com", c.queue); err != nil {
			t.Fatal(err)
		}
		older := c.last(t)
		if err := s.IssueReset(ctx, "reset@example.com", c.queue); err != nil {
			t.Fatal(err)
		}
		newer := c.last(t)
		if _, err := s.LookupToken(ctx, older); !errors.Is(err, ErrTokenInvalid) {
			t.Errorf("older token after a newer one: %v", err)
		}
		clk.add(61 * time.Minute)
		if _, err := s.ResetWithToken(ctx, newer, "another-password-3"); !errors.Is(err, ErrTokenInvalid) {
			t.Errorf("expired token: %v", err)
		}

		// Unknown, disabled and single sign-on accounts get nothing.
		if err := s.IssueReset(ctx, "nobody@example.com", c.queue); !errors.Is(err, ErrNotFound) {
			t.Errorf("unknown email: %v", err)
		}
		if err := s.SetDisabled(ctx, "reset@example.com", true); err != nil {
			t.Fatal(err)
		}
		n := len(c.tokens)
		if err := s.IssueReset(ctx, "reset@example.com", c.queue); !errors.Is(err, ErrNotFound) || len(c.tokens) != n {
			t.Errorf("disabled account: %v", err)
		}
		if _, err := s.IssueResetFor(ctx, u.ID, c.queue); !errors.Is(err, ErrInvalid) {
			t.Errorf("admin reset of a disabled account: %v", err)
		}

		// Tokens expired for more than a day are deleted.
		var before int
		_ = d.QueryRowContext(ctx, `SELECT COUNT(*) FROM email_tokens`).Scan(&before)
		clk.add(25 * time.Hour)
		purged, err := s.PurgeEmailTokens(ctx)
		if err != nil || purged != int64(before) || before == 0 {
			t.Errorf("purge: %d of %d, %v", purged, before, err)
		}
	})
}

// Ten concurrent resets with one token: exactly one succeeds.
func TestResetTokenSingleUse(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, set db.Settings) {
		d := dbtest.OpenSettings(t, set)
		s := New(d, testKey, Options{BcryptCost: 4})
		ctx := context.Background()
		if _, err := s.Create(ctx, "race@example.com", "the-old-password-1", Viewer); err != nil {
			t.Fatal(err)
		}
		var c captured
		if err := s.IssueReset(ctx, "race@example.com", c.queue); err != nil {
			t.Fatal(err)
		}
		token := c.last(t)
		const n = 10
		errs := make([]error, n)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				_, errs[i] = s.ResetWithToken(ctx, token, "concurrent-password-"+string(rune('a'+i)))
			}()
		}
		close(start)
		wg.Wait()
		ok := 0
		winner := -1
		for i, err := range errs {
			switch {
			case err == nil:
				ok++
				winner = i
			case !errors.Is(err, ErrTokenInvalid):
				t.Errorf("attempt %d: %v, want ErrTokenInvalid", i, err)
			}
		}
		if ok != 1 {
			t.Fatalf("%d resets succeeded, want exactly 1", ok)
		}
		if _, err := s.Authenticate(ctx, "race@example.com", "concurrent-password-"+string(rune('a'+winner))); err != nil {
			t.Errorf("the winner's password does not work: %v", err)
		}
	})
}

// An invited user has no usable password until the invitation is used;
// the limit applies; resending retires the earlier link.
func TestInvitation(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, set db.Settings) {
		d := dbtest.OpenSettings(t, set)
		clk := &clock{t: time.Now()}
		s := New(d, testKey, Options{BcryptCost: 4, Now: clk.now})
		ctx := context.Background()
		var c captured
		u, err := s.CreateInvited(ctx, "New@Example.com", Maintainer, c.queue)
		if err != nil {
			t.Fatal(err)
		}
		if !u.Invited || u.Email != "new@example.com" || u.Role != Maintainer || u.SignInMethod != MethodPassword {
			t.Errorf("invited user %+v", u)
		}
		if got := c.exp[0].Sub(clk.now()); got < 71*time.Hour || got > 73*time.Hour {
			t.Errorf("valid for %v, want 72 hours", got)
		}
		if _, err := s.Authenticate(ctx, "new@example.com", "any-password-1"); !errors.Is(err, ErrCredentials) {
			t.Errorf("sign-in of an invited account: %v", err)
		}
		if _, err := s.CreateInvited(ctx, "new@example.com", Viewer, c.queue); !errors.Is(err, ErrExists) {
			t.Errorf("duplicate: %v", err)
		}
		if _, err := s.IssueResetFor(ctx, u.ID, c.queue); !errors.Is(err, ErrInvalid) {
			t.Errorf("admin reset of an invited account: %v", err)
		}
		first := c.last(t)
		if _, err := s.ResendInvitation(ctx, u.ID, c.queue); err != nil {
			t.Fatal(err)
		}
		second := c.last(t)
		if _, err := s.LookupToken(ctx, first); !errors.Is(err, ErrTokenInvalid) {
			t.Errorf("first link after a resend: %v", err)
		}
		info, err := s.LookupToken(ctx, second)
		if err != nil || info.Kind != TokenInvitation {
			t.Fatalf("lookup: %+v, %v", info, err)
		}
		clk.add(48 * time.Hour) // longer than a reset link, within 72 hours
		got, err := s.ResetWithToken(ctx, second, "chosen-password-1")
		if err != nil || got.Invited {
			t.Fatalf("accept: %+v, %v", got, err)
		}
		after, _ := s.ByID(ctx, u.ID)
		if after.Invited {
			t.Error("still invited after choosing a password")
		}
		if _, err := s.Authenticate(ctx, "new@example.com", "chosen-password-1"); err != nil {
			t.Errorf("sign-in with the chosen password: %v", err)
		}
		if _, err := s.ResendInvitation(ctx, u.ID, c.queue); !errors.Is(err, ErrInvalid) {
			t.Errorf("resend after acceptance: %v", err)
		}

		// A password an admin sets answers an invitation too.
		other, err := s.CreateInvited(ctx, "dave@example.com", Viewer, c.queue)
		if err != nil {
			t.Fatal(err)
		}
		pw := "set-by-an-admin-1"
		if u, err := s.Update(ctx, other.ID, Change{Password: &pw}); err != nil || u.Invited {
			t.Fatalf("admin sets the password: %+v, %v", u, err)
		}
		if u, _ := s.ByID(ctx, other.ID); u.Invited {
			t.Error("still invited after an admin set the password")
		}

		// The licence limit refuses, and nothing is written or queued.
		s.CheckLimit = func(context.Context, int) error { return errors.New("limit reached") }
		n := len(c.tokens)
		if _, err := s.CreateInvited(ctx, "over@example.com", Viewer, c.queue); err == nil || len(c.tokens) != n {
			t.Errorf("over the limit: %v, %d queued", err, len(c.tokens)-n)
		}
		if _, err := s.ByEmail(ctx, "over@example.com"); !errors.Is(err, ErrNotFound) {
			t.Errorf("user written over the limit: %v", err)
		}
		// A queue that fails leaves no user behind.
		s.CheckLimit = nil
		if _, err := s.CreateInvited(ctx, "fail@example.com", Viewer, func(*sql.Tx, User, string, time.Time) error {
			return errors.New("outbox broken")
		}); err == nil {
			t.Error("a failed queue was ignored")
		}
		if _, err := s.ByEmail(ctx, "fail@example.com"); !errors.Is(err, ErrNotFound) {
			t.Errorf("user written without its invitation: %v", err)
		}
	})
}

// An invited account refuses a password sign-in with ErrCredentials after
// a real bcrypt compare: its stored hash is a bcrypt hash (so checking a
// password against it costs what it costs for any account), and the
// invited flag refuses even the password that hash matches. An account
// invited with the older non-bcrypt placeholder is refused the same way.
func TestInvitedSignIn(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, set db.Settings) {
		d := dbtest.OpenSettings(t, set)
		s := New(d, testKey, Options{BcryptCost: 4})
		ctx := context.Background()
		var c captured
		u, err := s.CreateInvited(ctx, "invited@example.com", Viewer, c.queue)
		if err != nil {
			t.Fatal(err)
		}
		var stored string
		if err := d.QueryRowContext(ctx, d.Rebind(`SELECT password_hash FROM users WHERE id = ?`), u.ID).Scan(&stored); err != nil {
			t.Fatal(err)
		}
		if cost, err := bcrypt.Cost([]byte(stored)); err != nil || cost != 4 {
			t.Errorf("invited account's hash %q: cost %d, %v; want a bcrypt hash of the service's cost", stored, cost, err)
		}
		if _, err := s.Authenticate(ctx, "invited@example.com", "any-password-1"); !errors.Is(err, ErrCredentials) {
			t.Errorf("sign-in of an invited account: %v, want ErrCredentials", err)
		}

		// Even the password the stored hash matches is refused while invited.
		known, err := bcrypt.GenerateFromPassword([]byte("known-password-1"), 4)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := d.ExecContext(ctx, d.Rebind(`UPDATE users SET password_hash = ? WHERE id = ?`), string(known), u.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Authenticate(ctx, "invited@example.com", "known-password-1"); !errors.Is(err, ErrCredentials) {
			t.Errorf("invited account with a matching hash: %v, want ErrCredentials", err)
		}

		// The older placeholder, which bcrypt refuses as malformed.
		if _, err := d.ExecContext(ctx, d.Rebind(`UPDATE users SET password_hash = ? WHERE id = ?`), "!invited", u.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Authenticate(ctx, "invited@example.com", "!invited"); !errors.Is(err, ErrCredentials) {
			t.Errorf("invited account with the older placeholder: %v, want ErrCredentials", err)
		}

		// Accepting the invitation unlocks the account.
		if _, err := s.ResetWithToken(ctx, c.last(t), "chosen-password-1"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Authenticate(ctx, "invited@example.com", "chosen-password-1"); err != nil {
			t.Errorf("sign-in after accepting: %v", err)
		}
	})
}

// Every way of setting a password retires the user's unused reset and
// invitation links: a link mailed earlier cannot undo the change.
func TestPasswordChangeRetiresLinks(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, set db.Settings) {
		d := dbtest.OpenSettings(t, set)
		s := New(d, testKey, Options{BcryptCost: 4})
		ctx := context.Background()
		var c captured
		refused := func(what, token string) {
			t.Helper()
			if _, err := s.LookupToken(ctx, token); !errors.Is(err, ErrTokenInvalid) {
				t.Errorf("%s: lookup %v, want ErrTokenInvalid", what, err)
			}
			if _, err := s.ResetWithToken(ctx, token, "from-an-old-link-9"); !errors.Is(err, ErrTokenInvalid) {
				t.Errorf("%s: reset %v, want ErrTokenInvalid", what, err)
			}
		}
		u, err := s.Create(ctx, "links@example.com", "the-old-password-1", Viewer)
		if err != nil {
			t.Fatal(err)
		}

		// The user changes their own password.
		if err := s.IssueReset(ctx, "links@example.com", c.queue); err != nil {
			t.Fatal(err)
		}
		if err := s.ChangeOwnPassword(ctx, u.ID, "", "the-old-password-1", "the-own-password-2"); err != nil {
			t.Fatal(err)
		}
		refused("after the user changed their password", c.last(t))

		// An admin sets it.
		if err := s.IssueReset(ctx, "links@example.com", c.queue); err != nil {
			t.Fatal(err)
		}
		pw := "set-by-an-admin-3"
		if _, err := s.Update(ctx, u.ID, Change{Password: &pw}); err != nil {
			t.Fatal(err)
		}
		refused("after an admin set the password", c.last(t))

		// The command line sets it.
		if err := s.IssueReset(ctx, "links@example.com", c.queue); err != nil {
			t.Fatal(err)
		}
		if err := s.SetPassword(ctx, "links@example.com", "set-on-the-cli-4"); err != nil {
			t.Fatal(err)
		}
		refused("after the command line set the password", c.last(t))

		// Other changes leave the link working.
		if err := s.IssueReset(ctx, "links@example.com", c.queue); err != nil {
			t.Fatal(err)
		}
		role := Maintainer
		if _, err := s.Update(ctx, u.ID, Change{Role: &role}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.LookupToken(ctx, c.last(t)); err != nil {
			t.Errorf("reset link after a role change: %v", err)
		}

		// Using one link retires the user's links of the other kind.
		invited, err := s.CreateInvited(ctx, "both@example.com", Viewer, c.queue)
		if err != nil {
			t.Fatal(err)
		}
		invitation := c.last(t)
		if err := s.inTx(ctx, func(tx *sql.Tx) error {
			return s.issueToken(ctx, tx, invited, TokenReset, ResetTokenTTL, c.queue)
		}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.ResetWithToken(ctx, c.last(t), "chosen-by-reset-5"); err != nil {
			t.Fatal(err)
		}
		refused("invitation after a reset link was used", invitation)
		if _, err := s.Authenticate(ctx, "both@example.com", "chosen-by-reset-5"); err != nil {
			t.Errorf("password set by the reset link: %v", err)
		}
	})
}
