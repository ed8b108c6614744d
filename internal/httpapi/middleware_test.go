package httpapi

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rookery/rookery/internal/auth"
	"github.com/rookery/rookery/internal/db"
	"github.com/rookery/rookery/internal/dbtest"
	"github.com/rookery/rookery/license"
	"github.com/rookery/rookery/license/licensetest"
)

// bareServer is a Server with no parts behind it, for the middleware that
// needs none, plus a few probe routes.
func bareServer(t *testing.T, d Deps) *Server {
	t.Helper()
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	if d.License == nil {
		d.License = devManager(t) // the routes' licence gates need one
	}
	s := New(d)
	s.Handle("GET /api/v1/t/id", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"id": requestID(r.Context())})
	}))
	s.Handle("GET /api/v1/t/panic", http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		panic("cannot reach postgres://admin:hunter2@db/rookery")
	}))
	s.Handle("GET /api/v1/t/abort", http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		panic(http.ErrAbortHandler)
	}))
	deadline := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		d, ok := r.Context().Deadline()
		writeJSON(w, http.StatusOK, map[string]any{"deadline": ok, "left_ms": time.Until(d).Milliseconds()})
	})
	for _, p := range []string{"GET /api/v1/t/deadline", "GET /api/v1/ai/t/deadline", "GET /t/deadline", "GET /healthz-like"} {
		s.Handle(p, deadline)
	}
	return s
}

func serve(h http.Handler, r *http.Request) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	return rec
}

func jsonBody(t *testing.T, rec *httptest.ResponseRecorder) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &m); err != nil {
		t.Fatalf("body is not JSON: %v: %s", err, rec.Body)
	}
	return m
}

// TestRequestID: a caller's X-Request-ID is kept only when short and plain
// (it goes into logs); otherwise a fresh one is made. Either way the
// response and the handler see the same id.
func TestRequestID(t *testing.T) {
	s := bareServer(t, Deps{})
	tests := []struct {
		name, sent string
		kept       bool
	}{
		{name: "plain", sent: "trace-abc_123.4:5", kept: true},
		{name: "none", sent: ""},
		{name: "too long", sent: strings.Repeat("a", 101)},
		{name: "longest kept", sent: strings.Repeat("a", 100), kept: true},
		{name: "space", sent: "a b"},
		{name: "markup", sent: "<script>"},
		{name: "quote", sent: `a"b`},
		{name: "non-ASCII", sent: "idé"},
		{name: "control", sent: "a\x7fb"},
	}
	seen := map[string]bool{}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/api/v1/t/id", nil)
			if tt.sent != "" {
				r.Header.Set("X-Request-ID", tt.sent)
			}
			rec := serve(s.Handler(), r)
			got := rec.Header().Get("X-Request-ID")
			if inner := jsonBody(t, rec)["id"]; inner != got {
				t.Errorf("handler saw %q, response says %q", inner, got)
			}
			if tt.kept {
				if got != tt.sent {
					t.Errorf("X-Request-ID = %q, want %q kept", got, tt.sent)
				}
				return
			}
			if got == tt.sent || len(got) != 24 || strings.Trim(got, "0123456789abcdef") != "" || seen[got] {
				t.Errorf("X-Request-ID = %q for %q, want a fresh 24-digit hex id", got, tt.sent)
			}
			seen[got] = true
		})
	}
}

// TestSecurityHeaders: every answer carries the browser protections; API
// answers are never cached; HSTS only when the client came over HTTPS
// (directly, or through a proxy as SECURE_COOKIES says).
func TestSecurityHeaders(t *testing.T) {
	always := map[string]string{
		"X-Content-Type-Options":     "nosniff",
		"X-Frame-Options":            "DENY",
		"Referrer-Policy":            "no-referrer",
		"Cross-Origin-Opener-Policy": "same-origin",
	}
	tests := []struct {
		name, path string
		secure     bool // SECURE_COOKIES
		tls        bool
		noStore    bool
		hsts       bool
	}{
		{name: "API over HTTP", path: "/api/v1/t/id", noStore: true},
		{name: "API over TLS", path: "/api/v1/t/id", tls: true, noStore: true, hsts: true},
		{name: "API behind a TLS proxy", path: "/api/v1/t/id", secure: true, noStore: true, hsts: true},
		{name: "outside the API", path: "/t/deadline"},
		{name: "unknown API path", path: "/api/v1/nothing", noStore: true},
		{name: "panic", path: "/api/v1/t/panic", noStore: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := bareServer(t, Deps{SecureCookies: tt.secure})
			r := httptest.NewRequest("GET", tt.path, nil)
			if tt.tls {
				r.TLS = &tls.ConnectionState{}
			}
			h := serve(s.Handler(), r).Header()
			for k, v := range always {
				if h.Get(k) != v {
					t.Errorf("%s = %q, want %q", k, h.Get(k), v)
				}
			}
			if csp := h.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'self'") || !strings.Contains(csp, "frame-ancestors 'none'") {
				t.Errorf("Content-Security-Policy = %q", csp)
			}
			if got := h.Get("Cache-Control") == "no-store"; got != tt.noStore {
				t.Errorf("Cache-Control = %q, want no-store: %v", h.Get("Cache-Control"), tt.noStore)
			}
			if got := h.Get("Strict-Transport-Security") != ""; got != tt.hsts {
				t.Errorf("Strict-Transport-Security = %q, want present: %v", h.Get("Strict-Transport-Security"), tt.hsts)
			}
		})
	}
}

