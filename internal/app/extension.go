package app

import (
	"context"
	"io/fs"
	"net/http"

	"github.com/rookery/rookery/config"
	"github.com/rookery/rookery/internal/httpapi"
)

// Extension is what an application built on rookery adds to it: its own
// settings, tables, routes and start and stop hooks. The zero value is
// rookery alone.
type Extension struct {
	// Keys are the application's settings, registered next to rookery's:
	// stored, validated, audited, bootstrapped from the environment and
	// shown on the settings page like them.
	Keys []config.Decl
	// Migrations are the application's goose SQL files, one folder per
	// dialect (sqlite/, postgres/, mysql/), applied after rookery's with a
	// version table of their own.
	Migrations fs.FS
	// Routes are served with the same middleware as rookery's own.
	Routes []Route
	// OnStart hooks run once the server is up, in order; an error stops
	// the start. OnStop hooks run at shutdown, after the last request and
	// before the database closes, in reverse order.
	OnStart []func(context.Context) error
	OnStop  []func(context.Context) error
}

// Route is one of the application's routes with who may call it.
type Route struct {
	Pattern string
	Handler http.Handler
	Guard   httpapi.Guard
}
