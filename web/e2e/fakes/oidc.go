package main

import (
	"net/http"

	"github.com/rookery/rookery/internal/sso/ssotest"
)

// The OpenID Connect provider of the end-to-end tests: a real one
// (discovery, key set, authorization with PKCE, token and userinfo
// endpoints) that approves one configured user at once, as an identity
// provider does for a user already signed in there.
const (
	oidcClientID     = "rookery-e2e"
	oidcClientSecret = "e2e-oidc-client-secret"
	oidcEmail        = "sso.user@example.com"
)

var oidcUser = ssotest.User{Subject: "e2e-sso-user", Email: oidcEmail, EmailVerified: true, Groups: []string{"rookery-maintainers"}}

func startOIDC() *ssotest.Provider {
	p := ssotest.Start(oidcClientID, oidcClientSecret)
	p.SetUser(oidcUser)
	return p
}

// oidcInfo is what run.sh passes to rookery and the tests.
func oidcInfo(p *ssotest.Provider) map[string]string {
	return map[string]string{
		"oidc_issuer_url": p.Issuer, "oidc_client_id": oidcClientID, "oidc_client_secret": oidcClientSecret,
		"oidc_email": oidcEmail, "oidc_maintainer_values": "rookery-maintainers",
	}
}

// oidcControl lets the tests make the provider refuse (POST
// /oidc/deny?error=access_denied) and approve again (POST /oidc/ok).
func oidcControl(mux *http.ServeMux, p *ssotest.Provider) {
	mux.HandleFunc("POST /oidc/deny", func(w http.ResponseWriter, r *http.Request) {
		code := r.URL.Query().Get("error")
		if code == "" {
			code = "access_denied"
		}
		p.Deny(code)
	})
	mux.HandleFunc("POST /oidc/ok", func(w http.ResponseWriter, r *http.Request) {
		p.Reset()
		p.SetUser(oidcUser)
	})
}