// TestPanicRecovery: a handler that panics answers 500 with the API's
// error shape and nothing of the panic (which may hold a secret); the
// request is still logged as a 500 and the panic goes to the server log.
// http.ErrAbortHandler is passed on, as net/http expects.
func TestPanicRecovery(t *testing.T) {
	var logs strings.Builder
	var mu sync.Mutex
	var records []RequestRecord
	s := bareServer(t, Deps{
		Log: slog.New(slog.NewTextHandler(&lockedWriter{w: &logs, mu: &mu}, nil)),
		OnRequest: func(rec RequestRecord) {
			mu.Lock()
			records = append(records, rec)
			mu.Unlock()
		},
	})
	rec := serve(s.Handler(), httptest.NewRequest("GET", "/api/v1/t/panic", nil))
	if rec.Code != 500 {
		t.Fatalf("status %d, want 500", rec.Code)
	}
	body := jsonBody(t, rec)
	if len(body) != 1 || body["error"] != "internal error; the server log has details" {
		t.Errorf("body %s", rec.Body)
	}
	if strings.Contains(rec.Body.String(), "hunter2") || rec.Header().Get("Content-Type") != "application/json; charset=utf-8" {
		t.Errorf("answer leaks the panic or is not JSON: %q %s", rec.Header().Get("Content-Type"), rec.Body)
	}
	mu.Lock()
	if len(records) != 1 || records[0].Status != 500 || records[0].Route != "GET /api/v1/t/panic" {
		t.Errorf("request records %+v", records)
	}
	if !strings.Contains(logs.String(), "handler panicked") {
		t.Errorf("server log %q", logs.String())
	}
	mu.Unlock()

	defer func() {
		if v := recover(); v != http.ErrAbortHandler {
			t.Errorf("recovered %v, want http.ErrAbortHandler passed on", v)
		}
	}()
	serve(s.Handler(), httptest.NewRequest("GET", "/api/v1/t/abort", nil))
}

type lockedWriter struct {
	w  io.Writer
	mu *sync.Mutex
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// TestAPIDeadline: API requests get the 15 s limit (a frozen database must
// not hold them forever); AI calls have their own timeout and everything
// outside /api/ (the UI, probes) none.
func TestAPIDeadline(t *testing.T) {
	s := bareServer(t, Deps{})
	tests := []struct {
		path     string
		deadline bool
	}{
		{path: "/api/v1/t/deadline", deadline: true},
		{path: "/api/v1/ai/t/deadline"},
		{path: "/t/deadline"},
		{path: "/healthz-like"},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			m := jsonBody(t, serve(s.Handler(), httptest.NewRequest("GET", tt.path, nil)))
			if m["deadline"] != tt.deadline {
				t.Fatalf("deadline set = %v, want %v", m["deadline"], tt.deadline)
			}
			if left := m["left_ms"].(float64); tt.deadline && (left > float64(apiDeadline.Milliseconds()) || left < float64((apiDeadline-5*time.Second).Milliseconds())) {
				t.Errorf("time left %v ms, want about %v", left, apiDeadline)
			}
		})
	}
}

// authServer is a Server with users, sessions and a licence on a fresh
// database of set's kind, and a route per role plus one that changes
// something (and counts how often it ran).
type authServer struct {
	*Server
	changes atomic.Int64
	tokens  map[auth.Role]string
	apiKey  string
}

