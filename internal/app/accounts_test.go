package app

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rookery/rookery/internal/auth"
	"github.com/rookery/rookery/internal/db"
	"github.com/rookery/rookery/internal/dbtest"
	"github.com/rookery/rookery/license/licensetest"
)

const userPassword = "a-long-enough-password"

// parallel runs fn(i) for i in [0, n) at once and waits for all.
func parallel(n int, fn func(i int)) {
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			fn(i)
		}()
	}
	close(start)
	wg.Wait()
}

// TestLicenceLimitsHoldUnderConcurrency: on a 5-user community licence,
// 12 concurrent creations leave five users; 8 concurrent team creations
// leave one team.
func TestLicenceLimitsHoldUnderConcurrency(t *testing.T) {
	srv := licensetest.NewServer(licensetest.Community(licensetest.KeyCommunity))
	defer srv.Close()
	dbtest.Each(t, func(t *testing.T, s db.Settings) {
		ta := startApp(t, s, licenceEnv(srv, licensetest.KeyCommunity, true))
		admin := ta.admin()
		codes := make([]int, 12)
		parallel(12, func(i int) {
			r := ta.call("POST", "/api/v1/users", admin, map[string]string{"email": fmt.Sprintf("race%d@example.com", i), "password": userPassword})
			codes[i] = r.Status
		})
		created := 0
		for _, c := range codes {
			switch c {
			case http.StatusCreated:
				created++
			case http.StatusForbidden:
			default:
				t.Errorf("unexpected status %d among %v", c, codes)
			}
		}
		n, err := ta.Auth.Count(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if created != 4 || n != 5 {
			t.Fatalf("12 concurrent creations: %d created, %d users stored; want 4 and 5 (codes %v)", created, n, codes)
		}

		codes = make([]int, 8)
		parallel(8, func(i int) {
			codes[i] = ta.call("POST", "/api/v1/teams", admin, map[string]any{"name": fmt.Sprintf("team%d", i)}).Status
		})
		teams, err := ta.Teams.Count(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if teams != 1 {
			t.Fatalf("8 concurrent team creations on community left %d teams (codes %v); want 1", teams, codes)
		}

		// A disabled user does not count, and enabling one again is
		// refused while the licence is full.
		users, _ := ta.Auth.List(context.Background())
		victim := users[len(users)-1]
		if r := ta.call("PATCH", fmt.Sprintf("/api/v1/users/%d", victim.ID), admin, map[string]any{"disabled": true}); r.Status != 200 {
			t.Fatalf("disable: %d %s", r.Status, r.Body)
		}
		if r := ta.call("POST", "/api/v1/users", admin, map[string]string{"email": "late@example.com", "password": userPassword}); r.Status != 201 {
			t.Fatalf("create after disabling one: %d %s", r.Status, r.Body)
		}
		r := ta.call("PATCH", fmt.Sprintf("/api/v1/users/%d", victim.ID), admin, map[string]any{"disabled": false})
		if r.Status != 403 || !strings.Contains(string(r.Body), "max_users") {
			t.Fatalf("enable beyond the limit = %d %s, want 403 max_users", r.Status, r.Body)
		}
	})
}

// TestLastAdminSurvivesMutualDemotion: two admins demoting each other at
// the same moment always leave one admin, round after round.
func TestLastAdminSurvivesMutualDemotion(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, s db.Settings) {
		ta := startApp(t, s, nil)
		root := ta.admin()
		r := ta.call("POST", "/api/v1/users", root, map[string]string{"email": "second@example.com", "password": userPassword, "role": "admin"})
		if r.Status != 201 {
			t.Fatalf("second admin: %d %s", r.Status, r.Body)
		}
		ids := map[string]int64{}
		for _, u := range mustUsers(t, ta) {
			ids[u.Email] = u.ID
		}
		pw := map[string]string{adminEmail: adminPassword, "second@example.com": userPassword}
		emails := []string{adminEmail, "second@example.com"}
		for round := range 10 {
			tokens := []string{ta.login(emails[0], pw[emails[0]]), ta.login(emails[1], pw[emails[1]])}
			codes := make([]int, 2)
			parallel(2, func(i int) {
				other := emails[1-i]
				codes[i] = ta.call("PATCH", fmt.Sprintf("/api/v1/users/%d", ids[other]), tokens[i], map[string]string{"role": "viewer"}).Status
			})
			var admins []string
			for _, u := range mustUsers(t, ta) {
				if u.Role == auth.Admin && !u.Disabled {
					admins = append(admins, u.Email)
				}
			}
			if len(admins) != 1 {
				t.Fatalf("round %d: admins after mutual demotion = %v (codes %v); want exactly one", round, admins, codes)
			}
			// The survivor promotes the other again for the next round.
			survivor := admins[0]
			other := emails[0]
			if other == survivor {
				other = emails[1]
			}
			tok := ta.login(survivor, pw[survivor])
			if r := ta.call("PATCH", fmt.Sprintf("/api/v1/users/%d", ids[other]), tok, map[string]string{"role": "admin"}); r.Status != 200 {
				t.Fatalf("round %d: promote again: %d %s", round, r.Status, r.Body)
			}
		}
		// Disabling and deleting obey the same rule: with one active admin
		// left, neither is allowed.
		ctx := context.Background()
		if err := ta.Auth.SetDisabled(ctx, "second@example.com", true); err != nil {
			t.Fatal(err)
		}
		if _, err := ta.Auth.Delete(ctx, ids[adminEmail]); err == nil || !strings.Contains(err.Error(), "last admin") {
			t.Fatalf("deleting the last active admin: %v", err)
		}
		if err := ta.Auth.SetDisabled(ctx, adminEmail, true); err == nil {
			t.Fatal("disabling the last active admin was allowed")
		}
	})
}

