package httpapi

import (
	"encoding/xml"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/rookery/rookery/internal/auth"
	"github.com/rookery/rookery/internal/sso"
	"github.com/rookery/rookery/license"
)

// Single sign-on routes. The browser is sent to the identity provider and
// back; every failure lands on the login page with a readable reason in
// sso_error, never on an error page.

// ssoCookiePrefix names the short-lived cookie (one per protocol) that
// binds a sign-in under way to the browser that started it. The OIDC one
// is SameSite=Lax: the provider's redirect back is a cross-site top-level
// GET, on which Lax cookies are sent and Strict ones are not. The SAML
// one must travel with a cross-site POST, so it is SameSite=None and
// Secure (see samlLogin).
const ssoCookiePrefix = "rookery_sso_"

// loginPage is where a failed single sign-on sends the browser.
const loginPage = "/login"

type ssoHandlers struct {
	s      *Server
	logins *prometheus.CounterVec
}

func (s *Server) ssoRoutes() {
	h := &ssoHandlers{s: s, logins: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "rookery_sso_logins_total",
		Help: "Single sign-on attempts by provider (oidc, saml) and outcome (success, refused, invalid, unavailable)."},
		[]string{"provider", "outcome"})}
	s.registry.MustRegister(h.logins)
	s.mux.HandleFunc("GET /api/v1/auth/providers", h.providers)
	// The browser-facing routes check the licence themselves, so that a
	// missing feature lands on the login page like any other failure; the
	// metadata, read by the provider's admin or software, answers 403.
	s.mux.HandleFunc("GET /api/v1/auth/oidc/login", h.licensed(sso.FeatureOIDC, auth.MethodOIDC, h.oidcLogin))
	s.mux.HandleFunc("GET "+sso.CallbackPath, h.licensed(sso.FeatureOIDC, auth.MethodOIDC, h.oidcCallback))
	s.mux.HandleFunc("GET "+sso.SAMLMetadataPath, s.feature(sso.FeatureSAML, h.samlMetadata))
	s.mux.HandleFunc("GET /api/v1/auth/saml/login", h.licensed(sso.FeatureSAML, auth.MethodSAML, h.samlLogin))
	s.mux.HandleFunc("POST "+sso.SAMLACSPath, h.licensed(sso.FeatureSAML, auth.MethodSAML, h.samlACS))
}

// licensed runs next when the licence grants feature, and otherwise sends
// the browser to the login page with a reason naming the feature.
func (h *ssoHandlers) licensed(feature, provider string, next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !h.s.license.HasFeature(feature) {
			h.fail(w, r, provider, &sso.Error{Outcome: sso.OutcomeUnavailable,
				Reason: "single sign-on through " + strings.ToUpper(provider) + " needs the licence feature " + feature + ", which this server's licence does not grant; ask an admin"})
			return
		}
		next(w, r)
	}
}

// providersAnswer is GET /api/v1/auth/providers: the sign-in methods the
// login page offers. A method switched off, or whose licence feature is
// missing, is null.
type providersAnswer struct {
	// Password is false when local_login_enabled is off.
	Password bool         `json:"password"`
	OIDC     *ssoProvider `json:"oidc"`
	SAML     *ssoProvider `json:"saml"`
}

// ssoProvider is one single sign-on button: its text, and where it leads
// (the page adds ?next=).
type ssoProvider struct {
	Label    string `json:"label"`
	LoginURL string `json:"login_url"`
}

func (h *ssoHandlers) providers(w http.ResponseWriter, r *http.Request) {
	out := providersAnswer{Password: h.s.keys.SSO.LocalLoginEnabled.Get()}
	if o := h.oidc(); o != nil && o.Enabled() && h.s.license.HasFeature(sso.FeatureOIDC) {
		out.OIDC = &ssoProvider{Label: o.Label(), LoginURL: "/api/v1/auth/oidc/login"}
	}
	if m := h.saml(); m != nil && m.Enabled() && h.s.license.HasFeature(sso.FeatureSAML) {
		out.SAML = &ssoProvider{Label: m.Label(), LoginURL: "/api/v1/auth/saml/login"}
	}
	writeJSON(w, http.StatusOK, out)
}

func (h *ssoHandlers) oidc() *sso.OIDC {
	if h.s.sso == nil {
		return nil
	}
	return h.s.sso.OIDC
}

func (h *ssoHandlers) saml() *sso.SAML {
	if h.s.sso == nil {
		return nil
	}
	return h.s.sso.SAML
}

var errNoSSO = &sso.Error{Reason: "single sign-on is not available on this server", Outcome: sso.OutcomeUnavailable}

