package app

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/rookery/rookery/internal/db"
	"github.com/rookery/rookery/internal/dbtest"
	"github.com/rookery/rookery/license/licensetest"
)

func licenceEnv(srv *licensetest.Server, key string, release bool) map[string]string {
	return map[string]string{"LICENSE_KEY": key, "LICENSE_SERVER_URL": srv.URL, "PRODUCT_NAME": licensetest.Product,
		"RELEASE_MODE": fmt.Sprint(release)}
}

func TestCommunityLicenceLimits(t *testing.T) {
	srv := licensetest.NewServer(licensetest.Community(licensetest.KeyCommunity), licensetest.Professional(licensetest.KeyProfessional))
	defer srv.Close()
	ta := newSQLiteApp(t, licenceEnv(srv, licensetest.KeyCommunity, true))
	admin := ta.admin()

	// Users: the admin plus four more fit in five; the sixth is refused.
	for i := 2; i <= 5; i++ {
		r := ta.call("POST", "/api/v1/users", admin, map[string]string{"email": fmt.Sprintf("u%d@example.com", i), "password": "a-long-enough-password"})
		if r.Status != 201 {
			t.Fatalf("user %d: %d %s", i, r.Status, r.Body)
		}
	}
	r := ta.call("POST", "/api/v1/users", admin, map[string]string{"email": "u6@example.com", "password": "a-long-enough-password"})
	if r.Status != 403 || !strings.Contains(string(r.Body), "max_users") || !strings.Contains(string(r.Body), "at most 5 users") {
		t.Fatalf("sixth user = %d %s, want 403 naming the limit", r.Status, r.Body)
	}
	if r := ta.call("GET", "/api/v1/users", admin, nil); !strings.Contains(string(r.Body), `"total":5`) {
		t.Errorf("refused user was stored: %s", r.Body)
	}

	// Teams: a single team on community.
	if r := ta.call("POST", "/api/v1/teams", admin, map[string]any{"name": "core", "members": []int{1, 2}}); r.Status != 201 {
		t.Fatalf("first team: %d %s", r.Status, r.Body)
	}
	r = ta.call("POST", "/api/v1/teams", admin, map[string]any{"name": "second"})
	m := r.JSON(t)
	if r.Status != 403 || m["error"] != "feature_not_entitled" || m["feature"] != "multiple_teams" {
		t.Fatalf("second team = %d %s", r.Status, r.Body)
	}

	// Audit log viewing is professional.
	r = ta.call("GET", "/api/v1/config/smtp_host/history", admin, nil)
	if m := r.JSON(t); r.Status != 403 || m["feature"] != "audit_logs" || m["message"] == "" {
		t.Fatalf("history on community = %d %s", r.Status, r.Body)
	}

	// The licence view: tier, usage, never the key.
	r = ta.call("GET", "/api/v1/license", ta.login("u2@example.com", "a-long-enough-password"), nil)
	body := string(r.Body)
	if r.Status != 200 || !strings.Contains(body, `"tier":"community"`) || !strings.Contains(body, `"source":"live"`) || !strings.Contains(body, `"max_users":5`) {
		t.Fatalf("licence view: %d %s", r.Status, body)
	}
	if strings.Contains(body, licensetest.KeyCommunity) || strings.Contains(ta.logs.String(), licensetest.KeyCommunity) {
		t.Fatal("the licence key leaked into the licence view or the logs")
	}

	// Changing the key through the config API re-validates at once.
	if r := ta.call("PUT", "/api/v1/config/license_key", admin, map[string]any{"value": licensetest.KeyProfessional}); r.Status != 200 {
		t.Fatalf("change key: %d %s", r.Status, r.Body)
	}
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(string(ta.call("GET", "/api/v1/license", admin, nil).Body), `"tier":"professional"`) {
		if time.Now().After(deadline) {
			t.Fatal("licence not re-validated after the key changed")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if r := ta.call("POST", "/api/v1/teams", admin, map[string]any{"name": "second"}); r.Status != 201 {
		t.Errorf("second team on professional = %d %s", r.Status, r.Body)
	}
	if r := ta.call("GET", "/api/v1/audit", admin, nil); r.Status != 200 || !strings.Contains(string(r.Body), `"key":"license_key"`) {
		t.Errorf("audit log on professional = %d %s", r.Status, r.Body)
	}
}

func TestReleaseModeStartUp(t *testing.T) {
	srv := licensetest.NewServer(licensetest.Professional(licensetest.KeyProfessional))
	defer srv.Close()

	// A rejected key in release mode stops start-up with a one-line reason.
	_, err := tryStartApp(t, dbtest.Fresh(t, db.SQLite), licenceEnv(srv, licensetest.KeyUnknown, true))
	if err == nil || strings.Contains(err.Error(), "\n") || strings.Contains(err.Error(), licensetest.KeyUnknown) {
		t.Fatalf("rejected licence in release mode: err = %v", err)
	}
	// The same in development mode only warns, and every feature is on.
	ta := startApp(t, dbtest.Fresh(t, db.SQLite), licenceEnv(srv, licensetest.KeyUnknown, false))
	admin := ta.admin()
	for _, name := range []string{"a", "b"} {
		if r := ta.call("POST", "/api/v1/teams", admin, map[string]any{"name": name}); r.Status != 201 {
			t.Errorf("team %s in development mode = %d", name, r.Status)
		}
	}
	if r := ta.call("GET", "/api/v1/license", admin, nil); !strings.Contains(string(r.Body), `"source":"development"`) {
		t.Errorf("development source: %s", r.Body)
	}

	// A valid licence is cached on disk; a restart while the server is
	// down starts from the cache.
	s := dbtest.Fresh(t, db.SQLite)
	first := startApp(t, s, licenceEnv(srv, licensetest.KeyProfessional, true))
	if err := first.Shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}
	srv.Fail(500)
	second := startApp(t, s, licenceEnv(srv, licensetest.KeyProfessional, true))
	body := string(second.call("GET", "/api/v1/license", second.admin(), nil).Body)
	if !strings.Contains(body, `"source":"cached"`) || !strings.Contains(body, `"tier":"professional"`) {
		t.Fatalf("restart on the cache: %s", body)
	}
	// And without a cache, an unreachable server in release mode is fatal.
	if _, err := tryStartApp(t, dbtest.Fresh(t, db.SQLite), licenceEnv(srv, licensetest.KeyProfessional, true)); err == nil {
		t.Fatal("release mode started with no licence and no cache")
	}
}

func TestAPIKeysAreProfessional(t *testing.T) {
	srv := licensetest.NewServer(licensetest.Community(licensetest.KeyCommunity), licensetest.Professional(licensetest.KeyProfessional))
	defer srv.Close()
	ta := newSQLiteApp(t, licenceEnv(srv, licensetest.KeyProfessional, true))
	admin := ta.admin()
	viewer := ta.userWithRole(admin, "v@example.com", "viewer")

	r := ta.call("POST", "/api/v1/apikeys", viewer, map[string]string{"name": "ci"})
	if r.Status != 201 {
		t.Fatalf("create key: %d %s", r.Status, r.Body)
	}
	key, _ := r.JSON(t)["key"].(string)
	if !strings.HasPrefix(key, "rk_") {
		t.Fatalf("key %q", key)
	}
	if r := ta.call("GET", "/api/v1/auth/me", key, nil); r.Status != 200 || !strings.Contains(string(r.Body), "v@example.com") {
		t.Fatalf("me with key: %d %s", r.Status, r.Body)
	}
	if r := ta.call("GET", "/api/v1/config", key, nil); r.Status != 403 {
		t.Errorf("viewer key on config = %d, want 403", r.Status)
	}
	if r := ta.call("GET", "/api/v1/apikeys", admin, nil); strings.Contains(string(r.Body), key) || !strings.Contains(string(r.Body), `"name":"ci"`) {
		t.Errorf("listing shows the secret or misses the key: %s", r.Body)
	}
	var stored int
	if err := ta.DB.QueryRow(`SELECT COUNT(*) FROM api_keys WHERE key_hash = '` + key + `'`).Scan(&stored); err != nil || stored != 0 {
		t.Errorf("the key is stored in clear (%d, %v)", stored, err)
	}

	// Downgrading to community stops keys from working and from being made.
	if r := ta.call("PUT", "/api/v1/config/license_key", admin, map[string]any{"value": licensetest.KeyCommunity}); r.Status != 200 {
		t.Fatal(r.Status)
	}
	deadline := time.Now().Add(5 * time.Second)
	for ta.call("GET", "/api/v1/auth/me", key, nil).Status != 403 {
		if time.Now().After(deadline) {
			t.Fatal("API key still works after the downgrade")
		}
		time.Sleep(20 * time.Millisecond)
	}
	r = ta.call("POST", "/api/v1/apikeys", admin, map[string]string{"name": "x"})
	if m := r.JSON(t); r.Status != 403 || m["feature"] != "api_keys" {
		t.Errorf("create on community = %d %s", r.Status, r.Body)
	}

	// Back on professional, a revoked key is refused.
	ta.call("PUT", "/api/v1/config/license_key", admin, map[string]any{"value": licensetest.KeyProfessional})
	for ta.call("GET", "/api/v1/auth/me", key, nil).Status != 200 {
		if time.Now().After(deadline.Add(5 * time.Second)) {
			t.Fatal("API key did not come back with the licence")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if r := ta.call("DELETE", "/api/v1/apikeys/1", viewer, nil); r.Status != 200 {
		t.Fatalf("revoke: %d %s", r.Status, r.Body)
	}
	if r := ta.call("GET", "/api/v1/auth/me", key, nil); r.Status != 401 {
		t.Errorf("revoked key = %d, want 401", r.Status)
	}
	if r := ta.call("DELETE", "/api/v1/apikeys/1", viewer, nil); r.Status != 404 {
		t.Errorf("revoke twice = %d, want 404", r.Status)
	}
}
