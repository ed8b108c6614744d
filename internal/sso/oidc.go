package sso

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/rookery/rookery/config"
	"github.com/rookery/rookery/internal/auth"
)

// OIDC is sign-in through an OpenID Connect provider: the authorization
// code flow with PKCE (S256), state and nonce, the ID token verified
// against the provider's published keys.
type OIDC struct {
	keys     *config.Standard
	requests *requests
	client   *http.Client
	now      func() time.Time

	mu sync.Mutex
	// discovered is the provider of the issuer it was discovered for;
	// a changed oidc_issuer_url discovers again.
	discovered *oidc.Provider
	issuer     string
}

// CallbackPath is where the provider sends the browser back (the
// redirect URI registered at the provider is public_url + CallbackPath).
const CallbackPath = "/api/v1/auth/oidc/callback"

// Enabled reports whether OIDC sign-in is switched on (oidc_enabled).
func (o *OIDC) Enabled() bool { return o.keys.SSO.OIDCEnabled.Get() }

// Label is the login button's text.
func (o *OIDC) Label() string { return o.keys.SSO.OIDCButtonLabel.Get() }

// setup is the current settings, checked.
func (o *OIDC) setup() (issuer, redirect string, err error) {
	k := o.keys.SSO
	if !k.OIDCEnabled.Get() {
		return "", "", refused("single sign-on through OpenID Connect is switched off")
	}
	base, err := publicBase(o.keys)
	if err != nil {
		return "", "", errNotConfigured("OpenID Connect", err)
	}
	issuer = k.OIDCIssuerURL.Get()
	if issuer == "" || k.OIDCClientID.Get() == "" {
		return "", "", errNotConfigured("OpenID Connect", errors.New("oidc_issuer_url and oidc_client_id must be set"))
	}
	return issuer, base + CallbackPath, nil
}

func (o *OIDC) ctx(ctx context.Context) context.Context { return oidc.ClientContext(ctx, o.client) }

// provider discovers the issuer's endpoints and keys, once per issuer.
func (o *OIDC) provider(ctx context.Context, issuer string) (*oidc.Provider, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.discovered != nil && o.issuer == issuer {
		return o.discovered, nil
	}
	// The key set the provider fetches later must not die with this
	// request: discovery gets a context that only carries the client.
	p, err := oidc.NewProvider(o.ctx(context.WithoutCancel(ctx)), issuer)
	if err != nil {
		return nil, unavailable("the identity provider could not be reached or its discovery document is wrong; try again, or ask an admin to check oidc_issuer_url",
			fmt.Errorf("discover %s: %w", issuer, err))
	}
	o.discovered, o.issuer = p, issuer
	return p, nil
}

func (o *OIDC) oauth(p *oidc.Provider, redirect string) *oauth2.Config {
	k := o.keys.SSO
	scopes := strings.Fields(k.OIDCScopes.Get())
	hasOpenID := false
	for _, s := range scopes {
		hasOpenID = hasOpenID || s == oidc.ScopeOpenID
	}
	if !hasOpenID {
		scopes = append([]string{oidc.ScopeOpenID}, scopes...)
	}
	return &oauth2.Config{ClientID: k.OIDCClientID.Get(), ClientSecret: k.OIDCClientSecret.Get().Reveal(),
		Endpoint: p.Endpoint(), RedirectURL: redirect, Scopes: scopes}
}

// Begin starts a sign-in that returns to next (a path of this site): it
// stores the state, nonce and PKCE verifier, and returns the provider's
// authorization URL and the value the browser must hold in a cookie to
// finish it.
func (o *OIDC) Begin(ctx context.Context, next string) (authURL, binding string, err error) {
	issuer, redirect, err := o.setup()
	if err != nil {
		return "", "", err
	}
	p, err := o.provider(ctx, issuer)
	if err != nil {
		return "", "", err
	}
	r := request{ID: random(32), Provider: auth.MethodOIDC, Nonce: random(32), Verifier: oauth2.GenerateVerifier(),
		Next: SafeNext(next), Expires: o.now().Add(requestTTL)}
	binding = random(32)
	r.Binding = hashBinding(binding)
	if err := o.requests.put(ctx, r); err != nil {
		return "", "", unavailable("the sign-in could not be started because the database is unavailable; try again shortly", err)
	}
	return o.oauth(p, redirect).AuthCodeURL(r.ID, oauth2.S256ChallengeOption(r.Verifier), oidc.Nonce(r.Nonce)), binding, nil
}

// Result is who a finished sign-in proved the user to be, and where they
// were going.
type Result struct {
	Identity auth.ExternalIdentity
	Next     string
}

