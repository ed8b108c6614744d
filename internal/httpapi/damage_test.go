package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/rookery/rookery/config"
	"github.com/rookery/rookery/internal/auth"
	"github.com/rookery/rookery/internal/db"
)

// TestFailDamagedDatabase: a corruption error from the driver, however the
// part wrapped it, is answered as damage (500, what to run), not as an
// outage to wait out; a real outage keeps its 503.
func TestFailDamagedDatabase(t *testing.T) {
	s := &Server{log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	corrupt := errors.New("database disk image is malformed (11)")
	notADB := errors.New("file is not a database (26)")
	cases := []struct {
		name       string
		err        error
		status     int
		contains   string
		retryAfter bool
	}{
		{name: "config read", err: fmt.Errorf("history of %q: %w: %v", "smtp_user", config.ErrUnavailable, corrupt), status: 500, contains: "rookery db check"},
		{name: "session check", err: fmt.Errorf("%w: %v", auth.ErrUnavailable, notADB), status: 500, contains: "rookery db check"},
		{name: "sentinel", err: fmt.Errorf("open: %w", &db.DamageError{File: "/data/rookery.db"}), status: 500, contains: "the database is damaged"},
		{name: "outage", err: fmt.Errorf("%w: %v", config.ErrUnavailable, errors.New("connection refused")), status: 503, contains: "try again shortly", retryAfter: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			s.fail(rec, httptest.NewRequest("GET", "/api/v1/config/smtp_user/history", nil), c.err)
			body := rec.Body.String()
			if rec.Code != c.status || !strings.Contains(body, c.contains) {
				t.Errorf("%v -> %d %s; want %d with %q", c.err, rec.Code, body, c.status, c.contains)
			}
			if c.status == 500 && (strings.Contains(body, "try again") || strings.Contains(body, "/data/")) {
				t.Errorf("damage answered as a blip, or with the file's path: %s", body)
			}
			if got := rec.Header().Get("Retry-After") != ""; got != c.retryAfter {
				t.Errorf("Retry-After present = %v, want %v", got, c.retryAfter)
			}
		})
	}
}

type fakeHealth struct{ err error }

func (f fakeHealth) PingContext(context.Context) error { return nil }
func (f fakeHealth) Health(context.Context) error      { return f.err }

type fakePing struct{ err error }

func (f fakePing) PingContext(context.Context) error { return f.err }

// TestReadyStates: what /readyz says for each state of the database.
func TestReadyStates(t *testing.T) {
	cases := []struct {
		name     string
		db       Pinger
		status   int
		state    string
		database string
	}{
		{name: "ready", db: fakeHealth{}, status: 200, state: "ready", database: "ok"},
		{name: "damaged", db: fakeHealth{&db.DamageError{File: "x.db", Findings: []string{"page 7: btreeInitPage() returns error code 11"}}}, status: 503, state: "unavailable", database: "damaged"},
		{name: "starting", db: fakeHealth{ErrStarting}, status: 503, state: "starting", database: "ok"},
		{name: "unreachable", db: fakeHealth{errors.New("connection refused")}, status: 503, state: "unavailable", database: "unreachable"},
		{name: "ping only", db: fakePing{}, status: 200, state: "ready", database: "ok"},
		{name: "ping fails", db: fakePing{errors.New("connection refused")}, status: 503, state: "unavailable", database: "unreachable"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := &Server{db: c.db, log: slog.New(slog.NewTextHandler(io.Discard, nil))}
			rec := httptest.NewRecorder()
			s.ready(rec, httptest.NewRequest("GET", "/readyz", nil))
			var body map[string]string
			if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
				t.Fatal(err)
			}
			if rec.Code != c.status || body["status"] != c.state || body["database"] != c.database {
				t.Errorf("readyz = %d %v; want %d %s/%s", rec.Code, body, c.status, c.state, c.database)
			}
			if c.database == "damaged" && (!strings.Contains(body["error"], "rookery db check") || strings.Contains(body["error"], "x.db")) {
				t.Errorf("damaged readyz error %q", body["error"])
			}
		})
	}
}
