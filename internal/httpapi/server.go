// Package httpapi is rookery's REST API: routes, handlers and middleware.
// Handlers call the parts (config, auth, licence...); parts never call
// handlers.
package httpapi

import (
	"context"
	"log/slog"
	"net/http"
	"net/netip"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/rookery/rookery/config"
	"github.com/rookery/rookery/internal/auth"
	"github.com/rookery/rookery/internal/mail"
	"github.com/rookery/rookery/internal/sso"
	"github.com/rookery/rookery/internal/teams"
	"github.com/rookery/rookery/license"
	"github.com/rookery/rookery/waddleai"
)

// Pinger reports whether the database answers.
type Pinger interface {
	PingContext(ctx context.Context) error
}

// Deps are the parts the API serves.
type Deps struct {
	Config *config.Config
	// Keys are the standards' settings the handlers read (sign-in attempts,
	// the AI switch); nil reads their defaults.
	Keys     *config.Standard
	Auth     *auth.Service
	Throttle *auth.Throttle
	DB       Pinger
	License  *license.Manager
	Teams    *teams.Store
	// AI is the WaddleAI client; nil leaves the AI routes answering 403.
	AI       *waddleai.Client
	Log      *slog.Logger
	Registry *prometheus.Registry
	// SecureCookies marks the session cookie Secure even on plain HTTP
	// (when TLS is terminated by a proxy in front).
	SecureCookies bool
	// TrustedProxies (TRUSTED_PROXIES) are the proxies whose
	// X-Forwarded-For names the client; empty trusts no one.
	TrustedProxies []netip.Prefix
	// OnRequest, when set, is told about every handled request.
	OnRequest func(RequestRecord)
	// UI serves the web interface for every path outside /api/.
	UI http.Handler
	// Integrations and KillKrill report the outside services' state for
	// GET /api/v1/integrations and /api/v1/integrations/killkrill.
	Integrations func(context.Context) Integrations
	KillKrill    func(context.Context) KillKrillReport
	// IntegrationTests are the connection tests of
	// POST /api/v1/integrations/{name}/test, by name.
	IntegrationTests IntegrationTests
	// SSO is single sign-on (OIDC and SAML); nil offers none.
	SSO *sso.Service
	// Mail sends email (test sends, password resets, invitations); nil
	// leaves those routes answering 503.
	Mail *mail.Service
}

// Server holds the routes.
type Server struct {
	cfg       *config.Config
	keys      *config.Standard
	auth      *auth.Service
	throttle  *auth.Throttle
	db        Pinger
	license   *license.Manager
	teams     *teams.Store
	ai        *aiPart
	log       *slog.Logger
	metrics   *httpMetrics
	registry  *prometheus.Registry
	secure    bool
	trusted   []netip.Prefix
	onRequest func(RequestRecord)
	mux       *routeMux
	cfgCache  configCache // encoded GET /api/v1/config answers (config_handlers.go)
	sso       *sso.Service
	mail      *mail.Service
	after     afterAnswer // work left running after the answer (email_handlers.go)
}

