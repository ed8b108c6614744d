package app

import (
	"net/http"
	"strings"
	"testing"

	"github.com/rookery/rookery/internal/db"
	"github.com/rookery/rookery/internal/dbtest"
)

// TestConfigAPIScenarios reads as the specification of the config API.
// Steps run in order against one server; each names its request and what
// must come back.
func TestConfigAPIScenarios(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, s db.Settings) {
		ta := startApp(t, s, map[string]string{"SMTP_HOST": "smtp.example.com"})
		admin := ta.admin()
		big := `{"value":"` + strings.Repeat("x", 1<<20) + `"}`
		steps := []struct {
			name         string
			method, path string
			body         any
			headers      []string
			status       int
			contains     []string
			etag         string
		}{
			{"list", "GET", "/api/v1/config", nil, nil, 200, []string{`"configs"`, `"key":"smtp_host"`, `"value":"smtp.example.com"`, `"updated_by":"system"`}, ""},
			{"filter category", "GET", "/api/v1/config?category=license", nil, nil, 200, []string{`"key":"license_key"`}, ""},
			{"unknown category", "GET", "/api/v1/config?category=misc", nil, nil, 400, []string{"unknown category"}, ""},
			{"search", "GET", "/api/v1/config?q=WADDLE", nil, nil, 200, []string{`"key":"waddleai_url"`}, ""},
			{"get", "GET", "/api/v1/config/smtp_host", nil, nil, 200, []string{`"type":"string"`, `"category":"email"`}, `"v1"`},
			{"get default", "GET", "/api/v1/config/smtp_port", nil, nil, 200, []string{`"value":"587"`, `"source":"default"`}, `"v0"`},
			{"get unknown", "GET", "/api/v1/config/nope", nil, nil, 404, []string{`"error":"Configuration not found"`}, ""},
			{"put unknown", "PUT", "/api/v1/config/nope", map[string]any{"value": "1"}, nil, 404, []string{"not found"}, ""},
			{"put empty body", "PUT", "/api/v1/config/smtp_port", "", nil, 400, []string{"empty"}, ""},
			{"put malformed", "PUT", "/api/v1/config/smtp_port", `{"value":`, nil, 400, []string{"not valid JSON"}, ""},
			{"put two objects", "PUT", "/api/v1/config/smtp_port", `{"value":1}{"value":2}`, nil, 400, []string{"single JSON object"}, ""},
			{"put missing value", "PUT", "/api/v1/config/smtp_port", map[string]any{}, nil, 400, []string{"Value is required"}, ""},
			{"put null", "PUT", "/api/v1/config/smtp_port", `{"value":null}`, nil, 400, []string{"Value is required"}, ""},
			{"put unknown field", "PUT", "/api/v1/config/smtp_port", map[string]any{"valu": 1}, nil, 400, []string{"unknown field"}, ""},
			{"put not integer", "PUT", "/api/v1/config/smtp_port", map[string]any{"value": "many"}, nil, 400, []string{"whole number", `"key":"smtp_port"`}, ""},
			{"put port range", "PUT", "/api/v1/config/smtp_port", map[string]any{"value": 70000}, nil, 400, []string{"between 1 and 65535"}, ""},
			{"put object for integer", "PUT", "/api/v1/config/smtp_port", `{"value":{"a":1}}`, nil, 400, []string{"not an object"}, ""},
			{"put banana boolean", "PUT", "/api/v1/config/release_mode", map[string]any{"value": "banana"}, nil, 400, []string{"true, false"}, ""},
			{"put bad url", "PUT", "/api/v1/config/waddleai_url", map[string]any{"value": "not a url"}, nil, 400, []string{"URL"}, ""},
			{"put bad email", "PUT", "/api/v1/config/smtp_from", map[string]any{"value": "nobody"}, nil, 400, []string{"email address"}, ""},
			{"put bad hostname", "PUT", "/api/v1/config/smtp_host", map[string]any{"value": "bad host!"}, nil, 400, []string{"host name"}, ""},
			{"put bad enum", "PUT", "/api/v1/config/killkrill_mode", map[string]any{"value": "grpc"}, nil, 400, []string{"entry, batch"}, ""},
			{"put bad licence shape", "PUT", "/api/v1/config/license_key", map[string]any{"value": "PENG-1"}, nil, 400, []string{"PENG-XXXX"}, ""},
			{"put too large", "PUT", "/api/v1/config/smtp_user", big, nil, 413, []string{"larger than"}, ""},
			{"put text/plain", "PUT", "/api/v1/config/smtp_port", `{"value":1}`, []string{"Content-Type", "text/plain"}, 415, []string{"application/json"}, ""},
			{"put bad if-match", "PUT", "/api/v1/config/smtp_port", map[string]any{"value": 25}, []string{"If-Match", "banana"}, 400, []string{"If-Match"}, ""},
			{"put create", "PUT", "/api/v1/config/smtp_port", map[string]any{"value": 2525}, []string{"If-Match", `"v0"`}, 200, []string{`"message":"Configuration updated successfully"`, `"value":"2525"`, `"updated_by":"admin@example.com"`}, `"v1"`},
			{"put stale", "PUT", "/api/v1/config/smtp_port", map[string]any{"value": 25}, []string{"If-Match", `"v0"`}, 412, []string{"changed by someone else", `"current_version":1`}, ""},
			{"put fresh", "PUT", "/api/v1/config/smtp_port", map[string]any{"value": "465"}, []string{"If-Match", `"v1"`}, 200, []string{`"value":"465"`}, `"v2"`},
			{"put boolean yes", "PUT", "/api/v1/config/ai_features_enabled", map[string]any{"value": "yes"}, nil, 200, []string{`"value":"true"`}, `"v1"`},
			{"put boolean native", "PUT", "/api/v1/config/ai_features_enabled", map[string]any{"value": false}, nil, 200, []string{`"value":"false"`}, `"v2"`},
			{"history", "GET", "/api/v1/config/smtp_port/history", nil, nil, 200, []string{`"action":"update"`, `"action":"create"`, `"old_value":"2525"`, `"new_value":"465"`, `"actor":"admin@example.com"`}, ""},
			{"history unknown", "GET", "/api/v1/config/nope/history", nil, nil, 404, nil, ""},
			{"history bad limit", "GET", "/api/v1/config/smtp_port/history?limit=0", nil, nil, 400, []string{"limit"}, ""},
			{"delete stale", "DELETE", "/api/v1/config/smtp_port", nil, []string{"If-Match", `"v1"`}, 412, nil, ""},
			{"delete", "DELETE", "/api/v1/config/smtp_port", nil, []string{"If-Match", `"v2"`}, 200, []string{"deleted successfully"}, ""},
			{"after delete falls back", "GET", "/api/v1/config/smtp_port", nil, nil, 200, []string{`"value":"587"`, `"source":"default"`}, ""},
			{"delete again", "DELETE", "/api/v1/config/smtp_port", nil, nil, 404, nil, ""},
			{"unknown API route", "GET", "/api/v1/nothing", nil, nil, 404, []string{"no such API endpoint"}, ""},
		}
		for _, st := range steps {
			r := ta.call(st.method, st.path, admin, st.body, st.headers...)
			if r.Status != st.status {
				t.Errorf("%s: %s %s = %d, want %d: %s", st.name, st.method, st.path, r.Status, st.status, trim(r.Body))
				continue
			}
			if !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
				t.Errorf("%s: content type %q", st.name, r.Header.Get("Content-Type"))
			}
			if !strings.Contains(string(r.Body), `"error"`) && st.status >= 400 {
				t.Errorf("%s: error body without \"error\": %s", st.name, trim(r.Body))
			}
			for _, want := range st.contains {
				if !strings.Contains(string(r.Body), want) {
					t.Errorf("%s: body lacks %s: %s", st.name, want, trim(r.Body))
				}
			}
			if st.etag != "" && r.Header.Get("ETag") != st.etag {
				t.Errorf("%s: ETag %q, want %s", st.name, r.Header.Get("ETag"), st.etag)
			}
		}
		// Every change above is applied to the running snapshot at once.
		if ta.Config.Bool("ai_features_enabled") || ta.Config.Int("smtp_port") != 587 {
			t.Errorf("snapshot not updated: ai=%v port=%d", ta.Config.Bool("ai_features_enabled"), ta.Config.Int("smtp_port"))
		}
	})
}

