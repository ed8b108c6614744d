package httpapi

import (
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/rookery/rookery/internal/auth"
)

type userView struct {
	ID        int64     `json:"id"`
	Email     string    `json:"email"`
	Role      auth.Role `json:"role"`
	Disabled  bool      `json:"disabled"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
	// SignInMethod is password, oidc or saml.
	SignInMethod string     `json:"sign_in_method" openapi:"enum=password|oidc|saml"`
	LastSignInAt *time.Time `json:"last_sign_in_at"`
	Invited      bool       `json:"invited"`
}

func viewUser(u auth.User) userView {
	return userView{ID: u.ID, Email: u.Email, Role: u.Role, Disabled: u.Disabled, CreatedAt: u.CreatedAt, UpdatedAt: u.UpdatedAt,
		SignInMethod: u.SignInMethod, LastSignInAt: u.LastSignInAt, Invited: u.Invited}
}

func (s *Server) logout(w http.ResponseWriter, r *http.Request) {
	p, _ := principal(r.Context())
	if err := s.auth.Revoke(r.Context(), p.SessionID); err != nil {
		s.fail(w, r, err)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true,
		SameSite: http.SameSiteStrictMode, Secure: s.secure || r.TLS != nil})
	writeJSON(w, http.StatusOK, messageAnswer{Message: "Signed out"})
}

func (s *Server) me(w http.ResponseWriter, r *http.Request) {
	p, _ := principal(r.Context())
	writeJSON(w, http.StatusOK, meAnswer{User: meUser{ID: p.UserID, Email: p.Email, Role: p.Role}, ExpiresAt: p.ExpiresAt})
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
	writeJSON(w, http.StatusOK, usersAnswer{Users: out, Total: len(out)})
}

func (s *Server) createUser(w http.ResponseWriter, r *http.Request) {
	var body createUserRequest
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
	if body.Password == "" {
		s.createInvitedUser(w, r, body.Email, role)
		return
	}
	u, err := s.auth.Create(r.Context(), body.Email, body.Password, role)
	s.track(r, "user_create", err, "user.target.name", body.Email, "user.target.roles", string(role))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, userAnswer{User: viewUser(u)})
}

// userID reads the {id} path value.
func userID(r *http.Request) (int64, error) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		return 0, errorf(http.StatusBadRequest, "the user id must be a positive whole number")
	}
	return id, nil
}

// updateUser changes a user's role, password and/or disabled state: all
// fields are checked first, then written together in one transaction.
func (s *Server) updateUser(w http.ResponseWriter, r *http.Request) {
	id, err := userID(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	var body updateUserRequest
	if err := decode(w, r, &body); err != nil {
		s.fail(w, r, err)
		return
	}
	p, _ := principal(r.Context())
	if id == p.UserID && body.Disabled != nil && *body.Disabled {
		writeError(w, http.StatusBadRequest, "you cannot disable your own account; ask another admin", nil)
		return
	}
	var ch auth.Change
	if body.Role != nil {
		role := auth.Role(*body.Role)
		ch.Role = &role
	}
	ch.Password, ch.Disabled = body.Password, body.Disabled
	u, err := s.auth.Update(r.Context(), id, ch)
	attrs := []any{"user.target.id", id}
	if body.Role != nil {
		attrs = append(attrs, "user.target.roles", *body.Role)
	}
	if body.Disabled != nil {
		attrs = append(attrs, "user.target.disabled", *body.Disabled)
	}
	if body.Password != nil {
		attrs = append(attrs, "user.target.password_changed", true)
	}
	if err == nil {
		attrs = append(attrs, "user.target.name", u.Email)
	}
	s.track(r, "user_update", err, attrs...)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, userAnswer{User: viewUser(u)})
}

// deleteUser removes a user, their sessions, API keys and team
// memberships. Nobody deletes their own account, and the last active
// admin stays.
func (s *Server) deleteUser(w http.ResponseWriter, r *http.Request) {
	id, err := userID(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if p, _ := principal(r.Context()); p.UserID == id {
		writeError(w, http.StatusBadRequest, "you cannot delete your own account; ask another admin", nil)
		return
	}
	u, err := s.auth.Delete(r.Context(), id)
	s.track(r, "user_delete", err, "user.target.id", id, "user.target.name", u.Email)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, userDeletedAnswer{Message: "User deleted", User: viewUser(u)})
}

// changeOwnPassword lets a signed-in user replace their password. Their
// other sessions end and their API keys are revoked; this session stays.
func (s *Server) changeOwnPassword(w http.ResponseWriter, r *http.Request) {
	var body passwordChangeRequest
	if err := decode(w, r, &body); err != nil {
		s.fail(w, r, err)
		return
	}
	if body.Current == "" || body.New == "" {
		writeError(w, http.StatusBadRequest, "current_password and new_password are required", nil)
		return
	}
	p, _ := principal(r.Context())
	if p.APIKeyID != 0 {
		writeError(w, http.StatusForbidden, "an API key cannot change a password; sign in", nil)
		return
	}
	if err := auth.CheckPassword(body.New); err != nil {
		s.fail(w, r, err)
		return
	}
	// A wrong current password counts as a failed sign-in of the account:
	// a stolen session must not become a way to guess the password.
	accountKey := auth.AccountKey(p.Email)
	if d := s.throttle.Reserve(auth.Limit{Key: accountKey, Max: s.maxAttempts()}); d > 0 {
		w.Header().Set("Retry-After", retryAfter(d))
		writeError(w, http.StatusTooManyRequests, "too many failed attempts; wait "+retryAfter(d)+" seconds and try again", nil)
		return
	}
	err := s.auth.ChangeOwnPassword(r.Context(), p.UserID, p.SessionID, body.Current, body.New)
	s.track(r, "password_change", err, "user.id", p.UserID)
	switch {
	case err == nil:
		s.throttle.Succeed(accountKey)
	case errors.Is(err, auth.ErrUnavailable):
		s.throttle.Release(accountKey)
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, messageAnswer{Message: "Password changed; your other sessions were signed out and your API keys revoked"})
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
	writeJSON(w, http.StatusOK, apiKeysAnswer{APIKeys: keys})
}

func (s *Server) createAPIKey(w http.ResponseWriter, r *http.Request) {
	var body createAPIKeyRequest
	if err := decode(w, r, &body); err != nil {
		s.fail(w, r, err)
		return
	}
	p, _ := principal(r.Context())
	if p.APIKeyID != 0 {
		writeError(w, http.StatusForbidden, "an API key cannot create API keys; sign in", nil)
		return
	}
	var expires time.Time
	if body.ExpiresAt != "" {
		t, err := time.Parse(time.RFC3339, body.ExpiresAt)
		if err != nil {
			writeError(w, http.StatusBadRequest, "expires_at must be a time such as 2027-01-31T00:00:00Z", nil)
			return
		}
		expires = t
	}
	k, token, err := s.auth.CreateAPIKey(r.Context(), p.UserID, p.SessionID, body.Name, expires)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.track(r, "apikey_create", nil, "apikey.prefix", k.Prefix)
	writeJSON(w, http.StatusCreated, apiKeyCreatedAnswer{APIKey: k, Key: token,
		Message: "Store this key now: it is shown once. Send it as Authorization: Bearer <key>."})
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
	writeJSON(w, http.StatusOK, idMessageAnswer{Message: "API key revoked", ID: id})
}

// maxAttempts is login_max_attempts: the failed sign-ins an account (and
// four times as many an address) gets before the throttle locks it.
func (s *Server) maxAttempts() int {
	if n := int(s.keys.LoginMaxAttempts.Get()); n > 0 {
		return n
	}
	return 5
}
