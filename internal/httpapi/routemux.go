package httpapi

import (
	"net/http"
	"slices"
	"strings"
	"sync"

	"github.com/rookery/rookery/internal/auth"
)

// routeMux is the server's ServeMux that remembers the patterns registered
// on it, so the API document can be checked against what is really served.
type routeMux struct {
	*http.ServeMux
	mu       sync.Mutex
	patterns []string
	// added are the routes an application registered with Server.Route,
	// for the API document.
	added []apiRoute
}

func newRouteMux() *routeMux { return &routeMux{ServeMux: http.NewServeMux()} }

func (m *routeMux) Handle(pattern string, h http.Handler) {
	m.ServeMux.Handle(pattern, h)
	m.mu.Lock()
	m.patterns = append(m.patterns, pattern)
	m.mu.Unlock()
}

func (m *routeMux) HandleFunc(pattern string, h func(http.ResponseWriter, *http.Request)) {
	m.Handle(pattern, http.HandlerFunc(h))
}

// declare notes a route an application added, with what its guard asks.
// Patterns without a method, or with a wildcard of many segments, are not
// described.
func (m *routeMux) declare(pattern string, g Guard) {
	method, path, ok := strings.Cut(pattern, " ")
	if !ok || !strings.HasPrefix(path, "/") || strings.Contains(path, "...}") {
		return
	}
	r := apiRoute{Pattern: method + " " + path, Tag: "application", Summary: "Added by the application", Role: g.Role, Feature: g.Feature,
		Responses: []apiResponse{{Description: "The application's answer"}}}
	if g.SignedIn && r.Role == "" {
		r.Role = auth.Viewer
	}
	for _, p := range pathParams(path) {
		r.Params = append(r.Params, apiParam{Name: p, In: "path", Required: true})
	}
	m.mu.Lock()
	m.added = append(m.added, r)
	m.mu.Unlock()
}

// declared are the routes applications added.
func (m *routeMux) declared() []apiRoute {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.added)
}

// Patterns lists the registered patterns in registration order.
func (m *routeMux) Patterns() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.patterns)
}