func newAuthServer(t *testing.T, set db.Settings, lic *license.Manager) *authServer {
	t.Helper()
	d := dbtest.OpenSettings(t, set)
	svc := auth.New(d, []byte("0123456789abcdef0123456789abcdef"), auth.Options{BcryptCost: 4})
	ctx := context.Background()
	as := &authServer{tokens: map[auth.Role]string{}}
	as.Server = bareServer(t, Deps{Auth: svc, License: lic})
	for _, role := range []auth.Role{auth.Admin, auth.Maintainer, auth.Viewer} {
		u, err := svc.Create(ctx, string(role)+"@example.com", "a-long-enough-password", role)
		if err != nil {
			t.Fatal(err)
		}
		tok, _, err := svc.Issue(ctx, u)
		if err != nil {
			t.Fatal(err)
		}
		as.tokens[role] = tok
		if role == auth.Viewer {
			p, err := svc.Verify(ctx, tok)
			if err != nil {
				t.Fatal(err)
			}
			if _, as.apiKey, err = svc.CreateAPIKey(ctx, u.ID, p.SessionID, "ci", time.Time{}); err != nil {
				t.Fatal(err)
			}
		}
		as.Handle("GET /api/v1/t/"+string(role), as.require(role, func(w http.ResponseWriter, r *http.Request) {
			p, _ := principal(r.Context())
			writeJSON(w, http.StatusOK, map[string]any{"email": p.Email, "role": p.Role})
		}))
	}
	as.Handle("POST /api/v1/t/change", as.require(auth.Viewer, func(w http.ResponseWriter, r *http.Request) {
		as.changes.Add(1)
		writeJSON(w, http.StatusOK, map[string]bool{"changed": true})
	}))
	return as
}

// devManager is a licence manager in development mode: every feature on.
func devManager(t *testing.T) *license.Manager {
	t.Helper()
	m, err := license.New(license.Settings{}, license.Options{Logger: slog.New(slog.DiscardHandler), FeatureTiers: license.StandardCatalogue()})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Refresh(t.Context()); err != nil {
		t.Fatal(err)
	}
	return m
}

// TestAuthenticate: who is calling comes from a Bearer token, an API key
// or the session cookie; malformed or unknown credentials answer 401 with
// a sentence; a cookie request that changes something must come from this
// site (http.CrossOriginProtection, plus: a browser names its origin), and
// a refused request runs nothing. Bearer tokens are not subject to the
// origin check: browsers never attach them on their own.
func TestAuthenticate(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, set db.Settings) {
		as := newAuthServer(t, set, devManager(t))
		viewer := as.tokens[auth.Viewer]
		cookie := "rookery_session=" + viewer
		const self, evil = "http://example.com", "https://evil.example"
		tests := []struct {
			name     string
			method   string
			headers  []string // name, value pairs
			status   int
			contains string // in the body
		}{
			{name: "nothing", method: "GET", status: 401, contains: "sign in first"},
			{name: "basic auth", method: "GET", headers: []string{"Authorization", "Basic dXNlcjpwYXNz"}, status: 401, contains: "must be: Bearer"},
			{name: "bearer without token", method: "GET", headers: []string{"Authorization", "Bearer "}, status: 401, contains: "must be: Bearer"},
			{name: "scheme only", method: "GET", headers: []string{"Authorization", "Bearer"}, status: 401, contains: "must be: Bearer"},
			{name: "bearer garbage", method: "GET", headers: []string{"Authorization", "Bearer not.a.token"}, status: 401, contains: "sign in first"},
			{name: "bearer", method: "GET", headers: []string{"Authorization", "Bearer " + viewer}, status: 200, contains: `"role":"viewer"`},
			{name: "bearer lower case", method: "GET", headers: []string{"Authorization", "bearer   " + viewer}, status: 200, contains: `"role":"viewer"`},
			{name: "API key", method: "GET", headers: []string{"Authorization", "Bearer " + as.apiKey}, status: 200, contains: `"role":"viewer"`},
			{name: "unknown API key", method: "GET", headers: []string{"Authorization", "Bearer " + auth.APIKeyPrefix + "nosuchkey"}, status: 401},
			{name: "cookie read", method: "GET", headers: []string{"Cookie", cookie}, status: 200, contains: `"role":"viewer"`},
			{name: "empty cookie", method: "GET", headers: []string{"Cookie", "rookery_session="}, status: 401},
			{name: "header before cookie", method: "GET", headers: []string{"Authorization", "Bearer not.a.token", "Cookie", cookie}, status: 401},

			{name: "cookie change, same origin", method: "POST", headers: []string{"Cookie", cookie, "Origin", self}, status: 200},
			{name: "cookie change, Sec-Fetch-Site same-origin", method: "POST", headers: []string{"Cookie", cookie, "Sec-Fetch-Site", "same-origin", "Origin", self}, status: 200},
			{name: "cookie change, other origin", method: "POST", headers: []string{"Cookie", cookie, "Origin", evil}, status: 403, contains: "cross-site request refused"},
			{name: "cookie change, cross-site", method: "POST", headers: []string{"Cookie", cookie, "Sec-Fetch-Site", "cross-site", "Origin", evil}, status: 403, contains: "cross-site request refused"},
			{name: "cookie change, same-site sibling", method: "POST", headers: []string{"Cookie", cookie, "Sec-Fetch-Site", "same-site", "Origin", "http://other.example.com"}, status: 403},
			{name: "cookie change, cross-site claiming our origin", method: "POST", headers: []string{"Cookie", cookie, "Sec-Fetch-Site", "cross-site", "Origin", self}, status: 403},
			{name: "cookie change, no origin at all", method: "POST", headers: []string{"Cookie", cookie}, status: 403, contains: "Authorization: Bearer"},
			{name: "cookie change, Referer only", method: "POST", headers: []string{"Cookie", cookie, "Referer", self + "/settings"}, status: 403},
			{name: "cookie change, null origin", method: "POST", headers: []string{"Cookie", cookie, "Origin", "null"}, status: 403},
			{name: "bearer change from another site", method: "POST", headers: []string{"Authorization", "Bearer " + viewer, "Sec-Fetch-Site", "cross-site", "Origin", evil}, status: 200},
			{name: "bearer change, no origin", method: "POST", headers: []string{"Authorization", "Bearer " + viewer}, status: 200},
			{name: "API key change from another site", method: "POST", headers: []string{"Authorization", "Bearer " + as.apiKey, "Origin", evil}, status: 200},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				path := "/api/v1/t/viewer"
				if tt.method == "POST" {
					path = "/api/v1/t/change"
				}
				r := httptest.NewRequest(tt.method, path, nil)
				for i := 0; i+1 < len(tt.headers); i += 2 {
					r.Header.Set(tt.headers[i], tt.headers[i+1])
				}
				before := as.changes.Load()
				rec := serve(as.Handler(), r)
				if rec.Code != tt.status || !strings.Contains(rec.Body.String(), tt.contains) {
					t.Fatalf("%d %s; want %d with %q", rec.Code, rec.Body, tt.status, tt.contains)
				}
				if rec.Code != 200 {
					if msg, _ := jsonBody(t, rec)["error"].(string); msg == "" || strings.Contains(rec.Body.String(), viewer) {
						t.Errorf("refusal without a sentence, or echoing the token: %s", rec.Body)
					}
					if as.changes.Load() != before {
						t.Error("a refused request ran the handler")
					}
				}
			})
		}
	})
}