// New builds the server and its routes. Other parts add theirs with Handle.
func New(d Deps) *Server {
	if d.Registry == nil {
		d.Registry = prometheus.NewRegistry()
	}
	if d.Throttle == nil {
		d.Throttle = auth.NewThrottle(nil)
	}
	if d.Keys == nil {
		d.Keys = config.NewStandard()
	}
	s := &Server{cfg: d.Config, keys: d.Keys, auth: d.Auth, throttle: d.Throttle, db: d.DB, license: d.License, teams: d.Teams, log: d.Log, registry: d.Registry,
		secure: d.SecureCookies, trusted: d.TrustedProxies, onRequest: d.OnRequest, mux: newRouteMux()}
	s.metrics = newHTTPMetrics(d.Registry)
	s.sso = d.SSO
	s.mail = d.Mail
	if d.AI != nil {
		s.ai = &aiPart{client: d.AI, metrics: newAIMetrics(d.Registry)}
	}
	s.routes()
	if f := d.Integrations; f != nil {
		s.mux.Handle("GET /api/v1/integrations", s.require(auth.Admin, func(w http.ResponseWriter, r *http.Request) {
			writeJSON(w, http.StatusOK, f(r.Context()))
		}))
	}
	if f := d.KillKrill; f != nil {
		s.mux.Handle("GET /api/v1/integrations/killkrill", s.require(auth.Admin, func(w http.ResponseWriter, r *http.Request) {
			writeJSON(w, http.StatusOK, f(r.Context()))
		}))
	}
	s.integrationCheckRoutes(d.IntegrationTests)
	if d.UI != nil {
		s.mux.Handle("/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method != http.MethodGet && r.Method != http.MethodHead {
				w.Header().Set("Allow", "GET, HEAD")
				writeError(w, http.StatusMethodNotAllowed, "method not allowed", nil)
				return
			}
			d.UI.ServeHTTP(w, r)
		}))
	}
	return s
}

// Handler is the whole API with its middleware.
func (s *Server) Handler() http.Handler {
	h := s.outer(compress(s.mux))
	if answerHook != nil {
		h = answerHook(h)
	}
	return h
}

// Handle registers an extra route (pattern as for http.ServeMux).
func (s *Server) Handle(pattern string, h http.Handler) { s.mux.Handle(pattern, h) }

// Require exposes the authentication and role check to extra routes.
func (s *Server) Require(min auth.Role, h http.HandlerFunc) http.Handler { return s.require(min, h) }

func (s *Server) routes() {
	s.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, statusAnswer{Status: "ok"})
	})
	s.mux.HandleFunc("GET /readyz", s.ready)
	s.mux.Handle("GET /metrics", promhttp.HandlerFor(s.registry, promhttp.HandlerOpts{}))

	s.mux.HandleFunc("POST /api/v1/auth/login", s.login)
	s.mux.Handle("POST /api/v1/auth/logout", s.require(auth.Viewer, s.logout))
	s.mux.Handle("GET /api/v1/auth/me", s.require(auth.Viewer, s.me))
	s.mux.Handle("POST /api/v1/auth/password", s.require(auth.Viewer, s.changeOwnPassword))

	s.mux.Handle("GET /api/v1/users", s.require(auth.Admin, s.listUsers))
	s.mux.Handle("POST /api/v1/users", s.require(auth.Admin, s.createUser))
	s.mux.Handle("PATCH /api/v1/users/{id}", s.require(auth.Admin, s.updateUser))
	s.mux.Handle("DELETE /api/v1/users/{id}", s.require(auth.Admin, s.deleteUser))

	s.mux.Handle("GET /api/v1/config", s.require(auth.Admin, s.listConfig))
	s.mux.Handle("PATCH /api/v1/config", s.require(auth.Admin, s.patchConfig))
	s.mux.Handle("GET /api/v1/config/{key}", s.require(auth.Admin, s.getConfig))
	s.mux.Handle("PUT /api/v1/config/{key}", s.require(auth.Admin, s.putConfig))
	s.mux.Handle("DELETE /api/v1/config/{key}", s.require(auth.Admin, s.deleteConfig))
	// Viewing the audit log is the standards' professional "audit logging".
	s.mux.Handle("GET /api/v1/config/{key}/history", s.require(auth.Admin, s.feature(license.FeatureAuditLogs, s.configHistory)))
	s.mux.Handle("GET /api/v1/audit", s.require(auth.Admin, s.feature(license.FeatureAuditLogs, s.auditLog)))
	s.configCodeRoutes()
	s.licenseRoutes()
	s.teamRoutes()
	s.apiKeyRoutes()
	s.aiRoutes()
	s.openAPIRoute()
	s.ssoRoutes()
	s.emailRoutes()

	s.mux.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "no such API endpoint: "+r.Method+" "+r.URL.Path, nil)
	})
}

type aiPart struct {
	client  *waddleai.Client
	metrics *aiMetrics
}
