package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rookery/rookery/config"
	"github.com/rookery/rookery/internal/auth"
	"github.com/rookery/rookery/internal/db"
	"github.com/rookery/rookery/internal/dbtest"
	"github.com/rookery/rookery/internal/sso"
	"github.com/rookery/rookery/internal/sso/ssotest"
	"github.com/rookery/rookery/license"
	"github.com/rookery/rookery/license/licensetest"
)

// ssoEnv is rookery serving over HTTP with OIDC settings pointing at an
// in-process provider, on a fresh database.
type ssoEnv struct {
	t      *testing.T
	srv    *Server
	ts     *httptest.Server
	idp    *ssotest.Provider
	users  *auth.Service
	store  *config.Store
	cfg    *config.Config
	keys   *config.Standard
	lic    *license.Manager
	client *http.Client
	db     *db.DB
	// skew moves rookery's single sign-on clock (nanoseconds).
	skew *atomic.Int64
}

// newSSOEnv starts it; lic nil is a development licence (everything on),
// env overrides the OIDC settings' environment.
func newSSOEnv(t *testing.T, set db.Settings, lic *licensetest.Licence, env map[string]string) *ssoEnv {
	return newSSOEnvOn(t, set, lic, env, false)
}

// newSSOEnvOn is newSSOEnv, served over TLS when tls is set (SAML needs
// it: its sign-in cookie is Secure).
func newSSOEnvOn(t *testing.T, set db.Settings, lic *licensetest.Licence, env map[string]string, tls bool) *ssoEnv {
	t.Helper()
	e := &ssoEnv{t: t, idp: ssotest.Start("rookery-web", "client-secret-1"), skew: new(atomic.Int64)}
	t.Cleanup(e.idp.Close)
	var handler http.Handler
	serve := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { handler.ServeHTTP(w, r) })
	if tls {
		e.ts = httptest.NewTLSServer(serve)
	} else {
		e.ts = httptest.NewServer(serve)
	}
	t.Cleanup(e.ts.Close)

	vars := map[string]string{
		"PUBLIC_URL": e.ts.URL, "OIDC_ENABLED": "true", "OIDC_ISSUER_URL": e.idp.Issuer,
		"OIDC_CLIENT_ID": "rookery-web", "OIDC_CLIENT_SECRET": "client-secret-1",
		"OIDC_ADMIN_VALUES": "rookery-admins", "OIDC_MAINTAINER_VALUES": "rookery-devs, ops",
	}
	for k, v := range env {
		vars[k] = v
	}
	d := dbtest.OpenSettings(t, set)
	e.db = d
	k, _ := config.NewKey()
	sealer, err := config.NewSealer(k)
	if err != nil {
		t.Fatal(err)
	}
	e.keys = config.NewStandard()
	e.store = config.NewStore(d.DB, config.Dialect(d.Dialect), config.MustRegistry(e.keys.Decls()...), sealer)
	e.store.SetWriter(d)
	e.cfg = config.New(e.store, func(name string) string { return vars[name] }, slog.New(slog.DiscardHandler))
	if err := e.cfg.Reload(context.Background()); err != nil {
		t.Fatal(err)
	}
	e.lic = devManager(t)
	if lic != nil {
		ls := licensetest.NewServer(*lic)
		t.Cleanup(ls.Close)
		e.lic, err = license.New(license.Settings{Key: license.Key(lic.Key), ServerURL: ls.URL, Product: licensetest.Product, ReleaseMode: true},
			license.Options{Logger: slog.New(slog.DiscardHandler), FeatureTiers: license.StandardCatalogue()})
		if err != nil {
			t.Fatal(err)
		}
		if err := e.lic.Refresh(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	e.users = auth.New(d, []byte("0123456789abcdef0123456789abcdef"), auth.Options{BcryptCost: 4})
	e.users.CheckLimit = e.lic.CheckUserLimit
	e.srv = bareServer(t, Deps{Config: e.cfg, Keys: e.keys, Auth: e.users, License: e.lic, SSO: sso.New(d, e.keys, sso.Options{Sealer: sealer,
		Now: func() time.Time { return time.Now().Add(time.Duration(e.skew.Load())) }})})
	handler = e.srv.Handler()
	e.client = e.browser()
	return e
}

// on is e for a subtest: its helpers fail t, not the parent.
func (e *ssoEnv) on(t *testing.T) *ssoEnv {
	c := *e
	c.t = t
	return &c
}

// browser is an HTTP client with its own cookies that does not follow
// redirects, so each hop can be checked.
func (e *ssoEnv) browser() *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, Timeout: 10 * time.Second, Transport: e.ts.Client().Transport,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

func (e *ssoEnv) set(key, value string) {
	e.t.Helper()
	if _, err := e.store.Set(context.Background(), key, value, config.AnyVersion, config.Origin{Actor: "test"}); err != nil {
		e.t.Fatal(err)
	}
	if err := e.cfg.Reload(context.Background()); err != nil {
		e.t.Fatal(err)
	}
}

// get fetches u and answers the status and the Location.
func get(t *testing.T, c *http.Client, u string) (int, string) {
	t.Helper()
	resp, err := c.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode, resp.Header.Get("Location")
}

// start begins a sign-in with c and returns the provider's redirect back
// to rookery (the callback URL with code and state).
func (e *ssoEnv) start(c *http.Client, next string) string {
	e.t.Helper()
	status, loc := get(e.t, c, e.ts.URL+"/api/v1/auth/oidc/login?next="+url.QueryEscape(next))
	if status != http.StatusFound || !strings.HasPrefix(loc, e.idp.Issuer+"/authorize?") {
		e.t.Fatalf("login: %d to %q, want 302 to the provider", status, loc)
	}
	q, _ := url.Parse(loc)
	for _, want := range []string{"state", "nonce", "code_challenge"} {
		if q.Query().Get(want) == "" {
			e.t.Fatalf("authorization request without %s: %s", want, loc)
		}
	}
	if q.Query().Get("code_challenge_method") != "S256" || q.Query().Get("redirect_uri") != e.ts.URL+sso.CallbackPath {
		e.t.Fatalf("authorization request %s", loc)
	}
	status, back := get(e.t, c, loc)
	if status != http.StatusFound || !strings.HasPrefix(back, e.ts.URL+sso.CallbackPath) {
		e.t.Fatalf("provider: %d to %q", status, back)
	}
	return back
}

// signIn runs a whole sign-in with c and returns where rookery sent the
// browser at the end.
func (e *ssoEnv) signIn(c *http.Client, next string) string {
	e.t.Helper()
	status, loc := get(e.t, c, e.start(c, next))
	if status != http.StatusFound {
		e.t.Fatalf("callback answered %d, want 302", status)
	}
	return loc
}

// ssoError returns the reason of a redirect to the login page ("" when
// loc is not one).
func ssoError(loc string) string {
	u, err := url.Parse(loc)
	if err != nil || u.Path != "/login" {
		return ""
	}
	return u.Query().Get("sso_error")
}

// me is who c is signed in as (through the session cookie), or "".
func (e *ssoEnv) me(c *http.Client) (email string, role auth.Role) {
	e.t.Helper()
	req, _ := http.NewRequest("GET", e.ts.URL+"/api/v1/auth/me", nil)
	resp, err := c.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", ""
	}
	var body struct {
		User struct {
			Email string    `json:"email"`
			Role  auth.Role `json:"role"`
		} `json:"user"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		e.t.Fatal(err)
	}
	return body.User.Email, body.User.Role
}

// logins reads rookery_sso_logins_total{provider="oidc",outcome}.
func (e *ssoEnv) logins(outcome string) float64 {
	e.t.Helper()
	mfs, err := e.srv.registry.Gather()
	if err != nil {
		e.t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "rookery_sso_logins_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["provider"] == "oidc" && labels["outcome"] == outcome {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}

// TestOIDCSignIn runs the real protocol against the in-process provider on
// every database: the happy path, role mapping at every sign-in, linking
// a local account, and each way the answer can be wrong, which always
// lands on the login page with a reason and never signs in.
func TestOIDCSignIn(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, set db.Settings) {
		e := newSSOEnv(t, set, nil, nil)
		ctx := context.Background()
		if _, err := e.users.Create(ctx, "root@example.com", "a-long-enough-password", auth.Admin); err != nil {
			t.Fatal(err)
		}

		t.Run("happy path lands signed in where the user was going", func(t *testing.T) {
			e := e.on(t)
			e.idp.SetUser(ssotest.User{Subject: "s-ada", Email: "Ada@Example.com", EmailVerified: true, Groups: []string{"staff"}})
			c := e.browser()
			if loc := e.signIn(c, "/settings?tab=email"); loc != "/settings?tab=email" {
				t.Fatalf("landed on %q", loc)
			}
			if email, role := e.me(c); email != "ada@example.com" || role != auth.Viewer {
				t.Fatalf("signed in as %q %q", email, role)
			}
			u, err := e.users.ByEmail(ctx, "ada@example.com")
			if err != nil || u.SignInMethod != auth.MethodOIDC || u.LastSignInAt == nil {
				t.Fatalf("account %+v %v", u, err)
			}
			// The session cookie is the password sign-in's.
			var session *http.Cookie
			for _, ck := range c.Jar.Cookies(mustURL(e.ts.URL + "/")) {
				if ck.Name == sessionCookie {
					session = ck
				}
			}
			if session == nil {
				t.Fatal("no session cookie")
			}
			if e.logins("success") < 1 {
				t.Error("success not counted")
			}
			// The account has no password anyone knows.
			if _, err := e.users.Authenticate(ctx, "ada@example.com", ""); !errors.Is(err, auth.ErrCredentials) {
				t.Errorf("password sign-in of an SSO account: %v", err)
			}
			if _, err := e.users.Authenticate(ctx, "ada@example.com", "rookery-timing-equaliser"); !errors.Is(err, auth.ErrCredentials) {
				t.Errorf("password sign-in of an SSO account: %v", err)
			}
		})

		t.Run("an outside next is replaced by /", func(t *testing.T) {
			e := e.on(t)
			for _, next := range []string{"https://evil.example/", "//evil.example/x", "/\\evil.example", "javascript:alert(1)"} {
				if loc := e.signIn(e.browser(), next); loc != "/" {
					t.Errorf("next %q landed on %q", next, loc)
				}
			}
		})

		t.Run("role follows the claim at every sign-in", func(t *testing.T) {
			e := e.on(t)
			for _, c := range []struct {
				groups []string
				want   auth.Role
			}{
				{[]string{"rookery-admins"}, auth.Admin},
				{[]string{"ops", "x"}, auth.Maintainer},
				{[]string{"staff"}, auth.Viewer},
				{[]string{"rookery-devs", "rookery-admins"}, auth.Admin},
			} {
				e.idp.SetUser(ssotest.User{Subject: "s-grace", Email: "grace@example.com", EmailVerified: true, Groups: c.groups})
				b := e.browser()
				if loc := e.signIn(b, "/"); loc != "/" {
					t.Fatalf("groups %v: landed on %q", c.groups, loc)
				}
				if _, role := e.me(b); role != c.want {
					t.Errorf("groups %v: role %q, want %q", c.groups, role, c.want)
				}
			}
		})

		t.Run("a local account with the same email is linked", func(t *testing.T) {
			e := e.on(t)
			local, err := e.users.Create(ctx, "linus@example.com", "a-long-enough-password", auth.Maintainer)
			if err != nil {
				t.Fatal(err)
			}
			before, _ := e.users.Count(ctx)
			e.idp.SetUser(ssotest.User{Subject: "s-linus", Email: "linus@example.com", EmailVerified: true, Groups: []string{"ops"}})
			b := e.browser()
			if loc := e.signIn(b, "/"); loc != "/" {
				t.Fatalf("landed on %q", loc)
			}
			after, _ := e.users.Count(ctx)
			u, _ := e.users.ByEmail(ctx, "linus@example.com")
			if after != before || u.ID != local.ID || u.SignInMethod != auth.MethodOIDC {
				t.Fatalf("users %d -> %d, account %+v", before, after, u)
			}
			// Another subject claiming the same address is not that person.
			e.idp.SetUser(ssotest.User{Subject: "s-impostor", Email: "linus@example.com", EmailVerified: true})
			if reason := ssoError(e.signIn(e.browser(), "/")); !strings.Contains(reason, "already linked") {
				t.Fatalf("second identity: %q", reason)
			}
		})

		t.Run("a password admin account is not taken over by its email", func(t *testing.T) {
			e := e.on(t)
			e.idp.SetUser(ssotest.User{Subject: "s-root", Email: "root@example.com", EmailVerified: true, Groups: []string{"rookery-admins"}})
			b := e.browser()
			if reason := ssoError(e.signIn(b, "/")); !strings.Contains(reason, "admin account that signs in with a password") {
				t.Fatalf("reason %q", reason)
			}
			if email, _ := e.me(b); email != "" {
				t.Fatalf("signed in as %s", email)
			}
			u, _ := e.users.ByEmail(ctx, "root@example.com")
			if u.SignInMethod != auth.MethodPassword {
				t.Fatalf("admin account became %+v", u)
			}
			if _, err := e.users.Authenticate(ctx, "root@example.com", "a-long-enough-password"); err != nil {
				t.Fatalf("password sign-in after the refusal: %v", err)
			}
		})

		t.Run("a missing role claim leaves an existing account's role alone", func(t *testing.T) {
			e := e.on(t)
			e.idp.SetUser(ssotest.User{Subject: "s-keep", Email: "keep@example.com", EmailVerified: true, Groups: []string{"ops"}})
			if _, role := e.me(e.signedIn(t)); role != auth.Maintainer {
				t.Fatalf("first sign-in role %q", role)
			}
			// The provider stops sending groups: the role stays.
			e.idp.SetUser(ssotest.User{Subject: "s-keep", Email: "keep@example.com", EmailVerified: true})
			if _, role := e.me(e.signedIn(t)); role != auth.Maintainer {
				t.Fatalf("without a role claim the role became %q", role)
			}
			// A new account without a role claim is viewer.
			e.idp.SetUser(ssotest.User{Subject: "s-fresh", Email: "fresh@example.com", EmailVerified: true})
			if _, role := e.me(e.signedIn(t)); role != auth.Viewer {
				t.Fatalf("new account without a role claim is %q", role)
			}
		})

		refusals := []struct {
			name  string
			setup func()
			want  string
		}{
			{"nonce mismatch", func() { e.idp.Tamper(func(c map[string]any) { c["nonce"] = "someone-elses" }) }, "nonce"},
			{"expired token", func() {
				e.idp.Tamper(func(c map[string]any) {
					c["iat"], c["exp"] = time.Now().Add(-time.Hour).Unix(), time.Now().Add(-30*time.Minute).Unix()
				})
			}, "expired"},
			{"wrong audience", func() { e.idp.Tamper(func(c map[string]any) { c["aud"] = "another-app" }) }, "audience"},
			{"wrong issuer", func() { e.idp.Tamper(func(c map[string]any) { c["iss"] = "https://idp.example" }) }, "another identity provider"},
			{"signed with an unpublished key", func() { e.idp.SignWithForeignKey(true) }, "could not be verified"},
			{"email not verified", func() {
				e.idp.SetUser(ssotest.User{Subject: "s-unverified", Email: "unverified@example.com", EmailVerified: false})
			}, "not verified"},
			{"provider refuses", func() { e.idp.Deny("access_denied") }, "access_denied"},
			{"neither email_verified nor xms_edov", func() {
				e.idp.SetUser(ssotest.User{Subject: "s-entra-1", Email: "entra1@example.com"})
				e.idp.Tamper(func(c map[string]any) { delete(c, "email_verified") })
			}, "not verified"},
			{"email_verified false wins over xms_edov", func() {
				e.idp.SetUser(ssotest.User{Subject: "s-entra-2", Email: "entra2@example.com"})
				e.idp.Tamper(func(c map[string]any) { c["xms_edov"] = true })
			}, "not verified"},
		}
		for _, c := range refusals {
			t.Run(c.name, func(t *testing.T) {
				e := e.on(t)
				e.idp.Reset()
				c.setup()
				defer e.idp.Reset()
				n, _ := e.users.Count(ctx)
				b := e.browser()
				loc := e.signIn(b, "/")
				if reason := ssoError(loc); !strings.Contains(reason, c.want) {
					t.Fatalf("landed on %q, want the login page with a reason containing %q", loc, c.want)
				}
				if email, _ := e.me(b); email != "" {
					t.Fatalf("signed in as %s", email)
				}
				if m, _ := e.users.Count(ctx); m != n {
					t.Fatalf("users %d -> %d", n, m)
				}
			})
		}

		t.Run("email and groups from userinfo when the ID token leaves them out", func(t *testing.T) {
			e := e.on(t)
			e.idp.SetUser(ssotest.User{Subject: "s-okta", Email: "okta@example.com", EmailVerified: true, Groups: []string{"ops"}})
			e.idp.Tamper(func(c map[string]any) { delete(c, "email"); delete(c, "email_verified"); delete(c, "groups") })
			defer e.idp.Reset()
			b := e.browser()
			if loc := e.signIn(b, "/"); loc != "/" {
				t.Fatalf("landed on %q", loc)
			}
			if email, role := e.me(b); email != "okta@example.com" || role != auth.Maintainer {
				t.Fatalf("signed in as %q %q", email, role)
			}
		})

		t.Run("xms_edov stands in for a missing email_verified", func(t *testing.T) {
			e := e.on(t)
			e.idp.SetUser(ssotest.User{Subject: "s-entra-3", Email: "entra3@example.com", Groups: []string{"staff"}})
			e.idp.Tamper(func(c map[string]any) { delete(c, "email_verified"); c["xms_edov"] = true })
			defer e.idp.Reset()
			if loc := e.signIn(e.browser(), "/"); loc != "/" {
				t.Fatalf("landed on %q", loc)
			}
		})

		t.Run("domain refused", func(t *testing.T) {
			e := e.on(t)
			e.set("oidc_allowed_domains", "example.com, example.org")
			defer e.set("oidc_allowed_domains", "")
			e.idp.SetUser(ssotest.User{Subject: "s-mallory", Email: "mallory@evil.test", EmailVerified: true})
			if reason := ssoError(e.signIn(e.browser(), "/")); !strings.Contains(reason, "may not sign in") {
				t.Fatalf("reason %q", reason)
			}
			e.idp.SetUser(ssotest.User{Subject: "s-olga", Email: "olga@EXAMPLE.org", EmailVerified: true})
			if loc := e.signIn(e.browser(), "/"); loc != "/" {
				t.Fatalf("allowed domain landed on %q", loc)
			}
			if e.logins("refused") < 1 {
				t.Error("refusal not counted")
			}
		})

		t.Run("state is single use and bound to the browser", func(t *testing.T) {
			e := e.on(t)
			e.idp.Reset()
			e.idp.SetUser(ssotest.User{Subject: "s-ada", Email: "ada@example.com", EmailVerified: true})
			b := e.browser()
			callback := e.start(b, "/")
			binding := ""
			for _, ck := range b.Jar.Cookies(mustURL(e.ts.URL + sso.CallbackPath)) {
				if ck.Name == ssoCookiePrefix+"oidc" {
					binding = ck.Value
				}
			}
			// Another browser cannot finish it (login CSRF).
			if status, loc := get(t, e.browser(), callback); status != http.StatusFound || !strings.Contains(ssoError(loc), "already used") {
				t.Fatalf("other browser: %d %q", status, loc)
			}
			// That attempt used the state up: the rightful browser starts again.
			if reason := ssoError(mustGet(t, b, callback)); !strings.Contains(reason, "already used") {
				t.Fatalf("after the other browser: %q", reason)
			}
			// A state used successfully cannot be answered again, even with
			// the cookie put back.
			b = e.browser()
			callback = e.start(b, "/")
			for _, ck := range b.Jar.Cookies(mustURL(e.ts.URL + sso.CallbackPath)) {
				if ck.Name == ssoCookiePrefix+"oidc" {
					binding = ck.Value
				}
			}
			if loc := mustGet(t, b, callback); loc != "/" {
				t.Fatalf("first use landed on %q", loc)
			}
			b.Jar.SetCookies(mustURL(e.ts.URL+sso.CallbackPath), []*http.Cookie{{Name: ssoCookiePrefix + "oidc", Value: binding, Path: "/api/v1/auth/oidc/"}})
			if reason := ssoError(mustGet(t, b, callback)); !strings.Contains(reason, "already used") {
				t.Fatalf("replayed state: %q", reason)
			}
		})

		t.Run("no account and auto-create off", func(t *testing.T) {
			e := e.on(t)
			e.set("oidc_auto_create", "false")
			defer e.set("oidc_auto_create", "true")
			e.idp.SetUser(ssotest.User{Subject: "s-new", Email: "newcomer@example.com", EmailVerified: true})
			if reason := ssoError(e.signIn(e.browser(), "/")); !strings.Contains(reason, "no account") {
				t.Fatalf("reason %q", reason)
			}
		})

		t.Run("disabled account", func(t *testing.T) {
			e := e.on(t)
			if err := e.users.SetDisabled(ctx, "ada@example.com", true); err != nil {
				t.Fatal(err)
			}
			e.idp.SetUser(ssotest.User{Subject: "s-ada", Email: "ada@example.com", EmailVerified: true})
			if reason := ssoError(e.signIn(e.browser(), "/")); !strings.Contains(reason, "disabled") {
				t.Fatalf("reason %q", reason)
			}
		})

		t.Run("the last admin keeps the role", func(t *testing.T) {
			e := e.on(t)
			// grace is admin (above); make her the only active one.
			if err := e.users.SetDisabled(ctx, "root@example.com", true); err != nil {
				t.Fatal(err)
			}
			defer e.users.SetDisabled(ctx, "root@example.com", false)
			e.idp.SetUser(ssotest.User{Subject: "s-grace", Email: "grace@example.com", EmailVerified: true, Groups: []string{"staff"}})
			b := e.browser()
			if loc := e.signIn(b, "/"); loc != "/" {
				t.Fatalf("landed on %q", loc)
			}
			if _, role := e.me(b); role != auth.Admin {
				t.Fatalf("last admin became %q", role)
			}
		})
	})
}

// signedIn signs a new browser in through the provider's current user.
func (e *ssoEnv) signedIn(t *testing.T) *http.Client {
	t.Helper()
	b := e.browser()
	if loc := e.signIn(b, "/"); loc != "/" {
		t.Fatalf("landed on %q", loc)
	}
	return b
}

func mustURL(s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		panic(err)
	}
	return u
}

func mustGet(t *testing.T, c *http.Client, u string) string {
	t.Helper()
	status, loc := get(t, c, u)
	if status != http.StatusFound {
		t.Fatalf("GET %s: %d, want 302", u, status)
	}
	return loc
}

// TestSSOLicence: without sso_integration the routes send the browser to
// the login page with a reason naming the feature, and the login page is
// not offered the method.
func TestSSOLicence(t *testing.T) {
	community := licensetest.Community(licensetest.KeyCommunity)
	e := newSSOEnv(t, dbtest.Fresh(t, db.SQLite), &community, nil)
	for _, path := range []string{"/api/v1/auth/oidc/login", sso.CallbackPath + "?state=x&code=y"} {
		loc := mustGet(t, e.browser(), e.ts.URL+path)
		if reason := ssoError(loc); !strings.Contains(reason, "licence feature "+sso.FeatureOIDC) {
			t.Errorf("%s: landed on %q, want the login page naming %s", path, loc, sso.FeatureOIDC)
		}
	}
	if p := e.providers(); p["oidc"] != nil || p["password"] != true {
		t.Errorf("providers %v", p)
	}

	pro := licensetest.Professional(licensetest.KeyProfessional)
	e = newSSOEnv(t, dbtest.Fresh(t, db.SQLite), &pro, map[string]string{"OIDC_BUTTON_LABEL": "Sign in with Keycloak"})
	oidc, _ := e.providers()["oidc"].(map[string]any)
	if oidc["label"] != "Sign in with Keycloak" || oidc["login_url"] != "/api/v1/auth/oidc/login" {
		t.Errorf("providers oidc %v", oidc)
	}
	if loc := e.signIn(e.browser(), "/"); loc != "/" {
		t.Errorf("professional licence: landed on %q", loc)
	}
}

func (e *ssoEnv) providers() map[string]any {
	e.t.Helper()
	resp, err := e.client.Get(e.ts.URL + "/api/v1/auth/providers")
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || resp.StatusCode != http.StatusOK {
		e.t.Fatalf("providers: %d %v", resp.StatusCode, err)
	}
	return body
}

// TestLocalLoginSwitch: with local_login_enabled off password sign-in is
// refused with a reason, and the login page is told.
func TestLocalLoginSwitch(t *testing.T) {
	e := newSSOEnv(t, dbtest.Fresh(t, db.SQLite), nil, map[string]string{"LOCAL_LOGIN_ENABLED": "false"})
	if _, err := e.users.Create(context.Background(), "root@example.com", "a-long-enough-password", auth.Admin); err != nil {
		t.Fatal(err)
	}
	resp, err := e.client.Post(e.ts.URL+"/api/v1/auth/login", "application/json",
		strings.NewReader(`{"email":"root@example.com","password":"a-long-enough-password"}`))
	if err != nil {
		t.Fatal(err)
	}
	var body map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&body)
	resp.Body.Close()
	if msg, _ := body["error"].(string); resp.StatusCode != http.StatusForbidden || !strings.Contains(msg, "switched off") {
		t.Fatalf("password sign-in: %d %v", resp.StatusCode, body)
	}
	if p := e.providers(); p["password"] != false || p["oidc"] == nil {
		t.Fatalf("providers %v", p)
	}
	e.set("local_login_enabled", "true")
	resp, err = e.client.Post(e.ts.URL+"/api/v1/auth/login", "application/json",
		strings.NewReader(`{"email":"root@example.com","password":"a-long-enough-password"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("switched back on: %d", resp.StatusCode)
	}
}

// TestOIDCUserLimitUnderConcurrency: many first sign-ins at once on a
// licence of 5 users leave exactly 5 active users; the others land on the
// login page told why.
func TestOIDCUserLimitUnderConcurrency(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, set db.Settings) {
		lic := licensetest.Professional(licensetest.KeyProfessional)
		lic.Limits["max_users"] = 5
		e := newSSOEnv(t, set, &lic, nil)
		if _, err := e.users.Create(context.Background(), "root@example.com", "a-long-enough-password", auth.Admin); err != nil {
			t.Fatal(err)
		}
		var n atomic.Int64
		e.idp.SetUsers(func() ssotest.User {
			i := n.Add(1)
			return ssotest.User{Subject: fmt.Sprintf("s-%d", i), Email: fmt.Sprintf("user%d@example.com", i), EmailVerified: true}
		})
		const tries = 12
		var wg sync.WaitGroup
		var mu sync.Mutex
		landed := map[string]int{}
		callbacks := make([]string, tries)
		browsers := make([]*http.Client, tries)
		for i := range tries {
			browsers[i] = e.browser()
			callbacks[i] = e.start(browsers[i], "/")
		}
		for i := range tries {
			wg.Add(1)
			go func() {
				defer wg.Done()
				resp, err := browsers[i].Get(callbacks[i])
				if err != nil {
					t.Error(err)
					return
				}
				resp.Body.Close()
				loc := resp.Header.Get("Location")
				mu.Lock()
				defer mu.Unlock()
				switch {
				case resp.StatusCode == http.StatusFound && loc == "/":
					landed["in"]++
				case strings.Contains(ssoError(loc), "user limit"):
					landed["limit"]++
				default:
					landed[fmt.Sprintf("%d %s", resp.StatusCode, loc)]++
				}
			}()
		}
		wg.Wait()
		if landed["in"] != 4 || landed["limit"] != tries-4 || len(landed) != 2 {
			t.Fatalf("outcomes %v, want 4 signed in and %d refused for the limit", landed, tries-4)
		}
		users, err := e.users.List(context.Background())
		if err != nil || len(users) != 5 {
			t.Fatalf("%d users (%v), want 5", len(users), err)
		}
	})
}

