package httpapi

import (
	"bytes"
	"encoding/base64"
	"encoding/xml"
	"html"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/beevik/etree"
	"github.com/crewjam/saml"

	"github.com/rookery/rookery/internal/auth"
	"github.com/rookery/rookery/internal/db"
	"github.com/rookery/rookery/internal/dbtest"
	"github.com/rookery/rookery/internal/sso"
	"github.com/rookery/rookery/internal/sso/ssotest"
	"github.com/rookery/rookery/license/licensetest"
)

func (e *samlEnv) on(t *testing.T) *samlEnv { return &samlEnv{ssoEnv: e.ssoEnv.on(t), saml: e.saml} }

// samlEnv is an ssoEnv over TLS whose SAML settings point at an
// in-process crewjam identity provider that knows rookery's metadata.
type samlEnv struct {
	*ssoEnv
	saml *ssotest.SAMLProvider
}

func newSAMLEnv(t *testing.T, set db.Settings, lic *licensetest.Licence) *samlEnv {
	t.Helper()
	idp := ssotest.StartSAML()
	t.Cleanup(idp.Close)
	e := &samlEnv{saml: idp, ssoEnv: newSSOEnvOn(t, set, lic, map[string]string{
		"SAML_ENABLED": "true", "SAML_IDP_METADATA_XML": idp.MetadataXML(),
		"SAML_EMAIL_ATTRIBUTE": "mail", "SAML_ROLE_ATTRIBUTE": "eduPersonAffiliation",
		"SAML_ADMIN_VALUES": "admins", "SAML_MAINTAINER_VALUES": "devs",
	}, true)}
	if lic == nil || lic.Tier == "enterprise" {
		resp, err := e.client.Get(e.ts.URL + sso.SAMLMetadataPath)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		var md saml.EntityDescriptor
		if resp.StatusCode != http.StatusOK || xml.Unmarshal(body, &md) != nil {
			t.Fatalf("SP metadata: %d %s", resp.StatusCode, body)
		}
		idp.SetServiceProvider(&md, false)
	}
	return e
}

var formInput = regexp.MustCompile(`<input[^>]+name="(SAMLResponse|RelayState)"[^>]+value="([^"]*)"`)

