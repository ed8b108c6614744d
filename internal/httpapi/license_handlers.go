package httpapi

import (
	"context"
	"net/http"
	"time"

	"github.com/rookery/rookery/internal/auth"
	"github.com/rookery/rookery/license"
)

// The entitlement policy (the tier catalogue, what a tier grants, the user
// limit) belongs to package license; the handlers here only ask it.

// feature gates a handler on a licence feature with the licence package's
// middleware, which answers its own 403 body and counts uses for the
// keepalive.
func (s *Server) feature(name string, h http.HandlerFunc) http.HandlerFunc {
	return s.license.RequireFeature(name)(h).ServeHTTP
}

func (s *Server) licenseRoutes() {
	s.mux.Handle("GET /api/v1/license", s.require(auth.Viewer, s.getLicense))
	s.mux.Handle("POST /api/v1/license/refresh", s.require(auth.Admin, s.refreshLicense))
}

// licenseAnswer is GET /api/v1/license. Implemented lists the features of
// the catalogue rookery provides: a licence may grant others, but nothing
// in rookery is behind them.
type licenseAnswer struct {
	License      license.Status  `json:"license"`
	Entitlements map[string]bool `json:"entitlements" openapi:"nonnull"`
	Implemented  []string        `json:"implemented" openapi:"nonnull"`
	Usage        licenseUsage    `json:"usage"`
}

type licenseUsage struct {
	Users         int   `json:"users"`
	MaxUsers      int64 `json:"max_users"`
	Teams         int   `json:"teams"`
	MultipleTeams bool  `json:"multiple_teams"`
}

// licenseRefreshAnswer is POST /api/v1/license/refresh ("Check now"):
// what the check did, and the licence after it. CheckedAt is null when the
// server was not asked; LastConfirmedAt is when it last confirmed the
// licence in force (null when none is).
type licenseRefreshAnswer struct {
	Outcome         license.Outcome `json:"outcome"`
	Message         string          `json:"message"`
	Detail          string          `json:"detail,omitempty"`
	CheckedAt       *time.Time      `json:"checked_at"`
	LastConfirmedAt *time.Time      `json:"last_confirmed_at"`
	License         licenseAnswer   `json:"license"`
}

func (s *Server) licenseView(ctx context.Context) (licenseAnswer, error) {
	users, err := s.auth.Count(ctx)
	if err != nil {
		return licenseAnswer{}, err
	}
	teamCount, err := s.teams.Count(ctx)
	if err != nil {
		return licenseAnswer{}, err
	}
	return licenseAnswer{
		License:      s.license.Status(),
		Entitlements: s.license.Entitlements(),
		Implemented:  license.Implemented(),
		Usage: licenseUsage{Users: users, MaxUsers: s.license.MaxUsers(), Teams: teamCount,
			MultipleTeams: s.license.HasFeature(license.FeatureMultipleTeams)},
	}, nil
}

func (s *Server) getLicense(w http.ResponseWriter, r *http.Request) {
	v, err := s.licenseView(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

func (s *Server) refreshLicense(w http.ResponseWriter, r *http.Request) {
	res := s.license.Check(r.Context())
	v, err := s.licenseView(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	out := licenseRefreshAnswer{Outcome: res.Outcome, Message: res.Message, License: v,
		CheckedAt: utcPtr(res.CheckedAt), LastConfirmedAt: utcPtr(res.LastConfirmed)}
	if res.Err != nil {
		out.Detail = res.Err.Error()
	}
	writeJSON(w, http.StatusOK, out)
}

// utcPtr is t in UTC, or nil for the zero time (JSON null).
func utcPtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	t = t.UTC()
	return &t
}