func trim(b []byte) string {
	if len(b) > 300 {
		return string(b[:300]) + "..."
	}
	return string(b)
}

// TestConfigRoutesRefuseNonAdmins probes every config route without
// credentials, as a viewer and as a maintainer, and checks nothing changed.
func TestConfigRoutesRefuseNonAdmins(t *testing.T) {
	ta := newSQLiteApp(t, nil)
	admin := ta.admin()
	viewer := ta.userWithRole(admin, "viewer@example.com", "viewer")
	maint := ta.userWithRole(admin, "maint@example.com", "maintainer")
	if r := ta.call("PUT", "/api/v1/config/smtp_user", admin, map[string]any{"value": "before"}); r.Status != 200 {
		t.Fatalf("seed value: %d %s", r.Status, r.Body)
	}
	rev := ta.Config.Snapshot().Revision
	routes := []struct {
		method, path string
		body         any
	}{
		{"GET", "/api/v1/config", nil},
		{"GET", "/api/v1/config/smtp_user", nil},
		{"PUT", "/api/v1/config/smtp_user", map[string]any{"value": "after"}},
		{"DELETE", "/api/v1/config/smtp_user", nil},
		{"GET", "/api/v1/config/smtp_user/history", nil},
		{"GET", "/api/v1/users", nil},
		{"POST", "/api/v1/users", map[string]any{"email": "x@example.com", "password": "long-password-1", "role": "admin"}},
		{"PATCH", "/api/v1/users/1", map[string]any{"role": "viewer"}},
	}
	for _, who := range []struct {
		name, token string
		status      int
	}{{"anonymous", "", 401}, {"bad token", "not-a-token", 401}, {"viewer", viewer, 403}, {"maintainer", maint, 403}} {
		for _, rt := range routes {
			r := ta.call(rt.method, rt.path, who.token, rt.body)
			if r.Status != who.status {
				t.Errorf("%s %s %s = %d, want %d", who.name, rt.method, rt.path, r.Status, who.status)
			}
			if strings.Contains(string(r.Body), "before") {
				t.Errorf("%s %s %s leaked a value: %s", who.name, rt.method, rt.path, r.Body)
			}
		}
	}
	if got := ta.Config.String("smtp_user"); got != "before" {
		t.Errorf("value changed to %q", got)
	}
	if ta.Config.Snapshot().Revision != rev {
		t.Errorf("revision moved from %d to %d", rev, ta.Config.Snapshot().Revision)
	}
	if r := ta.call("GET", "/api/v1/users", admin, nil); !strings.Contains(string(r.Body), `"total":3`) {
		t.Errorf("users changed: %s", r.Body)
	}
}

