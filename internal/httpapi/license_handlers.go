package httpapi

import (
	"context"
	"net/http"

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

// licenseAnswer is GET /api/v1/license.
type licenseAnswer struct {
	License      license.Status  `json:"license"`
	Entitlements map[string]bool `json:"entitlements"`
	Usage        licenseUsage    `json:"usage"`
}

type licenseUsage struct {
	Users         int   `json:"users"`
	MaxUsers      int64 `json:"max_users"`
	Teams         int   `json:"teams"`
	MultipleTeams bool  `json:"multiple_teams"`
}

// licenseRefreshAnswer is POST /api/v1/license/refresh: the licence after
// the check, and whether the check reached a verdict.
type licenseRefreshAnswer struct {
	licenseAnswer
	Refreshed    bool   `json:"refreshed"`
	RefreshError string `json:"refresh_error,omitempty"`
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
	refreshErr := s.license.Refresh(r.Context())
	v, err := s.licenseView(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	out := licenseRefreshAnswer{licenseAnswer: v, Refreshed: refreshErr == nil}
	if refreshErr != nil {
		out.RefreshError = refreshErr.Error()
	}
	writeJSON(w, http.StatusOK, out)
}