// ssoStartsPerAddress bounds the sign-ins a client address may start
// (each stores a row) before it must wait; a completed sign-in from the
// address forgets its count, so only starts nobody finishes add up.
const ssoStartsPerAddress = 30

// startKey is the throttle bucket of sign-in starts from r's address.
func (h *ssoHandlers) startKey(r *http.Request) string {
	return "sso-start:" + h.s.clientBucket(r)
}

// mayStart counts a sign-in start from r's address, and when the address
// has started too many, sends the browser to the login page and reports
// false.
func (h *ssoHandlers) mayStart(w http.ResponseWriter, r *http.Request, provider string) bool {
	if d := h.s.throttle.Reserve(auth.Limit{Key: h.startKey(r), Max: ssoStartsPerAddress}); d > 0 {
		h.fail(w, r, provider, &sso.Error{Outcome: sso.OutcomeRefused,
			Reason: "too many sign-in attempts from your address; wait " + retryAfter(d) + " seconds and try again"})
		return false
	}
	return true
}

func (h *ssoHandlers) oidcLogin(w http.ResponseWriter, r *http.Request) {
	o := h.oidc()
	if o == nil {
		h.fail(w, r, auth.MethodOIDC, errNoSSO)
		return
	}
	if !h.mayStart(w, r, auth.MethodOIDC) {
		return
	}
	target, binding, err := o.Begin(r.Context(), r.URL.Query().Get("next"))
	if err != nil {
		h.fail(w, r, auth.MethodOIDC, err)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: ssoCookiePrefix + auth.MethodOIDC, Value: binding, Path: "/api/v1/auth/oidc/",
		MaxAge: int((10 * time.Minute).Seconds()), HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: h.s.secure || r.TLS != nil})
	http.Redirect(w, r, target, http.StatusFound)
}

func (h *ssoHandlers) oidcCallback(w http.ResponseWriter, r *http.Request) {
	o := h.oidc()
	if o == nil {
		h.fail(w, r, auth.MethodOIDC, errNoSSO)
		return
	}
	binding := ""
	if c, err := r.Cookie(ssoCookiePrefix + auth.MethodOIDC); err == nil {
		binding = c.Value
	}
	// The sign-in is over whatever happens: the cookie goes.
	http.SetCookie(w, &http.Cookie{Name: ssoCookiePrefix + auth.MethodOIDC, Value: "", Path: "/api/v1/auth/oidc/", MaxAge: -1,
		HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: h.s.secure || r.TLS != nil})
	res, err := o.Finish(r.Context(), r.URL.Query(), binding)
	if err != nil {
		h.fail(w, r, auth.MethodOIDC, err)
		return
	}
	h.signIn(w, r, res)
}

// samlMetadata is the service provider's metadata, for the identity
// provider's admin (it names the entity id, the ACS URL and the key).
func (h *ssoHandlers) samlMetadata(w http.ResponseWriter, r *http.Request) {
	m := h.saml()
	if m == nil {
		writeError(w, http.StatusServiceUnavailable, errNoSSO.Reason, nil)
		return
	}
	md, err := m.Metadata(r.Context())
	if err != nil {
		var se *sso.Error
		if errors.As(err, &se) {
			h.s.logger(r).Warn("SAML metadata not available", "error.message", se.Error())
			writeError(w, http.StatusServiceUnavailable, se.Reason, nil)
			return
		}
		h.s.fail(w, r, err)
		return
	}
	out, err := xml.MarshalIndent(md, "", "  ")
	if err != nil {
		h.s.fail(w, r, fmt.Errorf("encode SAML metadata: %w", err))
		return
	}
	w.Header().Set("Content-Type", "application/samlmetadata+xml")
	_, _ = w.Write(append([]byte(xml.Header), out...))
}

func (h *ssoHandlers) samlLogin(w http.ResponseWriter, r *http.Request) {
	m := h.saml()
	if m == nil {
		h.fail(w, r, auth.MethodSAML, errNoSSO)
		return
	}
	if !h.mayStart(w, r, auth.MethodSAML) {
		return
	}
	target, binding, err := m.Begin(r.Context(), r.URL.Query().Get("next"))
	if err != nil {
		h.fail(w, r, auth.MethodSAML, err)
		return
	}
	// The answer comes back as a cross-site POST: only a SameSite=None
	// cookie travels with it, and such a cookie must be Secure (SAML
	// needs https; see sso.SAML).
	http.SetCookie(w, &http.Cookie{Name: ssoCookiePrefix + auth.MethodSAML, Value: binding, Path: "/api/v1/auth/saml/",
		MaxAge: int((10 * time.Minute).Seconds()), HttpOnly: true, SameSite: http.SameSiteNoneMode, Secure: true})
	http.Redirect(w, r, target, http.StatusFound)
}

