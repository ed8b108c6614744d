package app

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"testing"

	"github.com/rookery/rookery/internal/db"
	"github.com/rookery/rookery/internal/dbtest"
	"github.com/rookery/rookery/license"
	"github.com/rookery/rookery/license/licensetest"
)

// TestEntitlementByTierOnEveryDatabase: a professional licence whose server
// lists no features still opens the professional routes (the tier grants
// them), and its own limits.max_users is refused with the one 403 shape, also
// when many creations race for the last places.
func TestEntitlementByTierOnEveryDatabase(t *testing.T) {
	lic := licensetest.Professional(licensetest.KeyProfessional)
	lic.Features = nil
	lic.Limits = map[string]int64{"max_users": 4}
	srv := licensetest.NewServer(lic)
	defer srv.Close()

	dbtest.Each(t, func(t *testing.T, s db.Settings) {
		ta := startApp(t, s, licenceEnv(srv, licensetest.KeyProfessional, true))
		admin := ta.admin()

		// The licence view asks the licence package: every catalogued
		// feature, granted by tier, and the licence's user limit.
		r := ta.call("GET", "/api/v1/license", admin, nil)
		var view struct {
			Entitlements map[string]bool `json:"entitlements"`
			Usage        struct {
				MaxUsers      int64 `json:"max_users"`
				MultipleTeams bool  `json:"multiple_teams"`
			} `json:"usage"`
		}
		if err := json.Unmarshal(r.Body, &view); r.Status != http.StatusOK || err != nil {
			t.Fatalf("licence view: %d %v %s", r.Status, err, r.Body)
		}
		cat := license.StandardCatalogue()
		if got := slices.Sorted(maps.Keys(view.Entitlements)); !slices.Equal(got, cat.Features()) {
			t.Errorf("entitlements name %v, want the catalogue %v", got, cat.Features())
		}
		for name, granted := range view.Entitlements {
			if want := cat.Grants(license.Professional, name); granted != want {
				t.Errorf("entitlement %s = %v, want %v", name, granted, want)
			}
		}
		if view.Usage.MaxUsers != 4 || !view.Usage.MultipleTeams {
			t.Errorf("usage = %+v, want max_users 4 and multiple_teams", view.Usage)
		}

		// Professional routes open by tier.
		for i, name := range []string{"one", "two"} {
			if r := ta.call("POST", "/api/v1/teams", admin, map[string]any{"name": name}); r.Status != http.StatusCreated {
				t.Fatalf("team %d on professional = %d %s", i+1, r.Status, r.Body)
			}
		}
		if r := ta.call("GET", "/api/v1/audit", admin, nil); r.Status != http.StatusOK {
			t.Errorf("audit on professional = %d %s", r.Status, r.Body)
		}
		if r := ta.call("GET", "/api/v1/config/smtp_host/history", admin, nil); r.Status != http.StatusOK {
			t.Errorf("history on professional = %d %s", r.Status, r.Body)
		}
		r = ta.call("POST", "/api/v1/apikeys", admin, map[string]string{"name": "ci"})
		key, _ := r.JSON(t)["key"].(string)
		if r.Status != http.StatusCreated || key == "" {
			t.Fatalf("API key on professional = %d %s", r.Status, r.Body)
		}
		if r := ta.call("GET", "/api/v1/auth/me", key, nil); r.Status != http.StatusOK {
			t.Errorf("using the API key = %d %s", r.Status, r.Body)
		}

		// Ten creations race for the three places left beside the admin.
		replies := make([]reply, 10)
		parallel(10, func(i int) {
			replies[i] = ta.call("POST", "/api/v1/users", admin, map[string]string{"email": fmt.Sprintf("p%d@example.com", i), "password": userPassword})
		})
		created := 0
		for _, r := range replies {
			switch r.Status {
			case http.StatusCreated:
				created++
			case http.StatusForbidden:
				checkUserLimitBody(t, r, "professional", 4)
			default:
				t.Errorf("unexpected answer %d %s", r.Status, r.Body)
			}
		}
		n, err := ta.Auth.Count(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if created != 3 || n != 4 {
			t.Fatalf("10 racing creations: %d created, %d users stored; want 3 and 4", created, n)
		}
	})
}

// checkUserLimitBody asserts the exact 403 body of a refused user: the
// sentence, and the limit named and valued, nothing else.
func checkUserLimitBody(t *testing.T, r reply, tier string, max int64) {
	t.Helper()
	var body map[string]json.RawMessage
	if err := json.Unmarshal(r.Body, &body); err != nil {
		t.Fatalf("403 body is not JSON: %s", r.Body)
	}
	want := map[string]string{
		"error":     fmt.Sprintf("%q", fmt.Sprintf("user limit reached: the %s licence allows at most %d users (limits.max_users); remove a user or upgrade the licence", tier, max)),
		"limit":     `"max_users"`,
		"max_users": fmt.Sprint(max),
	}
	if len(body) != len(want) {
		t.Errorf("403 body %s, want exactly the fields error, limit and max_users", r.Body)
	}
	for k, v := range want {
		if string(body[k]) != v {
			t.Errorf("403 body field %s = %s, want %s", k, body[k], v)
		}
	}
}
