// Package ssotest runs a real OpenID Connect provider for tests: discovery,
// a JSON Web Key Set, an authorization endpoint that approves a configured
// user at once and redirects back with a code, a token endpoint that
// checks the client and the PKCE (S256) verifier and issues RS256-signed
// ID tokens, and a userinfo endpoint.
package ssotest

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// User is who the provider signs in.
type User struct {
	Subject       string
	Email         string
	EmailVerified bool
	Groups        []string
}

// Provider is an OpenID Connect provider. Set its fields before the
// first sign-in, or through the methods while it serves.
type Provider struct {
	// Issuer is the provider's issuer URL (its base URL).
	Issuer       string
	ClientID     string
	ClientSecret string

	key    *rsa.PrivateKey
	keyID  string
	server *httptest.Server

	mu    sync.Mutex
	user  User
	next  func() User
	codes map[string]grant
	// tokens maps issued access tokens to the user they were issued for.
	tokens map[string]User
	tamper func(claims map[string]any)
	deny   string
	// foreign signs ID tokens with a key the JWKS does not publish.
	foreign *rsa.PrivateKey
	now     func() time.Time
}

type grant struct {
	clientID, redirectURI, challenge, nonce string
	user                                    User
	expires                                 time.Time
}

// New makes a provider whose issuer is issuer (its own address, as the
// caller serves Handler there). The client id and secret are the ones
// the relying party must present.
func New(issuer, clientID, clientSecret string) *Provider {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err) // crypto/rand does not fail
	}
	return &Provider{Issuer: issuer, ClientID: clientID, ClientSecret: clientSecret, key: key, keyID: randomString(8),
		user:  User{Subject: "user-1", Email: "ada@example.com", EmailVerified: true},
		codes: map[string]grant{}, tokens: map[string]User{}, now: time.Now}
}

// Start serves a new provider on a loopback address; Close stops it.
func Start(clientID, clientSecret string) *Provider {
	p := New("", clientID, clientSecret)
	p.server = httptest.NewServer(p.Handler())
	p.Issuer = p.server.URL
	return p
}

// Close stops a provider made by Start.
func (p *Provider) Close() {
	if p.server != nil {
		p.server.Close()
	}
}

// SetUser sets who the next sign-ins approve.
func (p *Provider) SetUser(u User) {
	p.mu.Lock()
	p.user, p.next = u, nil
	p.mu.Unlock()
}

// SetUsers makes each sign-in approve the user next returns.
func (p *Provider) SetUsers(next func() User) {
	p.mu.Lock()
	p.next = next
	p.mu.Unlock()
}

// Tamper changes the claims of the ID tokens issued from now on (nil
// stops): a test's way to send a wrong nonce, audience or expiry.
func (p *Provider) Tamper(fn func(claims map[string]any)) {
	p.mu.Lock()
	p.tamper = fn
	p.mu.Unlock()
}

// Deny makes the authorization endpoint refuse with this OAuth error
// code ("" approves again).
func (p *Provider) Deny(code string) {
	p.mu.Lock()
	p.deny = code
	p.mu.Unlock()
}

// SignWithForeignKey signs the ID tokens issued from now on with a key the
// key set does not publish (false signs with the right one again).
func (p *Provider) SignWithForeignKey(on bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.foreign = nil
	if on {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			panic(err)
		}
		p.foreign = k
	}
}

// Reset approves the default user again with no fault.
func (p *Provider) Reset() {
	p.mu.Lock()
	p.user = User{Subject: "user-1", Email: "ada@example.com", EmailVerified: true}
	p.next, p.tamper, p.deny, p.foreign = nil, nil, "", nil
	p.mu.Unlock()
}

// Handler serves the provider's endpoints under its issuer's path.
func (p *Provider) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", p.discovery)
	mux.HandleFunc("GET /jwks", p.jwks)
	mux.HandleFunc("GET /authorize", p.authorize)
	mux.HandleFunc("POST /token", p.token)
	mux.HandleFunc("GET /userinfo", p.userinfo)
	return mux
}

func (p *Provider) discovery(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{
		"issuer":                                p.Issuer,
		"authorization_endpoint":                p.Issuer + "/authorize",
		"token_endpoint":                        p.Issuer + "/token",
		"jwks_uri":                              p.Issuer + "/jwks",
		"userinfo_endpoint":                     p.Issuer + "/userinfo",
		"response_types_supported":              []string{"code"},
		"subject_types_supported":               []string{"public"},
		"id_token_signing_alg_values_supported": []string{"RS256"},
		"code_challenge_methods_supported":      []string{"S256"},
		"token_endpoint_auth_methods_supported": []string{"client_secret_basic", "client_secret_post"},
		"scopes_supported":                      []string{"openid", "email", "profile"},
	})
}

func (p *Provider) jwks(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, jose.JSONWebKeySet{Keys: []jose.JSONWebKey{
		{Key: &p.key.PublicKey, KeyID: p.keyID, Algorithm: string(jose.RS256), Use: "sig"}}})
}