// answer runs a sign-in with c up to the identity provider's answer: the
// form the browser would post to the ACS.
func (e *samlEnv) answer(c *http.Client, next string) url.Values {
	e.t.Helper()
	status, loc := get(e.t, c, e.ts.URL+"/api/v1/auth/saml/login?next="+url.QueryEscape(next))
	if status != http.StatusFound || !strings.HasPrefix(loc, e.saml.IdP.SSOURL.String()+"?") {
		e.t.Fatalf("login: %d to %q", status, loc)
	}
	resp, err := c.Get(loc)
	if err != nil {
		e.t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	form := url.Values{}
	for _, m := range formInput.FindAllStringSubmatch(string(page), -1) {
		form.Set(m[1], html.UnescapeString(m[2]))
	}
	if form.Get("SAMLResponse") == "" || form.Get("RelayState") == "" {
		e.t.Fatalf("identity provider answered %d without a response form: %s", resp.StatusCode, page)
	}
	return form
}

// post posts the answer to the ACS and returns where rookery sent the
// browser.
func (e *samlEnv) post(c *http.Client, form url.Values) string {
	e.t.Helper()
	resp, err := c.PostForm(e.ts.URL+sso.SAMLACSPath, form)
	if err != nil {
		e.t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound {
		e.t.Fatalf("ACS answered %d, want 302", resp.StatusCode)
	}
	return resp.Header.Get("Location")
}

// TestSAMLSignIn runs SAML 2.0 end to end against a crewjam identity
// provider on every database.
func TestSAMLSignIn(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, set db.Settings) {
		e := newSAMLEnv(t, set, nil)
		if _, err := e.users.Create(t.Context(), "root@example.com", "a-long-enough-password", auth.Admin); err != nil {
			t.Fatal(err)
		}

		t.Run("happy path with role mapping", func(t *testing.T) {
			e := e.on(t)
			for _, c := range []struct {
				groups []string
				want   auth.Role
			}{{[]string{"devs"}, auth.Maintainer}, {[]string{"admins", "devs"}, auth.Admin}, {[]string{"staff"}, auth.Viewer}} {
				e.saml.SetUser(ssotest.User{Subject: "saml-ada", Email: "ada.saml@example.com", Groups: c.groups})
				b := e.browser()
				if loc := e.post(b, e.answer(b, "/ai")); loc != "/ai" {
					t.Fatalf("groups %v: landed on %q", c.groups, loc)
				}
				if email, role := e.me(b); email != "ada.saml@example.com" || role != c.want {
					t.Fatalf("groups %v: signed in as %q %q, want %s", c.groups, email, role, c.want)
				}
			}
			u, err := e.users.ByEmail(t.Context(), "ada.saml@example.com")
			if err != nil || u.SignInMethod != auth.MethodSAML {
				t.Fatalf("account %+v %v", u, err)
			}
		})

		t.Run("missing role attribute leaves an existing account's role alone", func(t *testing.T) {
			e := e.on(t)
			for _, c := range []struct {
				subject, email string
				groups         []string
				want           auth.Role
			}{
				{"saml-kim", "kim.saml@example.com", []string{"devs"}, auth.Maintainer},
				{"saml-kim", "kim.saml@example.com", nil, auth.Maintainer},
				{"saml-new", "new.saml@example.com", nil, auth.Viewer},
			} {
				e.saml.SetUser(ssotest.User{Subject: c.subject, Email: c.email, Groups: c.groups})
				b := e.browser()
				if loc := e.post(b, e.answer(b, "/")); loc != "/" {
					t.Fatalf("%s %v: landed on %q", c.email, c.groups, loc)
				}
				if _, role := e.me(b); role != c.want {
					t.Fatalf("%s %v: role %q, want %s", c.email, c.groups, role, c.want)
				}
			}
		})

		t.Run("domain refused", func(t *testing.T) {
			e := e.on(t)
			e.set("saml_allowed_domains", "example.org, corp.example")
			defer e.set("saml_allowed_domains", "")
			e.saml.SetUser(ssotest.User{Subject: "saml-mallory", Email: "mallory.saml@example.com"})
			b := e.browser()
			if reason := ssoError(e.post(b, e.answer(b, "/"))); !strings.Contains(reason, "may not sign in") {
				t.Fatalf("reason %q", reason)
			}
			if _, err := e.users.ByEmail(t.Context(), "mallory.saml@example.com"); err == nil {
				t.Fatal("a refused domain created an account")
			}
			e.set("saml_allowed_domains", "Example.com")
			b = e.browser()
			if loc := e.post(b, e.answer(b, "/")); loc != "/" {
				t.Fatalf("allowed domain landed on %q", loc)
			}
		})

		t.Run("a password admin account is not taken over by its email", func(t *testing.T) {
			e := e.on(t)
			e.saml.SetUser(ssotest.User{Subject: "saml-root", Email: "root@example.com", Groups: []string{"admins"}})
			b := e.browser()
			if reason := ssoError(e.post(b, e.answer(b, "/"))); !strings.Contains(reason, "admin account that signs in with a password") {
				t.Fatalf("reason %q", reason)
			}
			if email, _ := e.me(b); email != "" {
				t.Fatalf("signed in as %s", email)
			}
			if u, _ := e.users.ByEmail(t.Context(), "root@example.com"); u.SignInMethod != auth.MethodPassword {
				t.Fatalf("admin account became %+v", u)
			}
		})

		t.Run("replayed response", func(t *testing.T) {
			e := e.on(t)
			e.saml.SetUser(ssotest.User{Subject: "saml-bob", Email: "bob.saml@example.com"})
			b := e.browser()
			form := e.answer(b, "/")
			if loc := e.post(b, form); loc != "/" {
				t.Fatalf("first post landed on %q", loc)
			}
			// Posted again by another browser, by the same one, and under a
			// new sign-in's RelayState: refused every time.
			if reason := ssoError(e.post(e.browser(), form)); reason == "" {
				t.Fatal("replay from another browser accepted")
			}
			if reason := ssoError(e.post(b, form)); reason == "" {
				t.Fatal("replay accepted")
			}
			fresh := e.answer(b, "/")
			form.Set("RelayState", fresh.Get("RelayState"))
			if reason := ssoError(e.post(b, form)); !strings.Contains(reason, "could not be verified") && !strings.Contains(reason, "already used") {
				t.Fatalf("replay under a new sign-in: %q", reason)
			}
		})

		t.Run("unsigned response", func(t *testing.T) {
			e := e.on(t)
			e.saml.SetUser(ssotest.User{Subject: "saml-eve", Email: "eve.saml@example.com", Groups: []string{"admins"}})
			b := e.browser()
			form := e.answer(b, "/")
			form.Set("SAMLResponse", stripSignatures(t, form.Get("SAMLResponse")))
			if loc := e.post(b, form); !strings.Contains(ssoError(loc), "not signed") {
				t.Fatalf("landed on %q", loc)
			}
			if _, err := e.users.ByEmail(t.Context(), "eve.saml@example.com"); err == nil {
				t.Fatal("an unsigned response created an account")
			}
		})

		t.Run("expired assertion", func(t *testing.T) {
			e := e.on(t)
			e.saml.SetUser(ssotest.User{Subject: "saml-old", Email: "old.saml@example.com"})
			b := e.browser()
			form := e.answer(b, "/")
			// Posted six minutes later: past the assertion's 90 seconds and
			// the 3 minutes of clock skew allowed, within the sign-in's 10.
			e.skew.Store(int64(6 * time.Minute))
			defer e.skew.Store(0)
			if loc := e.post(b, form); !strings.Contains(ssoError(loc), "time window") {
				t.Fatalf("landed on %q", loc)
			}
		})

		t.Run("transient NameID refused", func(t *testing.T) {
			e := e.on(t)
			e.saml.SetUser(ssotest.User{Subject: "transient-1", Email: "ada.saml@example.com"})
			e.saml.SetNameIDFormat(saml.TransientNameIDFormat)
			defer e.saml.SetNameIDFormat("")
			b := e.browser()
			if loc := e.post(b, e.answer(b, "/")); !strings.Contains(ssoError(loc), "transient NameID") {
				t.Fatalf("landed on %q", loc)
			}
		})

		t.Run("metadata read from saml_idp_metadata_url", func(t *testing.T) {
			e := e.on(t)
			e.set("saml_idp_metadata_url", e.saml.IdP.MetadataURL.String())
			e.set("saml_idp_metadata_xml", "")
			defer e.set("saml_idp_metadata_xml", e.saml.MetadataXML())
			e.saml.SetUser(ssotest.User{Subject: "saml-url", Email: "url.saml@example.com"})
			b := e.browser()
			if loc := e.post(b, e.answer(b, "/")); loc != "/" {
				t.Fatalf("landed on %q", loc)
			}
		})

		t.Run("providers offers SAML", func(t *testing.T) {
			e := e.on(t)
			m, _ := e.providers()["saml"].(map[string]any)
			if m["login_url"] != "/api/v1/auth/saml/login" {
				t.Fatalf("providers saml %v", m)
			}
		})
	})
}

