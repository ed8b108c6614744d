package httpapi

import (
	"context"
	"errors"
	"net/http"
	"strconv"

	"github.com/rookery/rookery/internal/auth"
	"github.com/rookery/rookery/internal/teams"
	"github.com/rookery/rookery/license"
)

// Catalogue is the tier catalogue of the standards: the lowest tier that
// includes each feature. A licence grants a feature when the licence
// server lists it as entitled, or when its tier includes it.
var Catalogue = map[string]license.Tier{
	"basic_auth":         license.Community,
	"sso_integration":    license.Professional,
	"multiple_teams":     license.Professional,
	"api_keys":           license.Professional,
	"audit_logs":         license.Professional,
	"ai_analysis":        license.Professional,
	"ai_generation":      license.Professional,
	"custom_saml":        license.Enterprise,
	"advanced_analytics": license.Enterprise,
	"priority_support":   license.Enterprise,
	"ai_training":        license.Enterprise,
	"ai_custom_models":   license.Enterprise,
}

// CommunityMaxUsers is the community tier's user limit when the licence
// states none.
const CommunityMaxUsers = 5

// Entitled reports whether the licence grants feature.
func Entitled(m *license.Manager, feature string) bool {
	if m.HasFeature(feature) {
		return true
	}
	t, ok := Catalogue[feature]
	return ok && m.AtLeast(t)
}

// MaxUsers is the user limit in force: the licence's max_users, else five
// on an enforced community licence; -1 means no limit (development mode
// enables everything).
func MaxUsers(m *license.Manager) int64 {
	st := m.Status()
	if !st.ReleaseMode {
		return license.Unlimited
	}
	if n, ok := m.Limits().Get("max_users"); ok {
		return n
	}
	if m.Tier() == license.Community {
		return CommunityMaxUsers
	}
	return license.Unlimited
}

// UserLimit refuses a change that adds an active user beyond the licence's limit; it is meant for
// auth.Service.CheckLimit.
func UserLimit(m *license.Manager) func(ctx context.Context, existing int) error {
	return func(_ context.Context, existing int) error {
		limit := MaxUsers(m)
		if limit < 0 || int64(existing) < limit {
			return nil
		}
		return &apiError{Status: http.StatusForbidden,
			Msg: "user limit reached: the " + m.Tier().String() + " licence allows at most " + strconv.FormatInt(limit, 10) +
				" users (limits.max_users); remove a user or upgrade the licence",
			Extra: map[string]any{"limit": "max_users", "max_users": limit}}
	}
}

// feature gates a handler on a licence feature, answering the licence
// package's 403 body.
func (s *Server) feature(name string, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !Entitled(s.license, name) {
			s.license.DenyFeature(w, name)
			return
		}
		s.license.RecordFeatureUse(name)
		h(w, r)
	}
}

func (s *Server) licenseRoutes() {
	s.mux.Handle("GET /api/v1/license", s.require(auth.Viewer, s.getLicense))
	s.mux.Handle("POST /api/v1/license/refresh", s.require(auth.Admin, s.refreshLicense))
	s.mux.Handle("GET /api/v1/teams", s.require(auth.Viewer, s.listTeams))
	s.mux.Handle("POST /api/v1/teams", s.require(auth.Admin, s.createTeam))
	s.mux.Handle("DELETE /api/v1/teams/{id}", s.require(auth.Admin, s.deleteTeam))
}

func (s *Server) licenseView(ctx context.Context) (map[string]any, error) {
	ent := make(map[string]bool, len(Catalogue))
	for f := range Catalogue {
		ent[f] = Entitled(s.license, f)
	}
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
		"entitlements": ent,
		"usage": map[string]any{
			"users": users, "max_users": MaxUsers(s.license), "teams": teamCount,
			"multiple_teams": Entitled(s.license, "multiple_teams"),
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

func (s *Server) listTeams(w http.ResponseWriter, r *http.Request) {
	ts, err := s.teams.List(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if ts == nil {
		ts = []teams.Team{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"teams": ts, "total": len(ts)})
}

func (s *Server) createTeam(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Name    string  `json:"name"`
		Members []int64 `json:"members"`
	}
	if err := decode(w, r, &body); err != nil {
		s.fail(w, r, err)
		return
	}
	denied := false
	t, err := s.teams.Create(r.Context(), body.Name, body.Members, func(existing int) error {
		if existing >= 1 && !Entitled(s.license, "multiple_teams") {
			denied = true
			return errors.New("single team only")
		}
		return nil
	})
	if denied {
		s.license.DenyFeature(w, "multiple_teams")
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, map[string]any{"team": t})
}

func (s *Server) deleteTeam(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		writeError(w, http.StatusBadRequest, "the team id must be a positive whole number", nil)
		return
	}
	if err := s.teams.Delete(r.Context(), id); err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"message": "Team deleted", "id": id})
}
