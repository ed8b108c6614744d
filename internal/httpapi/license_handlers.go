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

func (s *Server) licenseView(ctx context.Context) (map[string]any, error) {
	users, err := s.auth.Count(ctx)
	if err != nil {
		return nil, err
	}
	teamCount, err := s.teams.Count(ctx)
	if err != nil {
		return nil, err
	}
	return map[string]any{
		"license":      s.license.Status(),
		"entitlements": s.license.Entitlements(),
		"usage": map[string]any{
			"users": users, "max_users": s.license.MaxUsers(), "teams": teamCount,
			"multiple_teams": s.license.HasFeature(license.FeatureMultipleTeams),
		},
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
	v["refreshed"] = refreshErr == nil
	if refreshErr != nil {
		v["refresh_error"] = refreshErr.Error()
	}
	writeJSON(w, http.StatusOK, v)
}