func mustUsers(t *testing.T, ta *testApp) []auth.User {
	t.Helper()
	users, err := ta.Auth.List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return users
}

func userByEmail(t *testing.T, ta *testApp, email string) auth.User {
	t.Helper()
	u, err := ta.Auth.ByEmail(context.Background(), email)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// TestUserLifeCycle: an update is all or nothing; disabling stops a
// user's sessions and keys at once; deleting keeps the audit trail's
// email; users change their own password.
func TestUserLifeCycle(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, s db.Settings) {
		ta := startApp(t, s, nil)
		admin := ta.admin()
		ctx := context.Background()
		maint := ta.userWithRole(admin, "ops@example.com", "maintainer")
		ops := userByEmail(t, ta, "ops@example.com")
		path := fmt.Sprintf("/api/v1/users/%d", ops.ID)

		// All or nothing: a bad password keeps the role as it was.
		r := ta.call("PATCH", path, admin, map[string]string{"role": "admin", "password": "short"})
		if r.Status != 400 || !strings.Contains(string(r.Body), "at least") {
			t.Fatalf("role + short password = %d %s, want 400", r.Status, r.Body)
		}
		if u := userByEmail(t, ta, "ops@example.com"); u.Role != auth.Maintainer {
			t.Fatalf("role changed by a refused update: %s", u.Role)
		}
		r = ta.call("PATCH", path, admin, map[string]string{"role": "overlord"})
		if r.Status != 400 {
			t.Fatalf("unknown role = %d %s", r.Status, r.Body)
		}
		if r := ta.call("PATCH", path, admin, map[string]any{}); r.Status != 400 {
			t.Fatalf("empty update = %d %s", r.Status, r.Body)
		}

		// An API key of the user, then disable: session, key and sign-in stop.
		kr := ta.call("POST", "/api/v1/apikeys", maint, map[string]string{"name": "ci"})
		if kr.Status != 201 {
			t.Fatalf("create key: %d %s", kr.Status, kr.Body)
		}
		key := kr.JSON(t)["key"].(string)
		if r := ta.call("GET", "/api/v1/auth/me", key, nil); r.Status != 200 {
			t.Fatalf("key before disable: %d", r.Status)
		}
		if r := ta.call("PATCH", path, admin, map[string]any{"disabled": true}); r.Status != 200 || !strings.Contains(string(r.Body), `"disabled":true`) {
			t.Fatalf("disable: %d %s", r.Status, r.Body)
		}
		if r := ta.call("GET", "/api/v1/auth/me", maint, nil); r.Status != 401 {
			t.Errorf("session of a disabled user = %d, want 401", r.Status)
		}
		if r := ta.call("GET", "/api/v1/auth/me", key, nil); r.Status != 401 {
			t.Errorf("API key of a disabled user = %d, want 401", r.Status)
		}
		r = ta.call("POST", "/api/v1/auth/login", "", map[string]string{"email": "ops@example.com", "password": userPassword})
		if r.Status != 403 || !strings.Contains(string(r.Body), "disabled") {
			t.Errorf("sign-in of a disabled user = %d %s, want 403", r.Status, r.Body)
		}
		if r := ta.call("PATCH", path, admin, map[string]any{"disabled": false}); r.Status != 200 {
			t.Fatalf("enable: %d %s", r.Status, r.Body)
		}
		maint = ta.login("ops@example.com", userPassword)
		if r := ta.call("GET", "/api/v1/auth/me", key, nil); r.Status != 401 {
			t.Errorf("a key revoked by disabling came back after enabling: %d", r.Status)
		}

		// Nobody disables or deletes their own account.
		me := userByEmail(t, ta, adminEmail)
		if r := ta.call("PATCH", fmt.Sprintf("/api/v1/users/%d", me.ID), admin, map[string]any{"disabled": true}); r.Status != 400 {
			t.Errorf("self-disable = %d %s", r.Status, r.Body)
		}
		if r := ta.call("DELETE", fmt.Sprintf("/api/v1/users/%d", me.ID), admin, nil); r.Status != 400 {
			t.Errorf("self-delete = %d %s", r.Status, r.Body)
		}

		// Own password: wrong current, weak new, then a real change that
		// ends the other sessions and revokes keys but keeps this one.
		other := ta.login("ops@example.com", userPassword)
		kr = ta.call("POST", "/api/v1/apikeys", maint, map[string]string{"name": "ci2"})
		key = kr.JSON(t)["key"].(string)
		if r := ta.call("POST", "/api/v1/auth/password", maint, map[string]string{"current_password": "not-the-password-at-all", "new_password": "a-brand-new-passphrase"}); r.Status != 400 {
			t.Errorf("wrong current password = %d %s", r.Status, r.Body)
		}
		if r := ta.call("POST", "/api/v1/auth/password", maint, map[string]string{"current_password": userPassword, "new_password": "short"}); r.Status != 400 {
			t.Errorf("weak new password = %d %s", r.Status, r.Body)
		}
		if r := ta.call("POST", "/api/v1/auth/password", key, map[string]string{"current_password": userPassword, "new_password": "a-brand-new-passphrase"}); r.Status != 403 {
			t.Errorf("password change with an API key = %d %s", r.Status, r.Body)
		}
		if r := ta.call("POST", "/api/v1/auth/password", maint, map[string]string{"current_password": userPassword, "new_password": "a-brand-new-passphrase"}); r.Status != 200 {
			t.Fatalf("change own password: %d %s", r.Status, r.Body)
		}
		if r := ta.call("GET", "/api/v1/auth/me", maint, nil); r.Status != 200 {
			t.Errorf("the session that changed the password = %d, want 200", r.Status)
		}
		if r := ta.call("GET", "/api/v1/auth/me", other, nil); r.Status != 401 {
			t.Errorf("another session after a password change = %d, want 401", r.Status)
		}
		if r := ta.call("GET", "/api/v1/auth/me", key, nil); r.Status != 401 {
			t.Errorf("an API key after a password change = %d, want 401", r.Status)
		}
		ta.login("ops@example.com", "a-brand-new-passphrase")

		// Delete: the user, their sessions and keys go; audit records keep
		// the email.
		ta.call("PATCH", path, admin, map[string]string{"role": "admin"})
		opsAdmin := ta.login("ops@example.com", "a-brand-new-passphrase")
		if r := ta.call("PUT", "/api/v1/config/smtp_port", opsAdmin, map[string]any{"value": 2525}); r.Status != 200 {
			t.Fatalf("config change by ops: %d %s", r.Status, r.Body)
		}
		if r := ta.call("DELETE", path, admin, nil); r.Status != 200 {
			t.Fatalf("delete: %d %s", r.Status, r.Body)
		}
		if r := ta.call("DELETE", path, admin, nil); r.Status != 404 {
			t.Errorf("delete twice = %d, want 404", r.Status)
		}
		if r := ta.call("GET", "/api/v1/auth/me", opsAdmin, nil); r.Status != 401 {
			t.Errorf("session of a deleted user = %d, want 401", r.Status)
		}
		h, err := ta.Store.History(ctx, "smtp_port", 10)
		if err != nil || len(h) == 0 || h[0].Actor != "ops@example.com" {
			t.Fatalf("history after deleting its author: %+v %v", h, err)
		}
	})
}