// TestOIDCSameUserConcurrently: one new user signing in from many
// browsers at once gets one account, and every browser is signed in.
func TestOIDCSameUserConcurrently(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, set db.Settings) {
		e := newSSOEnv(t, set, nil, nil)
		e.idp.SetUser(ssotest.User{Subject: "s-twin", Email: "twin@example.com", EmailVerified: true, Groups: []string{"ops"}})
		const tries = 8
		browsers := make([]*http.Client, tries)
		callbacks := make([]string, tries)
		for i := range tries {
			browsers[i] = e.browser()
			callbacks[i] = e.start(browsers[i], "/")
		}
		var wg sync.WaitGroup
		locs := make([]string, tries)
		for i := range tries {
			wg.Add(1)
			go func() {
				defer wg.Done()
				resp, err := browsers[i].Get(callbacks[i])
				if err != nil {
					t.Error(err)
					return
				}
				resp.Body.Close()
				locs[i] = resp.Header.Get("Location")
			}()
		}
		wg.Wait()
		for i, loc := range locs {
			if loc != "/" {
				t.Errorf("browser %d landed on %q", i, loc)
			}
		}
		users, err := e.users.List(context.Background())
		if err != nil || len(users) != 1 || users[0].Email != "twin@example.com" || users[0].Role != auth.Maintainer {
			t.Fatalf("users %+v (%v), want one maintainer twin@example.com", users, err)
		}
	})
}