// authorize approves the configured user at once and sends the browser
// back to redirect_uri with a code, as a provider does after its login
// page.
func (p *Provider) authorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	redirect, err := url.Parse(q.Get("redirect_uri"))
	if err != nil || redirect.Scheme == "" || redirect.Host == "" {
		http.Error(w, "redirect_uri is missing or not absolute", http.StatusBadRequest)
		return
	}
	if q.Get("client_id") != p.ClientID {
		http.Error(w, "unknown client_id", http.StatusBadRequest)
		return
	}
	back := redirect.Query()
	back.Set("state", q.Get("state"))
	p.mu.Lock()
	deny := p.deny
	user := p.user
	if p.next != nil {
		user = p.next()
	}
	p.mu.Unlock()
	switch {
	case deny != "":
		back.Set("error", deny)
		back.Set("error_description", "the user was not allowed to sign in")
	case q.Get("response_type") != "code":
		back.Set("error", "unsupported_response_type")
	case q.Get("code_challenge_method") != "S256" || q.Get("code_challenge") == "":
		back.Set("error", "invalid_request")
		back.Set("error_description", "PKCE with S256 is required")
	default:
		code := randomString(24)
		p.mu.Lock()
		p.codes[code] = grant{clientID: p.ClientID, redirectURI: redirect.String(), challenge: q.Get("code_challenge"),
			nonce: q.Get("nonce"), user: user, expires: p.now().Add(time.Minute)}
		p.mu.Unlock()
		back.Set("code", code)
	}
	redirect.RawQuery = back.Encode()
	http.Redirect(w, r, redirect.String(), http.StatusFound)
}

func (p *Provider) token(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		tokenError(w, "invalid_request", "the body is not a form")
		return
	}
	id, secret, ok := r.BasicAuth()
	if ok {
		id, _ = url.QueryUnescape(id)
		secret, _ = url.QueryUnescape(secret)
	} else {
		id, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	}
	if id != p.ClientID || subtle.ConstantTimeCompare([]byte(secret), []byte(p.ClientSecret)) != 1 {
		w.Header().Set("WWW-Authenticate", `Basic realm="token"`)
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "invalid_client"})
		return
	}
	if r.PostForm.Get("grant_type") != "authorization_code" {
		tokenError(w, "unsupported_grant_type", "")
		return
	}
	code := r.PostForm.Get("code")
	p.mu.Lock()
	g, found := p.codes[code]
	delete(p.codes, code) // a code is used once, whatever happens next
	p.mu.Unlock()
	switch {
	case !found || p.now().After(g.expires):
		tokenError(w, "invalid_grant", "unknown, used or expired code")
		return
	case g.redirectURI != r.PostForm.Get("redirect_uri"):
		tokenError(w, "invalid_grant", "redirect_uri differs from the authorization request's")
		return
	case !pkceMatches(r.PostForm.Get("code_verifier"), g.challenge):
		tokenError(w, "invalid_grant", "PKCE verification failed")
		return
	}
	idToken, err := p.idToken(g)
	if err != nil {
		tokenError(w, "server_error", err.Error())
		return
	}
	access := randomString(24)
	p.mu.Lock()
	p.tokens[access] = g.user
	p.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"access_token": access, "token_type": "Bearer", "expires_in": 300, "id_token": idToken})
}

func pkceMatches(verifier, challenge string) bool {
	if len(verifier) < 43 || len(verifier) > 128 {
		return false
	}
	sum := sha256.Sum256([]byte(verifier))
	return subtle.ConstantTimeCompare([]byte(base64.RawURLEncoding.EncodeToString(sum[:])), []byte(challenge)) == 1
}

func (p *Provider) claims(u User) map[string]any {
	c := map[string]any{"sub": u.Subject, "email": u.Email, "email_verified": u.EmailVerified}
	if u.Groups != nil {
		c["groups"] = u.Groups
	}
	return c
}

func (p *Provider) idToken(g grant) (string, error) {
	now := p.now()
	c := p.claims(g.user)
	c["iss"], c["aud"], c["iat"], c["exp"] = p.Issuer, g.clientID, now.Unix(), now.Add(5*time.Minute).Unix()
	if g.nonce != "" {
		c["nonce"] = g.nonce
	}
	p.mu.Lock()
	tamper, key := p.tamper, p.key
	if p.foreign != nil {
		key = p.foreign
	}
	p.mu.Unlock()
	if tamper != nil {
		tamper(c)
	}
	payload, err := json.Marshal(c)
	if err != nil {
		return "", err
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: jose.JSONWebKey{Key: key, KeyID: p.keyID}},
		(&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		return "", fmt.Errorf("signer: %w", err)
	}
	obj, err := signer.Sign(payload)
	if err != nil {
		return "", fmt.Errorf("sign: %w", err)
	}
	return obj.CompactSerialize()
}

func (p *Provider) userinfo(w http.ResponseWriter, r *http.Request) {
	const prefix = "Bearer "
	h := r.Header.Get("Authorization")
	p.mu.Lock()
	u, ok := p.tokens[h[min(len(prefix), len(h)):]]
	p.mu.Unlock()
	if len(h) <= len(prefix) || !ok {
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	writeJSON(w, http.StatusOK, p.claims(u))
}

func tokenError(w http.ResponseWriter, code, desc string) {
	writeJSON(w, http.StatusBadRequest, map[string]string{"error": code, "error_description": desc})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func randomString(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}