// TestAuthenticateConcurrent: many requests at once, cookie and Bearer,
// from this site and another, each get their own answer: the origin check
// and the principal never leak between requests.
func TestAuthenticateConcurrent(t *testing.T) {
	as := newAuthServer(t, dbtest.Fresh(t, db.SQLite), devManager(t))
	const n = 200
	var wg sync.WaitGroup
	var wrong atomic.Int64
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := httptest.NewRequest("POST", "/api/v1/t/change", nil)
			want := 200
			switch i % 3 {
			case 0:
				r.Header.Set("Cookie", "rookery_session="+as.tokens[auth.Viewer])
				r.Header.Set("Origin", "https://evil.example")
				want = 403
			case 1:
				r.Header.Set("Cookie", "rookery_session="+as.tokens[auth.Admin])
				r.Header.Set("Origin", "http://example.com")
			case 2:
				r.Header.Set("Authorization", "Bearer "+as.tokens[auth.Maintainer])
				r.Header.Set("Origin", "https://evil.example")
			}
			if rec := serve(as.Handler(), r); rec.Code != want {
				wrong.Add(1)
			}
		}()
	}
	wg.Wait()
	if wrong.Load() != 0 {
		t.Fatalf("%d of %d concurrent requests got the wrong answer", wrong.Load(), n)
	}
	if got, want := as.changes.Load(), int64(n-(n+2)/3); got != want {
		t.Fatalf("%d changes ran, want %d (the cross-site ones refused)", got, want)
	}
}