// TestSensitiveValueNeverLeaks sets a secret through the API and looks for
// it in every response, the logs, the audit rows and the raw table.
func TestSensitiveValueNeverLeaks(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, s db.Settings) {
		const secret = "wa-TOPSECRET-9f8e7d6c"
		ta := startApp(t, s, nil)
		admin := ta.admin()
		var bodies []string
		record := func(r reply) reply {
			bodies = append(bodies, string(r.Body)+strings.Join(r.Header.Values("ETag"), ""))
			return r
		}
		if r := record(ta.call("PUT", "/api/v1/config/waddleai_api_key", admin, map[string]any{"value": secret})); r.Status != 200 {
			t.Fatalf("put: %d %s", r.Status, r.Body)
		}
		record(ta.call("PUT", "/api/v1/config/waddleai_api_key", admin, map[string]any{"value": secret + "-2"}))
		record(ta.call("PUT", "/api/v1/config/waddleai_api_key", admin, map[string]any{"value": strings.Repeat("€", 70000)})) // refused: too long
		record(ta.call("GET", "/api/v1/config", admin, nil))
		g := record(ta.call("GET", "/api/v1/config/waddleai_api_key", admin, nil))
		record(ta.call("GET", "/api/v1/config/waddleai_api_key/history", admin, nil))
		if !strings.Contains(g.Body2(), `"value":"***SENSITIVE***"`) {
			t.Errorf("sensitive value not masked: %s", g.Body)
		}
		if ta.Config.Secret("waddleai_api_key").Reveal() != secret+"-2" {
			t.Error("the running snapshot does not hold the new secret")
		}
		for _, b := range append(bodies, ta.logs.String()) {
			if strings.Contains(b, "TOPSECRET") {
				t.Fatalf("secret leaked: %s", trim([]byte(b)))
			}
		}
		rows, err := ta.DB.Query(`SELECT config_value FROM config UNION ALL SELECT COALESCE(old_value, '') FROM config_audit UNION ALL SELECT COALESCE(new_value, '') FROM config_audit`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		n := 0
		for rows.Next() {
			var v string
			rows.Scan(&v)
			n++
			if strings.Contains(v, "TOPSECRET") {
				t.Fatalf("secret in a raw row: %q", v)
			}
		}
		if n < 3 {
			t.Fatalf("expected rows to scan, got %d", n)
		}
	})
}

