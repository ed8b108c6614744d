// Package rookery is the PenguinTech integration standards as a Go
// framework. An application imports it, declares its own settings and
// routes, and gets the rest: configuration in the database with a REST API
// and a settings page, sign-in, roles and API keys, licence gating,
// KillKrill logs and metrics, WaddleAI, MarchProxy configuration and the
// operator command line.
//
//	var greeting = config.String("hello_greeting", config.System, config.Default("hello"))
//
//	func main() {
//		app := rookery.New(rookery.Options{Name: "hello", Version: "1.0.0", Keys: []config.Decl{greeting}})
//		app.HandleFunc("GET /api/v1/hello", func(w http.ResponseWriter, r *http.Request) {
//			rookery.WriteJSON(w, http.StatusOK, map[string]string{"greeting": greeting.Get()})
//		}, rookery.SignedIn())
//		app.Execute()
//	}
//
// The rookery binary itself is such an application with nothing added.
package rookery

import (
	"context"
	"encoding/json"
	"io/fs"
	"net/http"

	"github.com/rookery/rookery/config"
	"github.com/rookery/rookery/internal/app"
	"github.com/rookery/rookery/internal/auth"
	"github.com/rookery/rookery/internal/cli"
	"github.com/rookery/rookery/internal/httpapi"
)

// Options describe the application.
type Options struct {
	// Name is the binary's name in help and errors and the service name
	// of its logs; default "rookery".
	Name string
	// Version is printed by `version` and reported to the licence server.
	Version string
	// Keys are the application's own settings (config.String, config.Int,
	// ...), stored and managed like rookery's: environment bootstrap,
	// validation, audit, the config API and the settings page.
	Keys []config.Decl
	// Migrations are the application's goose SQL files in one folder per
	// database (sqlite/, postgres/, mysql/), applied after rookery's own
	// with a version table of their own.
	Migrations fs.FS
}

// App is an application built on rookery. Declare its routes and hooks,
// then call Execute (the whole command line) or Start (serve only).
type App struct {
	opts Options
	ext  app.Extension
}

// New returns an application.
func New(o Options) *App {
	return &App{opts: o, ext: app.Extension{Keys: o.Keys, Migrations: o.Migrations}}
}

// A Guard says who may call a route.
type Guard func(*httpapi.Guard)

// SignedIn lets in any signed-in user (a session or an API key).
func SignedIn() Guard { return func(g *httpapi.Guard) { g.SignedIn = true } }

// Role lets in users with at least this role: "viewer", "maintainer" or
// "admin". It implies SignedIn.
func Role(role string) Guard {
	return func(g *httpapi.Guard) { g.SignedIn, g.Role = true, auth.Role(role) }
}

// Feature lets the request through only when the licence grants feature;
// otherwise the answer is the licence's 403 naming it.
func Feature(feature string) Guard { return func(g *httpapi.Guard) { g.Feature = feature } }

// Handle serves h at pattern (as for http.ServeMux: "GET /api/v1/widgets")
// behind the guards, with the middleware of rookery's own routes: request
// id, security headers, cross-site request checks, the request log and
// metrics, the API time limit and panic recovery. A route with no guard is
// public. Handle panics on a guard naming an unknown role, or a pattern
// that clashes with another, when the server is built.
func (a *App) Handle(pattern string, h http.Handler, guards ...Guard) {
	var g httpapi.Guard
	for _, apply := range guards {
		apply(&g)
	}
	a.ext.Routes = append(a.ext.Routes, app.Route{Pattern: pattern, Handler: h, Guard: g})
}

// HandleFunc is Handle for a function.
func (a *App) HandleFunc(pattern string, h func(http.ResponseWriter, *http.Request), guards ...Guard) {
	a.Handle(pattern, http.HandlerFunc(h), guards...)
}

// OnStart adds a hook run once the server is up; an error stops it.
func (a *App) OnStart(fn func(ctx context.Context) error) { a.ext.OnStart = append(a.ext.OnStart, fn) }

// OnStop adds a hook run at shutdown, after the last request and before
// the database closes. Hooks run in reverse order of adding.
func (a *App) OnStop(fn func(ctx context.Context) error) { a.ext.OnStop = append(a.ext.OnStop, fn) }

// Execute runs the command line with the process's arguments (serve,
// migrate, db, config, user, license, marchproxy, healthcheck, version)
// and exits.
func (a *App) Execute() { cli.New(a.opts.Name, a.opts.Version, a.ext).Execute() }

// Start serves as `serve` does, with the settings of the environment,
// until ctx ends; then it shuts down gracefully.
func (a *App) Start(ctx context.Context) error {
	return cli.New(a.opts.Name, a.opts.Version, a.ext).Serve(ctx, false)
}

// User is who calls a route behind a guard.
type User struct {
	ID    int64  `json:"id"`
	Email string `json:"email"`
	Role  string `json:"role"`
}

// CurrentUser returns the caller of a guarded route; ok is false on a
// public route called anonymously.
func CurrentUser(r *http.Request) (User, bool) {
	p, ok := httpapi.PrincipalFrom(r.Context())
	if !ok {
		return User{}, false
	}
	return User{ID: p.UserID, Email: p.Email, Role: string(p.Role)}, true
}

// WriteJSON answers v as JSON with status, as rookery's own routes do.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// WriteError answers {"error": message} with status, the error shape of
// every rookery route.
func WriteError(w http.ResponseWriter, status int, message string) {
	WriteJSON(w, status, map[string]string{"error": message})
}
