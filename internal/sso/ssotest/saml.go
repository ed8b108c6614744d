package ssotest

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/xml"
	"log"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"sync"
	"time"

	"github.com/crewjam/saml"
)

// SAMLProvider is a SAML 2.0 identity provider (crewjam/saml's) that
// signs in its configured user at once: its single sign-on service takes
// an AuthnRequest by the redirect binding and answers with the signed
// response form the browser posts to the service provider. The user's
// email is the "mail" attribute and their groups "eduPersonAffiliation".
type SAMLProvider struct {
	IdP    *saml.IdentityProvider
	server *httptest.Server

	mu     sync.Mutex
	user   User
	format saml.NameIDFormat
	sp     *saml.EntityDescriptor
	spID   string
}

// StartSAML serves a new identity provider on a loopback address; Close
// stops it.
func StartSAML() *SAMLProvider {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(now.UnixNano()), Subject: pkix.Name{CommonName: "ssotest IdP"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour), KeyUsage: x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		panic(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		panic(err)
	}
	p := &SAMLProvider{user: User{Subject: "user-1", Email: "ada@example.com", EmailVerified: true}}
	p.IdP = &saml.IdentityProvider{Key: key, Certificate: cert, Logger: log.New(os.Stderr, "ssotest IdP: ", 0),
		SessionProvider: p, ServiceProviderProvider: p}
	p.server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { p.IdP.Handler().ServeHTTP(w, r) }))
	meta, _ := url.Parse(p.server.URL + "/metadata")
	sso, _ := url.Parse(p.server.URL + "/sso")
	p.IdP.MetadataURL, p.IdP.SSOURL = *meta, *sso
	return p
}

// Close stops the provider.
func (p *SAMLProvider) Close() { p.server.Close() }

// MetadataXML is the identity provider's metadata, as an admin pastes it
// into saml_idp_metadata_xml.
func (p *SAMLProvider) MetadataXML() string {
	b, err := xml.MarshalIndent(p.IdP.Metadata(), "", "  ")
	if err != nil {
		panic(err)
	}
	return string(b)
}

// SetServiceProvider registers the service provider the provider answers
// (its metadata, as read from its metadata URL). The provider does not
// encrypt assertions unless encrypt is set, as many do by default; then
// a test can see (and tamper with) the signed assertion.
func (p *SAMLProvider) SetServiceProvider(md *saml.EntityDescriptor, encrypt bool) {
	if !encrypt {
		c := *md
		c.SPSSODescriptors = append([]saml.SPSSODescriptor(nil), md.SPSSODescriptors...)
		for i := range c.SPSSODescriptors {
			var keep []saml.KeyDescriptor
			for _, k := range c.SPSSODescriptors[i].KeyDescriptors {
				if k.Use != "encryption" {
					keep = append(keep, k)
				}
			}
			c.SPSSODescriptors[i].KeyDescriptors = keep
		}
		md = &c
	}
	p.mu.Lock()
	p.sp, p.spID = md, md.EntityID
	p.mu.Unlock()
}

// SetUser sets who the next sign-ins approve: Subject is the NameID.
func (p *SAMLProvider) SetUser(u User) {
	p.mu.Lock()
	p.user = u
	p.mu.Unlock()
}

// SetNameIDFormat sets the format of the NameIDs sent from now on (""
// sends persistent ones).
func (p *SAMLProvider) SetNameIDFormat(f saml.NameIDFormat) {
	p.mu.Lock()
	p.format = f
	p.mu.Unlock()
}

// GetServiceProvider answers the registered service provider.
func (p *SAMLProvider) GetServiceProvider(_ *http.Request, id string) (*saml.EntityDescriptor, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.sp == nil || id != p.spID {
		return nil, os.ErrNotExist
	}
	return p.sp, nil
}

// GetSession signs the configured user in without asking.
func (p *SAMLProvider) GetSession(_ http.ResponseWriter, _ *http.Request, _ *saml.IdpAuthnRequest) *saml.Session {
	p.mu.Lock()
	u, format := p.user, p.format
	p.mu.Unlock()
	if format == "" {
		format = saml.PersistentNameIDFormat
	}
	now := time.Now()
	return &saml.Session{ID: randomString(12), CreateTime: now, ExpireTime: now.Add(time.Hour), Index: randomString(12),
		NameID: u.Subject, NameIDFormat: string(format), UserEmail: u.Email, Groups: u.Groups}
}
