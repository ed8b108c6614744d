// Package sso signs users in through their organisation's identity
// provider: OpenID Connect (authorization code flow with PKCE), SAML 2.0
// (service provider side), and the bookkeeping both protocols share (sign-ins under way, replay refusal,
// role and domain mapping). It establishes who the user is; package auth
// turns that into an account and a session.
package sso

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/rookery/rookery/config"
	"github.com/rookery/rookery/internal/db"
)

// The licence features of the two protocols.
const (
	FeatureOIDC = "sso_integration"
	FeatureSAML = "custom_saml"
)

// The outcomes a failed sign-in is counted under.
const (
	// OutcomeRefused: the provider vouched for the user but rookery's
	// rules refuse them (domain, disabled, user limit, no account).
	OutcomeRefused = "refused"
	// OutcomeInvalid: the answer did not prove anything (state, nonce,
	// signature, audience, expiry, replay).
	OutcomeInvalid = "invalid"
	// OutcomeUnavailable: the provider, or rookery's database, could not
	// be reached, or single sign-on is not configured.
	OutcomeUnavailable = "unavailable"
)

// Error is a failed sign-in: Reason is a sentence for the person signing
// in (it never holds a secret), Outcome the metric label, and Err the
// technical cause for the log.
type Error struct {
	Reason  string
	Outcome string
	Err     error
}

func (e *Error) Error() string {
	if e.Err != nil {
		return e.Reason + ": " + e.Err.Error()
	}
	return e.Reason
}

func (e *Error) Unwrap() error { return e.Err }

func refused(reason string) *Error { return &Error{Reason: reason, Outcome: OutcomeRefused} }

func invalid(reason string, err error) *Error {
	return &Error{Reason: reason, Outcome: OutcomeInvalid, Err: err}
}

func unavailable(reason string, err error) *Error {
	return &Error{Reason: reason, Outcome: OutcomeUnavailable, Err: err}
}

// Options tune a Service; zero values are sensible.
type Options struct {
	// HTTPClient talks to identity providers (default: a 10 s timeout).
	HTTPClient *http.Client
	// Now is the clock tokens and assertions are checked against.
	Now func() time.Time
	// Sealer seals the SAML service provider's key at rest; without one
	// SAML sign-in answers that it is unavailable.
	Sealer Sealer
}

// Service is single sign-on for one rookery: the two protocols, sharing
// the database where sign-ins under way and accepted assertions are kept.
type Service struct {
	OIDC *OIDC
	SAML *SAML
}

// New builds the service from the standards' settings (read at every
// sign-in, so changes apply at once).
func New(d *db.DB, keys *config.Standard, o Options) *Service {
	if o.HTTPClient == nil {
		o.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	ownClock := o.Now != nil
	if o.Now == nil {
		o.Now = time.Now
	}
	q := &requests{db: d, now: o.Now}
	return &Service{
		OIDC: &OIDC{keys: keys, requests: q, client: o.HTTPClient, now: o.Now},
		SAML: &SAML{keys: keys, requests: q, db: d, sealer: o.Sealer, client: o.HTTPClient, now: o.Now, ownClock: ownClock},
	}
}

// requestTTL is how long a sign-in may take at the provider.
const requestTTL = 10 * time.Minute

// random returns n random bytes as unpadded URL-safe base64.
func random(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	return base64.RawURLEncoding.EncodeToString(b)
}

func hashBinding(b string) string {
	h := sha256.Sum256([]byte(b))
	return hex.EncodeToString(h[:])
}

// SafeNext returns next when it is a path of this site ("/settings?x=1"),
// and "/" otherwise: a sign-in must never send the browser to another
// site (an open redirect).
func SafeNext(next string) string {
	if next == "" || len(next) > 1000 || !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") ||
		strings.ContainsAny(next, "\\\r\n\t") {
		return "/"
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil {
		return "/"
	}
	return next
}

// publicBase is public_url without a trailing slash, or an error saying
// single sign-on needs it.
func publicBase(keys *config.Standard) (string, error) {
	base := strings.TrimRight(keys.PublicURL.Get(), "/")
	if base == "" {
		return "", errors.New("public_url is not set; single sign-on needs the external URL of rookery for its redirect addresses")
	}
	return base, nil
}

// errNotConfigured says what is missing, for the admin reading the log
// and the person at the login page alike.
func errNotConfigured(what string, err error) *Error {
	return unavailable(fmt.Sprintf("single sign-on through %s is not configured correctly; ask an admin to check the settings", what), err)
}