// maxSAMLResponse bounds the posted answer (a signed response with many
// attributes is some tens of kilobytes).
const maxSAMLResponse = 1 << 20

func (h *ssoHandlers) samlACS(w http.ResponseWriter, r *http.Request) {
	m := h.saml()
	if m == nil {
		h.fail(w, r, auth.MethodSAML, errNoSSO)
		return
	}
	binding := ""
	if c, err := r.Cookie(ssoCookiePrefix + auth.MethodSAML); err == nil {
		binding = c.Value
	}
	http.SetCookie(w, &http.Cookie{Name: ssoCookiePrefix + auth.MethodSAML, Value: "", Path: "/api/v1/auth/saml/", MaxAge: -1,
		HttpOnly: true, SameSite: http.SameSiteNoneMode, Secure: true})
	r.Body = http.MaxBytesReader(w, r.Body, maxSAMLResponse)
	if err := r.ParseForm(); err != nil {
		h.fail(w, r, auth.MethodSAML, &sso.Error{Reason: "the identity provider's answer could not be read", Outcome: sso.OutcomeInvalid, Err: err})
		return
	}
	res, err := m.Finish(r.Context(), r, binding)
	if err != nil {
		h.fail(w, r, auth.MethodSAML, err)
		return
	}
	h.signIn(w, r, res)
}

// signIn finds, links or creates the account and starts its session with
// the same cookie a password sign-in sets, then sends the browser on.
func (h *ssoHandlers) signIn(w http.ResponseWriter, r *http.Request, res sso.Result) {
	provider := res.Identity.Provider
	u, err := h.s.auth.SignInExternal(r.Context(), res.Identity)
	if err != nil {
		h.fail(w, r, provider, accountError(err), "user.name", res.Identity.Email)
		return
	}
	token, exp, err := h.s.auth.Issue(r.Context(), u)
	if err != nil {
		h.fail(w, r, provider, accountError(err), "user.name", u.Email)
		return
	}
	h.s.setSessionCookie(w, r, token, exp)
	h.s.throttle.Succeed(h.startKey(r))
	h.logins.WithLabelValues(provider, "success").Inc()
	h.s.track(r, "sso-login", nil, "event.provider", provider, "user.id", u.ID, "user.name", u.Email,
		"user.roles", string(u.Role), "source.ip", clientIP(r))
	http.Redirect(w, r, sso.SafeNext(res.Next), http.StatusFound)
}

// setSessionCookie sets the session cookie exactly as password sign-in
// does (login.go).
func (s *Server) setSessionCookie(w http.ResponseWriter, r *http.Request, token string, exp time.Time) {
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: token, Path: "/", Expires: exp, MaxAge: int(time.Until(exp).Seconds()),
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: s.secure || r.TLS != nil})
}

// accountError turns a refusal of package auth into the sentence the
// login page shows.
func accountError(err error) *sso.Error {
	var le *license.LimitError
	switch {
	case errors.As(err, &le):
		return &sso.Error{Reason: "the licence's user limit is reached, so no account can be created for you; ask an admin",
			Outcome: sso.OutcomeRefused, Err: err}
	case errors.Is(err, auth.ErrDisabled), errors.Is(err, auth.ErrNoAccount), errors.Is(err, auth.ErrAdminLink):
		return &sso.Error{Reason: err.Error(), Outcome: sso.OutcomeRefused, Err: err}
	case errors.Is(err, auth.ErrInvalid):
		return &sso.Error{Reason: strings.TrimPrefix(err.Error(), auth.ErrInvalid.Error()+": "), Outcome: sso.OutcomeRefused, Err: err}
	case errors.Is(err, auth.ErrExists):
		return &sso.Error{Reason: "an account with this email was created at the same moment; sign in again", Outcome: sso.OutcomeUnavailable, Err: err}
	}
	return &sso.Error{Reason: "the user database is unavailable; try again shortly", Outcome: sso.OutcomeUnavailable, Err: err}
}

// fail counts and logs a failed sign-in and sends the browser to the
// login page with the reason.
func (h *ssoHandlers) fail(w http.ResponseWriter, r *http.Request, provider string, err error, attrs ...any) {
	var se *sso.Error
	if !errors.As(err, &se) {
		se = &sso.Error{Reason: "the sign-in failed; try again", Outcome: sso.OutcomeUnavailable, Err: err}
	}
	h.logins.WithLabelValues(provider, se.Outcome).Inc()
	h.s.track(r, "sso-login", se, append(attrs, "event.provider", provider, "event.reason", se.Reason, "source.ip", clientIP(r))...)
	http.Redirect(w, r, loginPage+"?sso_error="+url.QueryEscape(se.Reason), http.StatusFound)
}
