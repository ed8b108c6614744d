package httpapi

import (
	"errors"
	"net/http"
	"time"

	"github.com/rookery/rookery/internal/auth"
)

func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Origin") != "" && !sameOrigin(r) {
		writeError(w, http.StatusForbidden, "cross-site sign-in refused", nil)
		return
	}
	var body struct {
		Email    string `json:"email"`
		Password string `json:"password"`
	}
	if err := decode(w, r, &body); err != nil {
		s.fail(w, r, err)
		return
	}
	if body.Email == "" || body.Password == "" {
		writeError(w, http.StatusBadRequest, "email and password are required", nil)
		return
	}
	max := int(s.cfg.Int("login_max_attempts"))
	if max <= 0 {
		max = 5
	}
	accountKey, ipKey := "account:"+body.Email, "ip:"+clientIP(r)
	if d := max64(s.throttle.Wait(accountKey), s.throttle.Wait(ipKey)); d > 0 {
		w.Header().Set("Retry-After", retryAfter(d))
		writeError(w, http.StatusTooManyRequests, "too many failed sign-ins; wait "+retryAfter(d)+" seconds and try again", nil)
		return
	}
	u, err := s.auth.Authenticate(r.Context(), body.Email, body.Password)
	if errors.Is(err, auth.ErrCredentials) {
		s.throttle.Fail(accountKey, max)
		s.throttle.Fail(ipKey, max*4)
		s.track(r, "login", err, "source.ip", clientIP(r))
		writeError(w, http.StatusUnauthorized, "email or password is wrong", nil)
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.throttle.Succeed(accountKey)
	token, exp, err := s.auth.Issue(r.Context(), u)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: token, Path: "/", Expires: exp, MaxAge: int(time.Until(exp).Seconds()),
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: s.secure || r.TLS != nil})
	s.track(r, "login", nil, "user.id", u.ID, "user.name", u.Email, "source.ip", clientIP(r))
	writeJSON(w, http.StatusOK, map[string]any{
		"access_token": token, "token_type": "Bearer", "expires_at": exp, "expires_in": int(time.Until(exp).Seconds()),
		"user": viewUser(u),
	})
}

func max64(a, b time.Duration) time.Duration {
	if a > b {
		return a
	}
	return b
}