// TestAPIKeyExpiry: a key with an expiry stops at it and is listed as
// expired; an expiry in the past is refused.
func TestAPIKeyExpiry(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, s db.Settings) {
		ta := startApp(t, s, nil)
		admin := ta.admin()
		past := time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)
		if r := ta.call("POST", "/api/v1/apikeys", admin, map[string]string{"name": "old", "expires_at": past}); r.Status != 400 {
			t.Fatalf("expiry in the past = %d %s", r.Status, r.Body)
		}
		if r := ta.call("POST", "/api/v1/apikeys", admin, map[string]string{"name": "bad", "expires_at": "tomorrow"}); r.Status != 400 {
			t.Fatalf("unparsable expiry = %d %s", r.Status, r.Body)
		}
		soon := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
		r := ta.call("POST", "/api/v1/apikeys", admin, map[string]string{"name": "soon", "expires_at": soon})
		if r.Status != 201 {
			t.Fatalf("create: %d %s", r.Status, r.Body)
		}
		key := r.JSON(t)["key"].(string)
		if r := ta.call("GET", "/api/v1/auth/me", key, nil); r.Status != 200 {
			t.Fatalf("fresh key = %d", r.Status)
		}
		// Move the expiry into the past, as time would.
		if _, err := ta.DB.ExecContext(context.Background(), ta.DB.Rebind(`UPDATE api_keys SET expires_at = ?`), time.Now().Add(-time.Second).UTC()); err != nil {
			t.Fatal(err)
		}
		if r := ta.call("GET", "/api/v1/auth/me", key, nil); r.Status != 401 {
			t.Fatalf("expired key = %d, want 401", r.Status)
		}
		l := ta.call("GET", "/api/v1/apikeys", admin, nil)
		if !strings.Contains(string(l.Body), `"expired":true`) || !strings.Contains(string(l.Body), `"last_used_at":"`) {
			t.Fatalf("listing does not show expiry and last use: %s", l.Body)
		}
	})
}