func (r reply) Body2() string { return string(r.Body) }

// TestSessionsCookiesAndCSRF covers the browser path: the HttpOnly cookie,
// the Origin check on unsafe requests, logout and role changes.
func TestSessionsCookiesAndCSRF(t *testing.T) {
	ta := newSQLiteApp(t, nil)
	r := ta.call("POST", "/api/v1/auth/login", "", map[string]string{"email": adminEmail, "password": adminPassword})
	var cookie *http.Cookie
	for _, c := range (&http.Response{Header: r.Header}).Cookies() {
		if c.Name == "rookery_session" {
			cookie = c
		}
	}
	if cookie == nil || !cookie.HttpOnly || cookie.SameSite != http.SameSiteStrictMode {
		t.Fatalf("session cookie %+v", cookie)
	}
	withCookie := "Cookie"
	cv := "rookery_session=" + cookie.Value
	if r := ta.call("GET", "/api/v1/auth/me", "", nil, withCookie, cv); r.Status != 200 || !strings.Contains(string(r.Body), `"role":"admin"`) {
		t.Fatalf("me via cookie: %d %s", r.Status, r.Body)
	}
	body := map[string]any{"value": "csrf"}
	if r := ta.call("PUT", "/api/v1/config/smtp_user", "", body, withCookie, cv); r.Status != 403 {
		t.Errorf("cookie PUT without Origin = %d, want 403", r.Status)
	}
	if r := ta.call("PUT", "/api/v1/config/smtp_user", "", body, withCookie, cv, "Origin", "https://evil.example"); r.Status != 403 {
		t.Errorf("cookie PUT from another origin = %d, want 403", r.Status)
	}
	if ta.Config.String("smtp_user") == "csrf" {
		t.Fatal("a refused request changed the value")
	}
	if r := ta.call("PUT", "/api/v1/config/smtp_user", "", body, withCookie, cv, "Origin", ta.URL); r.Status != 200 {
		t.Errorf("cookie PUT from this origin = %d: %s", r.Status, r.Body)
	}
	if r := ta.call("POST", "/api/v1/auth/logout", "", nil, withCookie, cv, "Origin", ta.URL); r.Status != 200 {
		t.Fatalf("logout: %d %s", r.Status, r.Body)
	}
	if r := ta.call("GET", "/api/v1/auth/me", "", nil, withCookie, cv); r.Status != 401 {
		t.Errorf("after logout = %d, want 401", r.Status)
	}

	// A role change ends the user's sessions at once.
	admin := ta.admin()
	tok := ta.userWithRole(admin, "second@example.com", "admin")
	if r := ta.call("GET", "/api/v1/config", tok, nil); r.Status != 200 {
		t.Fatalf("second admin: %d", r.Status)
	}
	if r := ta.call("PATCH", "/api/v1/users/2", admin, map[string]any{"role": "viewer"}); r.Status != 200 {
		t.Fatalf("demote: %d %s", r.Status, r.Body)
	}
	if r := ta.call("GET", "/api/v1/config", tok, nil); r.Status != 401 {
		t.Errorf("demoted user's old token = %d, want 401", r.Status)
	}
	// The last admin cannot demote themselves.
	if r := ta.call("PATCH", "/api/v1/users/1", admin, map[string]any{"role": "viewer"}); r.Status != 400 || !strings.Contains(string(r.Body), "last admin") {
		t.Errorf("demote last admin = %d %s", r.Status, r.Body)
	}
}

