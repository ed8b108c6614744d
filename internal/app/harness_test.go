package app

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rookery/rookery/internal/db"
	"github.com/rookery/rookery/internal/dbtest"
	"github.com/rookery/rookery/internal/httpapi"
	"github.com/rookery/rookery/internal/httpapi/contract"
)

const (
	adminEmail    = "admin@example.com"
	adminPassword = "correct-horse-battery"
)

// testApp is a running server on a loopback port with helpers to call it.
type testApp struct {
	*App
	t    testing.TB
	URL  string
	logs *syncBuffer
}

// syncBuffer collects log output from many goroutines.
type syncBuffer = dbtest.Buffer

// startApp runs a server on the database s names, with extra environment.
func startApp(t testing.TB, s db.Settings, env map[string]string) *testApp {
	t.Helper()
	ta, err := tryStartApp(t, s, env)
	if err != nil {
		t.Fatal(err)
	}
	return ta
}

// tryStartApp is startApp for tests that expect start-up to fail.
func tryStartApp(t testing.TB, s db.Settings, env map[string]string) (*testApp, error) {
	t.Helper()
	return launch(t, s, env, nil)
}

// launch starts a server; wire, when set, builds the logger and options
// (for tests that ship logs through KillKrill).
func launch(t testing.TB, s db.Settings, env map[string]string, wire func(logs io.Writer) (*slog.Logger, Options)) (*testApp, error) {
	t.Helper()
	vars := map[string]string{"ADMIN_EMAIL": adminEmail, "ADMIN_PASSWORD": adminPassword}
	for k, v := range env {
		vars[k] = v
	}
	getenv := func(k string) string { return vars[k] }
	settings, err := SettingsFromEnv(getenv)
	if err != nil {
		return nil, err
	}
	settings.DB = s
	if s.DataDir == "" {
		s.DataDir = t.TempDir()
	}
	settings.DB.DataDir, settings.DataDir = s.DataDir, s.DataDir
	settings.HTTPAddr = "127.0.0.1:0"
	settings.BcryptCost = 4
	settings.PollInterval = 50 * time.Millisecond
	if vars["CONFIG_POLL_INTERVAL"] != "" {
		settings.PollInterval, _ = time.ParseDuration(vars["CONFIG_POLL_INTERVAL"])
	}
	logs := &syncBuffer{}
	log := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	opts := Options{Version: "test"}
	if wire != nil {
		log, opts = wire(logs)
	}
	a, err := New(context.Background(), settings, log, opts)
	if err != nil {
		return nil, err
	}
	if err := a.Listen(); err != nil {
		t.Fatal(err)
	}
	a.Start(context.Background())
	ta := &testApp{App: a, t: t, URL: "http://" + a.Addr(), logs: logs}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := a.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
	return ta, nil
}

// newSQLiteApp is the common case.
func newSQLiteApp(t testing.TB, env map[string]string) *testApp {
	t.Helper()
	return startApp(t, dbtest.Fresh(t, db.SQLite), env)
}

type reply struct {
	Status int
	Header http.Header
	Body   []byte
}

func (r reply) JSON(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.Body, &m); err != nil {
		t.Fatalf("body is not a JSON object: %v: %s", err, r.Body)
	}
	return m
}

// call sends a request; body may be nil, a string (sent as is) or a value
// to encode. headers are name, value pairs.
func (ta *testApp) call(method, path, token string, body any, headers ...string) reply {
	ta.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		buf, err := json.Marshal(b)
		if err != nil {
			ta.t.Fatal(err)
		}
		rd = bytes.NewReader(buf)
	}
	req, err := http.NewRequest(method, ta.URL+path, rd)
	if err != nil {
		ta.t.Fatal(err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := ta.client().Do(req)
	if err != nil {
		ta.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return reply{Status: resp.StatusCode, Header: resp.Header, Body: b}
}

// apiContract checks answers against the API document (docs/openapi.json
// as the server generates it); loaded once for the package's tests.
var apiContract = sync.OnceValues(func() (*contract.Checker, error) {
	doc, err := httpapi.OpenAPI()
	if err != nil {
		return nil, err
	}
	return contract.New(context.Background(), doc)
})

// client is an HTTP client whose every answer is checked against the API
// document: an answer it does not describe fails the test.
func (ta *testApp) client() *http.Client {
	ta.t.Helper()
	c, err := apiContract()
	if err != nil {
		ta.t.Fatal(err)
	}
	t := ta.t
	return &http.Client{Transport: &contract.Transport{Checker: c, Report: func(err error) {
		t.Errorf("API contract: %v", err)
	}}}
}

// login returns an access token.
func (ta *testApp) login(email, password string) string {
	ta.t.Helper()
	r := ta.call("POST", "/api/v1/auth/login", "", map[string]string{"email": email, "password": password})
	if r.Status != http.StatusOK {
		ta.t.Fatalf("login %s: %d %s", email, r.Status, r.Body)
	}
	tok, _ := r.JSON(ta.t)["access_token"].(string)
	return tok
}

func (ta *testApp) admin() string { return ta.login(adminEmail, adminPassword) }

// userWithRole creates a user and returns a token for it.
func (ta *testApp) userWithRole(admin, email, role string) string {
	ta.t.Helper()
	r := ta.call("POST", "/api/v1/users", admin, map[string]string{"email": email, "password": "a-long-enough-password", "role": role})
	if r.Status != http.StatusCreated {
		ta.t.Fatalf("create %s: %d %s", email, r.Status, r.Body)
	}
	return ta.login(email, "a-long-enough-password")
}