// Finish checks the provider's answer (the callback's query) against the
// sign-in the browser started (binding, from its cookie): the state is
// used once, the code is exchanged with the PKCE verifier, the ID token's
// signature, issuer, audience, expiry and nonce are verified, the email
// must be verified and in an allowed domain, and the role is mapped from
// the role claim. Failures are *Error.
func (o *OIDC) Finish(ctx context.Context, query url.Values, binding string) (Result, error) {
	issuer, redirect, err := o.setup()
	if err != nil {
		return Result{}, err
	}
	if e := query.Get("error"); e != "" {
		reason := "the identity provider refused the sign-in (" + short(e) + ")"
		if d := query.Get("error_description"); d != "" {
			reason += ": " + short(d)
		}
		// Consume the sign-in, so its state cannot be answered again.
		_, _ = o.requests.take(ctx, query.Get("state"), auth.MethodOIDC, binding)
		return Result{}, refused(reason)
	}
	req, err := o.requests.take(ctx, query.Get("state"), auth.MethodOIDC, binding)
	if errors.Is(err, errNoRequest) {
		return Result{}, invalid("this sign-in was already used, has expired, or was started in another browser; start again", err)
	}
	if err != nil {
		return Result{}, unavailable("the sign-in could not be checked because the database is unavailable; try again shortly", err)
	}
	code := query.Get("code")
	if code == "" {
		return Result{}, invalid("the identity provider sent no authorization code; start again", nil)
	}
	p, err := o.provider(ctx, issuer)
	if err != nil {
		return Result{}, err
	}
	cfg := o.oauth(p, redirect)
	tok, err := cfg.Exchange(o.ctx(ctx), code, oauth2.VerifierOption(req.Verifier))
	if err != nil {
		var re *oauth2.RetrieveError
		if errors.As(err, &re) {
			return Result{}, invalid("the identity provider did not accept the sign-in code ("+short(re.ErrorCode)+"); start again", err)
		}
		return Result{}, unavailable("the identity provider's token endpoint could not be reached; try again", err)
	}
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		return Result{}, invalid("the identity provider sent no ID token; ask an admin to check that the openid scope is allowed", nil)
	}
	idt, err := p.Verifier(&oidc.Config{ClientID: cfg.ClientID, Now: o.now}).Verify(o.ctx(ctx), raw)
	if err != nil {
		return Result{}, tokenError(err)
	}
	if idt.Nonce != req.Nonce {
		return Result{}, invalid("the identity provider's token does not belong to this sign-in (nonce mismatch); start again", nil)
	}
	claims := map[string]any{}
	if err := idt.Claims(&claims); err != nil {
		return Result{}, invalid("the identity provider's token could not be read", err)
	}
	// Providers that keep the ID token small (Okta, Entra ID) put email
	// and groups in the userinfo answer only: ask it for what is missing.
	roleClaim := o.keys.SSO.OIDCRoleClaim.Get()
	if (claims["email"] == nil || claims[roleClaim] == nil) && p.UserInfoEndpoint() != "" {
		if info, err := p.UserInfo(o.ctx(ctx), cfg.TokenSource(o.ctx(ctx), tok)); err == nil && info.Subject == idt.Subject {
			more := map[string]any{}
			if info.Claims(&more) == nil {
				for k, v := range more {
					if _, ok := claims[k]; !ok {
						claims[k] = v
					}
				}
			}
		}
	}
	email, _ := claims["email"].(string)
	if email == "" {
		return Result{}, refused("the identity provider sent no email address; ask an admin to add the email scope")
	}
	if !emailVerified(claims) {
		return Result{}, refused("the identity provider has not verified the email address " + short(email))
	}
	k := o.keys.SSO
	if !DomainAllowed(email, k.OIDCAllowedDomains.Get()) {
		return Result{}, refused("accounts of the domain of " + short(email) + " may not sign in here")
	}
	// A missing role claim states no role: an existing account keeps its
	// own (see auth.ExternalIdentity).
	var role auth.Role
	if v, ok := claims[roleClaim]; ok && v != nil {
		role = MapRole(claimValues(v), k.OIDCAdminValues.Get(), k.OIDCMaintainerValues.Get())
	}
	return Result{
		Identity: auth.ExternalIdentity{Provider: auth.MethodOIDC, Subject: idt.Subject, Email: email,
			Role: role, AutoCreate: k.OIDCAutoCreate.Get()},
		Next: req.Next,
	}, nil
}

// tokenError says why an ID token was refused.
func tokenError(err error) *Error {
	var exp *oidc.TokenExpiredError
	msg := err.Error()
	switch {
	case errors.As(err, &exp):
		return invalid("the identity provider's token has expired; start again (if it keeps happening, check the clocks of rookery and the provider)", err)
	case strings.Contains(msg, "expected audience"):
		return invalid("the identity provider's token was issued for another application (wrong audience); ask an admin to check oidc_client_id", err)
	case strings.Contains(msg, "issued by a different provider"):
		return invalid("the token was issued by another identity provider; ask an admin to check oidc_issuer_url", err)
	}
	return invalid("the identity provider's token could not be verified", err)
}

// emailVerified reports whether the provider vouches for the address:
// email_verified true, or, from a provider that never sends that claim
// (Microsoft Entra ID for work accounts), xms_edov true (the address's
// domain is verified as the tenant's).
func emailVerified(claims map[string]any) bool {
	if v, ok := claims["email_verified"]; ok {
		return isTrue(v)
	}
	return isTrue(claims["xms_edov"])
}

// isTrue reads a boolean claim, which some providers send as a string.
func isTrue(v any) bool {
	switch t := v.(type) {
	case bool:
		return t
	case string:
		return strings.EqualFold(t, "true")
	}
	return false
}

// short cuts text from the provider (or the user) to a length a message
// can hold.
func short(s string) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
	if r := []rune(s); len(r) > 200 {
		return string(r[:200]) + "..."
	}
	return s
}
