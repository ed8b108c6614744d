package httpapi

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/rookery/rookery/internal/auth"
	"github.com/rookery/rookery/internal/teams"
	"github.com/rookery/rookery/license"
)

func (s *Server) teamRoutes() {
	s.mux.Handle("GET /api/v1/teams", s.require(auth.Viewer, s.listTeams))
	s.mux.Handle("POST /api/v1/teams", s.require(auth.Admin, s.createTeam))
	s.mux.Handle("DELETE /api/v1/teams/{id}", s.require(auth.Admin, s.deleteTeam))
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
	writeJSON(w, http.StatusOK, teamsAnswer{Teams: ts, Total: len(ts)})
}

// errSingleTeam stops a team creation the licence does not allow; the
// handler answers it with the licence's own 403 body.
var errSingleTeam = errors.New("the licence allows a single team")

func (s *Server) createTeam(w http.ResponseWriter, r *http.Request) {
	var body createTeamRequest
	if err := decode(w, r, &body); err != nil {
		s.fail(w, r, err)
		return
	}
	// The first team is free; more are the multiple_teams feature. The
	// check runs inside the store's transaction, so concurrent creations
	// cannot both see zero teams.
	t, err := s.teams.Create(r.Context(), body.Name, body.Members, func(existing int) error {
		if existing >= 1 && !s.license.HasFeature(license.FeatureMultipleTeams) {
			return errSingleTeam
		}
		return nil
	})
	if errors.Is(err, errSingleTeam) {
		s.license.DenyFeature(w, license.FeatureMultipleTeams)
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, teamAnswer{Team: t})
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
	writeJSON(w, http.StatusOK, idMessageAnswer{Message: "Team deleted", ID: id})
}