// TestSSOStartThrottle: an address may start ssoStartsPerAddress sign-ins
// nobody finishes; the next lands on the login page with a reason and
// stores nothing. A finished sign-in from the address forgets the count.
func TestSSOStartThrottle(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, set db.Settings) {
		e := newSSOEnv(t, set, nil, nil)
		ctx := context.Background()
		pending := func() int {
			t.Helper()
			var n int
			if err := e.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM sso_requests`).Scan(&n); err != nil {
				t.Fatal(err)
			}
			return n
		}
		starts := func(n int) {
			t.Helper()
			for range n {
				if loc := mustGet(t, e.browser(), e.ts.URL+"/api/v1/auth/oidc/login"); !strings.HasPrefix(loc, e.idp.Issuer+"/authorize?") {
					t.Fatalf("start within the limit landed on %q", loc)
				}
			}
		}
		// Starts, then a finished sign-in (one more start): the count is
		// forgotten, and the address gets the whole limit again.
		starts(ssoStartsPerAddress - 1)
		e.idp.SetUser(ssotest.User{Subject: "s-after", Email: "after@example.com", EmailVerified: true})
		if loc := e.signIn(e.browser(), "/"); loc != "/" {
			t.Fatalf("sign-in landed on %q", loc)
		}
		starts(ssoStartsPerAddress)
		before := pending()
		loc := mustGet(t, e.browser(), e.ts.URL+"/api/v1/auth/oidc/login")
		if reason := ssoError(loc); !strings.Contains(reason, "too many sign-in attempts") {
			t.Fatalf("start past the limit landed on %q", loc)
		}
		if after := pending(); after != before {
			t.Fatalf("a refused start stored a sign-in: %d -> %d", before, after)
		}
		if e.logins("refused") < 1 {
			t.Error("refused start not counted")
		}
	})
}
