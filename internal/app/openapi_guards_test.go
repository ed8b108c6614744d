package app

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/rookery/rookery/internal/httpapi"
	"github.com/rookery/rookery/license"
	"github.com/rookery/rookery/license/licensetest"
)

// TestAPIDocumentGuardsHold: what the API document says about who may
// call a route is what the server does. Every route it marks with a role
// answers 401 without credentials, every admin route answers a viewer 403
// naming the role, and every route behind a licence feature a community
// licence lacks answers 403 (naming the feature, or for the AI routes
// that AI is switched off).
func TestAPIDocumentGuardsHold(t *testing.T) {
	srv := licensetest.NewServer(licensetest.Community(licensetest.KeyCommunity))
	defer srv.Close()
	ta := newSQLiteApp(t, licenceEnv(srv, licensetest.KeyCommunity, true))
	admin := ta.admin()
	viewer := ta.userWithRole(admin, "viewer@example.com", "viewer")

	raw, err := httpapi.OpenAPI()
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Paths map[string]map[string]struct {
			Role    string `json:"x-rookery-role"`
			Feature string `json:"x-rookery-licence-feature"`
		} `json:"paths"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	fill := strings.NewReplacer("{id}", "999999", "{key}", "smtp_port", "{name}", "license")
	catalogue := license.StandardCatalogue()
	checked := 0
	for path, ops := range doc.Paths {
		url := fill.Replace(path)
		for method, op := range ops {
			method = strings.ToUpper(method)
			what := method + " " + path
			if op.Role != "" {
				checked++
				if r := ta.call(method, url, "", nil); r.Status != http.StatusUnauthorized {
					t.Errorf("%s without credentials: %d %s, want 401", what, r.Status, r.Body)
				}
				if op.Role == "admin" {
					r := ta.call(method, url, viewer, nil)
					if body := r.JSON(t); r.Status != http.StatusForbidden || body["required_role"] != "admin" {
						t.Errorf("%s as a viewer: %d %s, want 403 naming the admin role", what, r.Status, r.Body)
					}
				}
			}
			if op.Feature != "" && !catalogue.Grants(license.Community, op.Feature) {
				checked++
				token := ""
				if op.Role != "" {
					token = admin
				}
				if location, ok := ta.redirected(method, url, token); ok {
					// A browser route (single sign-on) lands on the login
					// page with a reason naming the feature instead.
					if !strings.HasPrefix(location, "/login?sso_error=") || !strings.Contains(location, op.Feature) {
						t.Errorf("%s on a community licence: sent to %q, want the login page naming %s", what, location, op.Feature)
					}
					continue
				}
				r := ta.call(method, url, token, nil)
				body := r.JSON(t)
				if r.Status != http.StatusForbidden || body["feature"] != op.Feature && body["code"] != "ai_features_disabled" {
					t.Errorf("%s on a community licence: %d %s, want 403 naming %s", what, r.Status, r.Body, op.Feature)
				}
			}
		}
	}
	if checked < 30 {
		t.Fatalf("only %d guards checked; the document lost its roles?", checked)
	}
	t.Logf("%d guards of the API document checked against the server", checked)
}

// redirected makes the request without following a redirect and returns
// where it was sent, if it was.
func (ta *testApp) redirected(method, path, token string) (string, bool) {
	ta.t.Helper()
	req, err := http.NewRequest(method, ta.URL+path, nil)
	if err != nil {
		ta.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Do(req)
	if err != nil {
		ta.t.Fatalf("%s %s: %v", method, path, err)
	}
	resp.Body.Close()
	if resp.StatusCode < 300 || resp.StatusCode > 399 {
		return "", false
	}
	loc, err := url.QueryUnescape(resp.Header.Get("Location"))
	if err != nil {
		ta.t.Fatalf("%s %s: location %q: %v", method, path, resp.Header.Get("Location"), err)
	}
	return loc, true
}
