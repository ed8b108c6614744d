package httpapi

import (
	"errors"
	"net/http"
	"time"

	"github.com/rookery/rookery/internal/auth"
)

func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	// With local_login_enabled off only single sign-on signs in; the
	// command line (rookery user ...) stays the way back in.
	if !s.keys.SSO.LocalLoginEnabled.Get() {
		writeError(w, http.StatusForbidden, "sign-in with email and password is switched off on this server; use single sign-on", map[string]any{"local_login_enabled": false})
		return
	}
	// A page of another site must not sign the browser in (login CSRF:
	// the victim would then act under the attacker's account). Clients
	// without a browser send neither Sec-Fetch-Site nor Origin and pass.
	if crossOrigin.Check(r) != nil {
		writeError(w, http.StatusForbidden, "cross-site sign-in refused", nil)
		return
	}
	var body loginRequest
	if err := decode(w, r, &body); err != nil {
		s.fail(w, r, err)
		return
	}
	if body.Email == "" || body.Password == "" {
		writeError(w, http.StatusBadRequest, "email and password are required", nil)
		return
	}
	max := s.maxAttempts()
	// The attempt is counted before the password is checked, in the same
	// step that checks the locks: concurrent guesses each take one of the
	// max attempts, and the ones past it are refused without an answer.
	accountKey, addrKey := auth.AccountKey(body.Email), "ip:"+s.clientBucket(r)
	if d := s.throttle.Reserve(auth.Limit{Key: accountKey, Max: max}, auth.Limit{Key: addrKey, Max: max * 4}); d > 0 {
		w.Header().Set("Retry-After", retryAfter(d))
		writeError(w, http.StatusTooManyRequests, "too many failed sign-ins; wait "+retryAfter(d)+" seconds and try again", nil)
		return
	}
	u, err := s.auth.Authenticate(r.Context(), body.Email, body.Password)
	if errors.Is(err, auth.ErrCredentials) {
		s.track(r, "login", err, "source.ip", clientIP(r))
		writeError(w, http.StatusUnauthorized, "email or password is wrong", nil)
		return
	}
	if err != nil {
		if errors.Is(err, auth.ErrUnavailable) {
			// The password could not be checked: that was no guess.
			s.throttle.Release(accountKey)
			s.throttle.Release(addrKey)
		}
		s.fail(w, r, err)
		return
	}
	// The owner knows the password: forget the account's failures, and
	// do not charge the address for a sign-in that was not a guess.
	s.throttle.Succeed(accountKey)
	s.throttle.Release(addrKey)
	token, exp, err := s.auth.Issue(r.Context(), u)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: token, Path: "/", Expires: exp, MaxAge: int(time.Until(exp).Seconds()),
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: s.secure || r.TLS != nil})
	s.track(r, "login", nil, "user.id", u.ID, "user.name", u.Email, "source.ip", clientIP(r))
	writeJSON(w, http.StatusOK, loginAnswer{AccessToken: token, TokenType: "Bearer", ExpiresAt: exp,
		ExpiresIn: int(time.Until(exp).Seconds()), User: viewUser(u)})
}

// clientBucket is the throttle bucket of the request's client address:
// the address itself, or its /64 for IPv6 (see addrBucket).
func (s *Server) clientBucket(r *http.Request) string {
	if info, ok := r.Context().Value(keyInfo).(*requestInfo); ok && info.client.IsValid() {
		return addrBucket(info.client)
	}
	if a := clientAddr(r, s.trusted); a.IsValid() {
		return addrBucket(a)
	}
	return clientIP(r)
}