// TestAPIKeysNeedTheirFeature: a licence without "api_keys" stops API keys
// working (403 naming the feature), while session tokens still do.
func TestAPIKeysNeedTheirFeature(t *testing.T) {
	srv := licensetest.NewServer(licensetest.Community(licensetest.KeyCommunity))
	t.Cleanup(srv.Close)
	m, err := license.New(license.Settings{Key: license.Key(licensetest.KeyCommunity), ServerURL: srv.URL, Product: licensetest.Product, ReleaseMode: true},
		license.Options{Logger: slog.New(slog.DiscardHandler), FeatureTiers: license.StandardCatalogue()})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Refresh(t.Context()); err != nil {
		t.Fatal(err)
	}
	as := newAuthServer(t, dbtest.Fresh(t, db.SQLite), m)
	r := httptest.NewRequest("GET", "/api/v1/t/viewer", nil)
	r.Header.Set("Authorization", "Bearer "+as.apiKey)
	if rec := serve(as.Handler(), r); rec.Code != 403 || jsonBody(t, rec)["feature"] != "api_keys" {
		t.Errorf("API key on community = %d %s, want 403 naming api_keys", rec.Code, rec.Body)
	}
	r = httptest.NewRequest("GET", "/api/v1/t/viewer", nil)
	r.Header.Set("Authorization", "Bearer "+as.tokens[auth.Viewer])
	if rec := serve(as.Handler(), r); rec.Code != 200 {
		t.Errorf("session token on community = %d %s", rec.Code, rec.Body)
	}
}

// TestRequireRoles: each route admits its role and the ones above it, and
// tells the others which role it needs.
func TestRequireRoles(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, set db.Settings) {
		as := newAuthServer(t, set, devManager(t))
		roles := []auth.Role{auth.Viewer, auth.Maintainer, auth.Admin}
		for i, route := range roles {
			for j, caller := range roles {
				t.Run(string(caller)+" on "+string(route), func(t *testing.T) {
					r := httptest.NewRequest("GET", "/api/v1/t/"+string(route), nil)
					r.Header.Set("Authorization", "Bearer "+as.tokens[caller])
					rec := serve(as.Handler(), r)
					if j >= i {
						if rec.Code != 200 || jsonBody(t, rec)["role"] != string(caller) {
							t.Fatalf("%d %s, want 200 as %s", rec.Code, rec.Body, caller)
						}
						return
					}
					m := jsonBody(t, rec)
					if rec.Code != 403 || m["required_role"] != string(route) || !strings.Contains(m["error"].(string), "needs the "+string(route)+" role") {
						t.Fatalf("%d %s, want 403 naming the %s role", rec.Code, rec.Body, route)
					}
				})
			}
		}
	})
}

// TestLoginRefusesCrossSite: a page of another site cannot sign the
// browser in; the site's own pages and clients without a browser can.
func TestLoginRefusesCrossSite(t *testing.T) {
	as := newAuthServer(t, dbtest.Fresh(t, db.SQLite), devManager(t))
	tests := []struct {
		name    string
		headers []string
		status  int
	}{
		{name: "no browser", status: 200},
		{name: "own page", headers: []string{"Origin", "http://example.com", "Sec-Fetch-Site", "same-origin"}, status: 200},
		{name: "own page, older browser", headers: []string{"Origin", "http://example.com"}, status: 200},
		{name: "other origin", headers: []string{"Origin", "https://evil.example"}, status: 403},
		{name: "cross-site", headers: []string{"Sec-Fetch-Site", "cross-site"}, status: 403},
		{name: "sibling site", headers: []string{"Sec-Fetch-Site", "same-site", "Origin", "http://a.example.com"}, status: 403},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("POST", "/api/v1/auth/login", strings.NewReader(`{"email":"viewer@example.com","password":"a-long-enough-password"}`))
			r.Header.Set("Content-Type", "application/json")
			for i := 0; i+1 < len(tt.headers); i += 2 {
				r.Header.Set(tt.headers[i], tt.headers[i+1])
			}
			rec := serve(as.Handler(), r)
			if rec.Code != tt.status {
				t.Fatalf("%d %s, want %d", rec.Code, rec.Body, tt.status)
			}
			cookie := rec.Header().Get("Set-Cookie")
			if tt.status == 403 && (cookie != "" || jsonBody(t, rec)["error"] != "cross-site sign-in refused") {
				t.Errorf("refused sign-in set %q or said %s", cookie, rec.Body)
			}
			if tt.status == 200 && !strings.Contains(cookie, "rookery_session=") {
				t.Errorf("sign-in set no session cookie: %q", cookie)
			}
		})
	}
}

// TestConfigEventsHaveNoDeadline: the config event stream stays open; the
// API deadline would cut it every 15 seconds.
func TestConfigEventsHaveNoDeadline(t *testing.T) {
	s := bareServer(t, Deps{})
	for path, want := range map[string]bool{configEventsPath: false, "/api/v1/config": true} {
		var has bool
		h := s.outer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, has = r.Context().Deadline() }))
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", path, nil))
		if has != want {
			t.Errorf("%s: deadline %v, want %v", path, has, want)
		}
	}
}