// stripSignatures removes every XML signature from a base64 SAML response.
func stripSignatures(t *testing.T, b64 string) string {
	t.Helper()
	raw, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		t.Fatal(err)
	}
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(raw); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, sig := range doc.FindElements("//Signature") {
		sig.Parent().RemoveChild(sig)
		n++
	}
	out, err := doc.WriteToBytes()
	if err != nil {
		t.Fatal(err)
	}
	if n == 0 || bytes.Contains(out, []byte("EncryptedAssertion")) || !bytes.Contains(out, []byte("Assertion")) {
		t.Fatalf("want a signed response with its assertion in the clear; stripped %d signatures", n)
	}
	return base64.StdEncoding.EncodeToString(out)
}

// TestSAMLLicence: custom_saml is enterprise; with a professional licence
// the metadata answers 403 naming it, the browser's routes land on the
// login page naming it, and there is no SAML button.
func TestSAMLLicence(t *testing.T) {
	pro := licensetest.Professional(licensetest.KeyProfessional)
	e := newSAMLEnv(t, dbtest.Fresh(t, db.SQLite), &pro)
	for _, r := range []struct{ method, path string }{
		{"GET", sso.SAMLMetadataPath}, {"GET", "/api/v1/auth/saml/login"}, {"POST", sso.SAMLACSPath},
	} {
		req, _ := http.NewRequest(r.method, e.ts.URL+r.path, bytes.NewReader(nil))
		resp, err := e.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if r.path == sso.SAMLMetadataPath {
			if resp.StatusCode != http.StatusForbidden || !strings.Contains(string(body), sso.FeatureSAML) {
				t.Errorf("%s %s: %d %s", r.method, r.path, resp.StatusCode, body)
			}
			continue
		}
		loc := resp.Header.Get("Location")
		if resp.StatusCode != http.StatusFound || !strings.Contains(ssoError(loc), "licence feature "+sso.FeatureSAML) {
			t.Errorf("%s %s: %d to %q, want the login page naming %s", r.method, r.path, resp.StatusCode, loc, sso.FeatureSAML)
		}
	}
	if p := e.providers(); p["saml"] != nil || p["oidc"] == nil {
		t.Errorf("providers %v", p)
	}
}
