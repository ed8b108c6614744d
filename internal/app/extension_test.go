package app

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/rookery/rookery/config"
	"github.com/rookery/rookery/internal/auth"
	"github.com/rookery/rookery/internal/db"
	"github.com/rookery/rookery/internal/dbtest"
	"github.com/rookery/rookery/internal/httpapi"
	"github.com/rookery/rookery/license/licensetest"
)

// widgetMigrations create one table of the application's own, per dialect.
func widgetMigrations() fstest.MapFS {
	up := "-- +goose Up\nCREATE TABLE widgets (id INTEGER PRIMARY KEY, name VARCHAR(50) NOT NULL);\n-- +goose Down\nDROP TABLE widgets;\n"
	fs := fstest.MapFS{}
	for _, d := range []string{"sqlite", "postgres", "mysql"} {
		fs[d+"/00001_widgets.sql"] = &fstest.MapFile{Data: []byte(up)}
	}
	return fs
}

// TestExtension: an application's settings, tables, guarded routes and
// hooks, on every database, behind a community licence.
func TestExtension(t *testing.T) {
	srv := licensetest.NewServer(licensetest.Community(licensetest.KeyCommunity))
	defer srv.Close()
	dbtest.Each(t, func(t *testing.T, s db.Settings) {
		greeting := config.String("widget_greeting", config.Default("hi"))
		var events []string
		ok := func(w http.ResponseWriter, r *http.Request) {
			p, _ := httpapi.PrincipalFrom(r.Context())
			w.Write([]byte("ok " + greeting.Get() + " " + p.Email))
		}
		ext := Extension{
			Keys:       []config.Decl{greeting},
			Migrations: widgetMigrations(),
			Routes: []Route{
				{Pattern: "GET /api/v1/widgets/public", Handler: http.HandlerFunc(ok)},
				{Pattern: "GET /api/v1/widgets", Handler: http.HandlerFunc(ok), Guard: httpapi.Guard{SignedIn: true}},
				{Pattern: "POST /api/v1/widgets", Handler: http.HandlerFunc(ok), Guard: httpapi.Guard{Role: auth.Maintainer}},
				{Pattern: "POST /api/v1/widgets/analyze", Handler: http.HandlerFunc(ok), Guard: httpapi.Guard{SignedIn: true, Feature: "ai_analysis"}},
			},
			OnStart: []func(context.Context) error{func(context.Context) error { events = append(events, "start"); return nil }},
			OnStop: []func(context.Context) error{
				func(context.Context) error { events = append(events, "stop 1"); return nil },
				func(context.Context) error { events = append(events, "stop 2"); return errors.New("flush failed") },
			},
		}
		ta, err := launch(t, s, licenceEnv(srv, licensetest.KeyCommunity, true), func(logs io.Writer) (*slog.Logger, Options) {
			return slog.New(slog.NewJSONHandler(logs, nil)), Options{Version: "test", Extension: ext}
		})
		if err != nil {
			t.Fatal(err)
		}
		if err := ta.RunStartHooks(context.Background()); err != nil || len(events) != 1 {
			t.Fatalf("start hooks: %v %v", err, events)
		}
		// The application's table exists, apart from rookery's version table.
		if _, err := ta.DB.ExecContext(context.Background(), `INSERT INTO widgets (id, name) VALUES (1, 'a')`); err != nil {
			t.Fatalf("the application's migration did not run: %v", err)
		}
		admin := ta.admin()
		viewer := ta.userWithRole(admin, "v@example.com", "viewer")
		maint := ta.userWithRole(admin, "m@example.com", "maintainer")
		for _, c := range []struct {
			method, path, token string
			want                int
		}{
			{"GET", "/api/v1/widgets/public", "", 200},
			{"GET", "/api/v1/widgets", "", 401},
			{"GET", "/api/v1/widgets", viewer, 200},
			{"POST", "/api/v1/widgets", viewer, 403},
			{"POST", "/api/v1/widgets", maint, 200},
			{"POST", "/api/v1/widgets", admin, 200},
			{"POST", "/api/v1/widgets/analyze", "", 401},
			{"POST", "/api/v1/widgets/analyze", admin, 403}, // community: no ai_analysis
		} {
			r := ta.call(c.method, c.path, c.token, nil)
			if r.Status != c.want {
				t.Errorf("%s %s = %d %s, want %d", c.method, c.path, r.Status, r.Body, c.want)
			}
		}
		r := ta.call("POST", "/api/v1/widgets/analyze", admin, nil)
		if !strings.Contains(string(r.Body), `"feature":"ai_analysis"`) || r.Header.Get("X-Request-ID") == "" {
			t.Errorf("licence refusal = %s (request id %q)", r.Body, r.Header.Get("X-Request-ID"))
		}
		// The application's setting is managed like rookery's.
		if r := ta.call("PUT", "/api/v1/config/widget_greeting", admin, map[string]string{"value": "hello"}); r.Status != 200 {
			t.Fatalf("PUT widget_greeting: %d %s", r.Status, r.Body)
		}
		if r := ta.call("GET", "/api/v1/widgets", viewer, nil); string(r.Body) != "ok hello v@example.com" {
			t.Errorf("route after the change = %q", r.Body)
		}
		err = ta.Shutdown(context.Background())
		if err == nil || !strings.Contains(err.Error(), "flush failed") || strings.Join(events, ",") != "start,stop 2,stop 1" {
			t.Fatalf("shutdown: %v, events %v", err, events)
		}
	})
}

// TestRouteWithUnknownRolePanics: a typo in a guard is caught when the
// server is built, not by letting everyone in.
func TestRouteWithUnknownRolePanics(t *testing.T) {
	ta := newSQLiteApp(t, nil)
	defer func() {
		if recover() == nil {
			t.Fatal("a guard with an unknown role was accepted")
		}
	}()
	ta.API.Route("GET /api/v1/x", http.NotFoundHandler(), httpapi.Guard{Role: "superuser"})
}