// TestSessionPurge: expired and revoked sessions are deleted, live ones
// kept.
func TestSessionPurge(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, s db.Settings) {
		ta := startApp(t, s, nil)
		live := ta.admin()
		gone := ta.admin()
		if r := ta.call("POST", "/api/v1/auth/logout", gone, nil); r.Status != 200 {
			t.Fatalf("logout: %d", r.Status)
		}
		ctx := context.Background()
		if _, err := ta.DB.ExecContext(ctx, ta.DB.Rebind(`INSERT INTO sessions (id, user_id, created_at, expires_at, revoked) VALUES (?, ?, ?, ?, ?)`),
			"expired-session", userByEmail(t, ta, adminEmail).ID, time.Now().Add(-2*time.Hour).UTC(), time.Now().Add(-time.Hour).UTC(), false); err != nil {
			t.Fatal(err)
		}
		n, err := ta.Auth.PurgeSessions(ctx)
		if err != nil || n != 2 {
			t.Fatalf("purged %d (%v), want 2 (one revoked, one expired)", n, err)
		}
		if r := ta.call("GET", "/api/v1/auth/me", live, nil); r.Status != 200 {
			t.Fatalf("live session after purge = %d", r.Status)
		}
	})
}

// TestOwnPasswordChangeIsThrottled: wrong current passwords count as
// failed sign-ins of the account, so a stolen session cannot guess.
func TestOwnPasswordChangeIsThrottled(t *testing.T) {
	ta := newSQLiteApp(t, nil)
	admin := ta.admin()
	tok := ta.userWithRole(admin, "v@example.com", "viewer")
	var codes []int
	for range 7 {
		codes = append(codes, ta.call("POST", "/api/v1/auth/password", tok,
			map[string]string{"current_password": "guess-guess-guess", "new_password": "a-brand-new-passphrase"}).Status)
	}
	if codes[0] != 400 || codes[6] != 429 {
		t.Fatalf("wrong current passwords answered %v; want 400 then 429", codes)
	}
	r := ta.call("POST", "/api/v1/auth/login", "", map[string]string{"email": "V@example.com", "password": userPassword})
	if r.Status != 429 {
		t.Fatalf("sign-in after the guesses = %d, want 429 (the same account bucket)", r.Status)
	}
}

// TestEmailMatchesExactly: an address that differs by an accent is
// another address, on every database, so it cannot be used to sign in to
// an account while dodging that account's throttle.
func TestEmailMatchesExactly(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, s db.Settings) {
		ta := startApp(t, s, nil)
		ta.userWithRole(ta.admin(), "view@example.com", "viewer")
		for range 5 {
			ta.call("POST", "/api/v1/auth/login", "", map[string]string{"email": "view@example.com", "password": "not-the-password-at-all"})
		}
		if r := ta.call("POST", "/api/v1/auth/login", "", map[string]string{"email": "view@example.com", "password": userPassword}); r.Status != 429 {
			t.Fatalf("the locked account answered %d", r.Status)
		}
		r := ta.call("POST", "/api/v1/auth/login", "", map[string]string{"email": "vi\u00e9w@example.com", "password": userPassword})
		if r.Status == 200 {
			t.Fatalf("an accented variant of a locked account signed in: %s", r.Body)
		}
	})
}