func TestLoginThrottle(t *testing.T) {
	ta := newSQLiteApp(t, map[string]string{"LOGIN_MAX_ATTEMPTS": "3"})
	for i := 0; i < 3; i++ {
		if r := ta.call("POST", "/api/v1/auth/login", "", map[string]string{"email": adminEmail, "password": "wrong-password"}); r.Status != 401 {
			t.Fatalf("attempt %d = %d", i, r.Status)
		}
	}
	r := ta.call("POST", "/api/v1/auth/login", "", map[string]string{"email": adminEmail, "password": "wrong-password"})
	r = ta.call("POST", "/api/v1/auth/login", "", map[string]string{"email": adminEmail, "password": adminPassword})
	if r.Status != 429 || r.Header.Get("Retry-After") == "" {
		t.Fatalf("after too many failures = %d (Retry-After %q), want 429", r.Status, r.Header.Get("Retry-After"))
	}
	if !strings.Contains(string(r.Body), "too many failed sign-ins") {
		t.Errorf("429 body: %s", r.Body)
	}
}

func TestHealthReadyMetricsHeaders(t *testing.T) {
	ta := newSQLiteApp(t, nil)
	if r := ta.call("GET", "/healthz", "", nil); r.Status != 200 {
		t.Errorf("healthz %d", r.Status)
	}
	if r := ta.call("GET", "/readyz", "", nil); r.Status != 200 || !strings.Contains(string(r.Body), `"database":"ok"`) {
		t.Errorf("readyz %d %s", r.Status, r.Body)
	}
	r := ta.call("GET", "/metrics", "", nil, "X-Request-ID", "trace-abc-123")
	if r.Status != 200 || !strings.Contains(string(r.Body), "http_requests_total") || !strings.Contains(string(r.Body), "rookery_config_revision") {
		t.Errorf("metrics %d", r.Status)
	}
	if r.Header.Get("X-Request-ID") != "trace-abc-123" {
		t.Errorf("request id not echoed: %q", r.Header.Get("X-Request-ID"))
	}
	if r := ta.call("GET", "/healthz", "", nil, "X-Request-ID", "bad id <script>"); len(r.Header.Get("X-Request-ID")) != 24 {
		t.Errorf("unsafe request id kept: %q", r.Header.Get("X-Request-ID"))
	}
	for _, h := range []string{"X-Content-Type-Options", "X-Frame-Options", "Content-Security-Policy", "Referrer-Policy"} {
		if r.Header.Get(h) == "" {
			t.Errorf("missing security header %s", h)
		}
	}
}
