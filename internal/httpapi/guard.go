package httpapi

import (
	"context"
	"net/http"

	"github.com/rookery/rookery/internal/auth"
)

// Guard says who may call a route an application adds. The zero Guard lets
// anyone in.
type Guard struct {
	// SignedIn requires a signed-in caller (a session or an API key).
	SignedIn bool
	// Role requires at least this role; it implies SignedIn.
	Role auth.Role
	// Feature requires the licence to grant this feature; the refusal is
	// the licence's 403 naming it.
	Feature string
}

// Route registers an application's route behind its guard, with
// everything rookery's own routes get from the middleware: request id,
// security headers, cross-site checks, the request log and metrics, the
// time limit and panic recovery.
// A guard naming an unknown role is a programming error and panics, as
// http.ServeMux does for a bad pattern.
func (s *Server) Route(pattern string, h http.Handler, g Guard) {
	if g.Role != "" {
		if _, err := auth.ParseRole(string(g.Role)); err != nil {
			panic("rookery: route " + pattern + ": " + err.Error())
		}
	}
	if g.Feature != "" {
		h = s.license.RequireFeature(g.Feature)(h)
	}
	if g.SignedIn || g.Role != "" {
		min := g.Role
		if min == "" {
			min = auth.Viewer
		}
		h = s.require(min, h.ServeHTTP)
	}
	s.mux.Handle(pattern, h)
	s.mux.declare(pattern, g)
}

// PrincipalFrom returns who is calling a route behind a guard; ok is false
// for anonymous requests.
func PrincipalFrom(ctx context.Context) (auth.Principal, bool) { return principal(ctx) }
