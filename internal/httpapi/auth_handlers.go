package httpapi

import (
	"net/http"
	"strconv"
	"time"

	"github.com/rookery/rookery/internal/auth"
)

type userView struct {
	ID        int64     `json:"id"`
	Email     string    `json:"email"`
	Role      auth.Role `json:"role"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

func viewUser(u auth.User) userView {
	return userView{ID: u.ID, Email: u.Email, Role: u.Role, CreatedAt: u.CreatedAt, UpdatedAt: u.UpdatedAt}
}

func (s *Server) logout(w http.ResponseWriter, r *http.Request) {
	p, _ := principal(r.Context())
	if err := s.auth.Revoke(r.Context(), p.SessionID); err != nil {
		s.fail(w, r, err)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true,
		SameSite: http.SameSiteStrictMode, Secure: s.secure || r.TLS != nil})
	writeJSON(w, http.StatusOK, map[string]string{"message": "Signed out"})
}

func (s *Server) me(w http.ResponseWriter, r *http.Request) {
	p, _ := principal(r.Context())
	writeJSON(w, http.StatusOK, map[string]any{
		"user":       map[string]any{"id": p.UserID, "email": p.Email, "role": p.Role},
		"expires_at": p.ExpiresAt,
	})
}

func (s *Server) listUsers(w http.ResponseWriter, r *http.Request) {
	users, err := s.auth.List(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	out := make([]userView, 0, len(users))
	for _, u := range users {
		out = append(out, viewUser(u))
	}
	writeJSON(w, http.StatusOK, map[string]any{"users": out, "total": len(out)})
}

func (s *Server) createUser(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Email    string `json:"email"`
		Password string `json:"password"`
		Role     string `json:"role"`
	}
	if err := decode(w, r, &body); err != nil {
		s.fail(w, r, err)
		return
	}
	if body.Role == "" {
		body.Role = string(auth.Viewer)
	}
	role, err := auth.ParseRole(body.Role)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	u, err := s.auth.Create(r.Context(), body.Email, body.Password, role)
	s.track(r, "user_create", err, "user.target.name", body.Email, "user.target.roles", string(role))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, map[string]any{"user": viewUser(u)})
}

func (s *Server) updateUser(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		writeError(w, http.StatusBadRequest, "the user id must be a positive whole number", nil)
		return
	}
	var body struct {
		Role     *string `json:"role"`
		Password *string `json:"password"`
	}
	if err := decode(w, r, &body); err != nil {
		s.fail(w, r, err)
		return
	}
	if body.Role == nil && body.Password == nil {
		writeError(w, http.StatusBadRequest, "send role and/or password", nil)
		return
	}
	u, err := s.auth.ByID(r.Context(), id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if body.Role != nil {
		role, err := auth.ParseRole(*body.Role)
		if err == nil {
			err = s.auth.SetRole(r.Context(), u.Email, role)
		}
		s.track(r, "user_set_role", err, "user.target.name", u.Email, "user.target.roles", *body.Role)
		if err != nil {
			s.fail(w, r, err)
			return
		}
	}
	if body.Password != nil {
		err := s.auth.SetPassword(r.Context(), u.Email, *body.Password)
		s.track(r, "user_set_password", err, "user.target.name", u.Email)
		if err != nil {
			s.fail(w, r, err)
			return
		}
	}
	u, err = s.auth.ByID(r.Context(), id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"user": viewUser(u)})
}

func (s *Server) apiKeyRoutes() {
	s.mux.Handle("GET /api/v1/apikeys", s.require(auth.Viewer, s.feature("api_keys", s.listAPIKeys)))
	s.mux.Handle("POST /api/v1/apikeys", s.require(auth.Viewer, s.feature("api_keys", s.createAPIKey)))
	s.mux.Handle("DELETE /api/v1/apikeys/{id}", s.require(auth.Viewer, s.feature("api_keys", s.revokeAPIKey)))
}

// ownerScope is the user whose keys a caller manages: admins manage all (0).
func ownerScope(p auth.Principal) int64 {
	if p.Role == auth.Admin {
		return 0
	}
	return p.UserID
}

func (s *Server) listAPIKeys(w http.ResponseWriter, r *http.Request) {
	p, _ := principal(r.Context())
	keys, err := s.auth.ListAPIKeys(r.Context(), ownerScope(p))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"api_keys": keys})
}

func (s *Server) createAPIKey(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Name string `json:"name"`
	}
	if err := decode(w, r, &body); err != nil {
		s.fail(w, r, err)
		return
	}
	p, _ := principal(r.Context())
	if p.APIKeyID != 0 {
		writeError(w, http.StatusForbidden, "an API key cannot create API keys; sign in", nil)
		return
	}
	k, token, err := s.auth.CreateAPIKey(r.Context(), p.UserID, body.Name)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.track(r, "apikey_create", nil, "apikey.prefix", k.Prefix)
	writeJSON(w, http.StatusCreated, map[string]any{"api_key": k, "key": token,
		"message": "Store this key now: it is shown once. Send it as Authorization: Bearer <key>."})
}

func (s *Server) revokeAPIKey(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		writeError(w, http.StatusBadRequest, "the key id must be a positive whole number", nil)
		return
	}
	p, _ := principal(r.Context())
	if err := s.auth.RevokeAPIKey(r.Context(), id, ownerScope(p)); err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"message": "API key revoked", "id": id})
}

func (s *Server) deleteUser(w http.ResponseWriter, r *http.Request) {
	writeError(w, http.StatusNotImplemented, "not implemented yet", nil)
}

func (s *Server) changeOwnPassword(w http.ResponseWriter, r *http.Request) {
	writeError(w, http.StatusNotImplemented, "not implemented yet", nil)
}
