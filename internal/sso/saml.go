package sso

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"database/sql"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/crewjam/saml"
	"github.com/crewjam/saml/samlsp"
	dsig "github.com/russellhaering/goxmldsig"

	"github.com/rookery/rookery/config"
	"github.com/rookery/rookery/internal/auth"
	"github.com/rookery/rookery/internal/db"
)

// SAML is sign-in through a SAML 2.0 identity provider: rookery is the
// service provider, sends an AuthnRequest with the redirect binding and
// accepts the signed answer posted to its assertion consumer service.
type SAML struct {
	keys     *config.Standard
	requests *requests
	db       *db.DB
	sealer   Sealer
	client   *http.Client
	now      func() time.Time
	// ownClock is set when Options.Now was given: assertions are then
	// checked against it too.
	ownClock bool

	mu sync.Mutex
	// key and cert are the service provider's, parsed from keySealed, the
	// stored row they were read from.
	key       *rsa.PrivateKey
	cert      *x509.Certificate
	keySealed string
	// fetched is the identity provider's metadata read from
	// saml_idp_metadata_url, kept for metadataTTL.
	fetched     *saml.EntityDescriptor
	fetchedFrom string
	fetchedAt   time.Time
}

// Sealer protects the service provider's private key at rest
// (config.Sealer satisfies it).
type Sealer interface {
	Seal(name, plaintext string) (string, error)
	Open(name, stored string) (string, error)
}

// The service provider's routes.
const (
	SAMLMetadataPath = "/api/v1/auth/saml/metadata"
	SAMLACSPath      = "/api/v1/auth/saml/acs"
)

// spKeyName is the app_secrets row of the service provider's key and
// certificate (PEM), sealed like the token signing key; rookery config
// rotate-key re-seals it with every other app secret.
const spKeyName = "saml_sp_key"

const metadataTTL = time.Hour

// Enabled reports whether SAML sign-in is switched on (saml_enabled).
func (s *SAML) Enabled() bool { return s.keys.SSO.SAMLEnabled.Get() }

// Label is the login button's text.
func (s *SAML) Label() string { return "Sign in with SAML" }

// base is public_url, checked: the answer comes back as a cross-site
// POST, on which browsers send only SameSite=None cookies, and those must
// be Secure, so SAML needs https (a browser treats loopback as secure).
func (s *SAML) base() (string, error) {
	base, err := publicBase(s.keys)
	if err != nil {
		return "", err
	}
	u, err := url.Parse(base)
	if err != nil {
		return "", fmt.Errorf("public_url: %w", err)
	}
	ip := net.ParseIP(u.Hostname())
	if u.Scheme != "https" && !strings.EqualFold(u.Hostname(), "localhost") && (ip == nil || !ip.IsLoopback()) {
		return "", errors.New("SAML sign-in needs public_url on https: the browser sends the sign-in cookie back with the provider's POST only over https")
	}
	return base, nil
}

// EntityID is this service provider's entity id.
func (s *SAML) EntityID(base string) string {
	if id := s.keys.SSO.SAMLSPEntityID.Get(); id != "" {
		return id
	}
	return base + SAMLMetadataPath
}

// provider builds the service provider from the settings. withIdP also
// reads the identity provider's metadata.
func (s *SAML) provider(ctx context.Context, withIdP bool) (*saml.ServiceProvider, error) {
	base, err := s.base()
	if err != nil {
		return nil, errNotConfigured("SAML", err)
	}
	key, cert, err := s.spKey(ctx)
	if err != nil {
		return nil, unavailable("the SAML service provider key could not be read; try again shortly, or ask an admin to check the server log", err)
	}
	meta, _ := url.Parse(base + SAMLMetadataPath)
	acs, _ := url.Parse(base + SAMLACSPath)
	sp := &saml.ServiceProvider{
		EntityID: s.EntityID(base), Key: key, Certificate: cert, MetadataURL: *meta, AcsURL: *acs,
		AssertionConsumerServiceBindings: []string{saml.HTTPPostBinding},
		// The NameID is the account's link to the identity, so a transient
		// one (the library's default request) would not do: let the
		// provider use the format it is configured for, spelled out, as
		// Keycloak requires.
		AuthnNameIDFormat: saml.UnspecifiedNameIDFormat, SendUnspecifiedNameIDFormat: true,
		ReplayCache: replayCache{s.requests},
	}
	if s.ownClock {
		sp.Clock = dsig.NewFakeClockAt(s.now())
	}
	if withIdP {
		if sp.IDPMetadata, err = s.idpMetadata(ctx); err != nil {
			return nil, err
		}
	}
	return sp, nil
}

// idpMetadata is saml_idp_metadata_xml, or else the document at
// saml_idp_metadata_url (fetched at most once an hour).
func (s *SAML) idpMetadata(ctx context.Context) (*saml.EntityDescriptor, error) {
	if x := s.keys.SSO.SAMLIdPMetadataXML.Get(); strings.TrimSpace(x) != "" {
		md, err := samlsp.ParseMetadata([]byte(x))
		if err != nil {
			return nil, errNotConfigured("SAML", fmt.Errorf("saml_idp_metadata_xml: %w", err))
		}
		return md, nil
	}
	from := s.keys.SSO.SAMLIdPMetadataURL.Get()
	if from == "" {
		return nil, errNotConfigured("SAML", errors.New("saml_idp_metadata_xml or saml_idp_metadata_url must be set"))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fetched != nil && s.fetchedFrom == from && s.now().Sub(s.fetchedAt) < metadataTTL {
		return s.fetched, nil
	}
	u, err := url.Parse(from)
	if err != nil {
		return nil, errNotConfigured("SAML", fmt.Errorf("saml_idp_metadata_url: %w", err))
	}
	md, err := samlsp.FetchMetadata(ctx, s.client, *u)
	if err != nil {
		return nil, unavailable("the identity provider's SAML metadata could not be read; try again, or ask an admin to check saml_idp_metadata_url",
			fmt.Errorf("fetch %s: %w", from, err))
	}
	s.fetched, s.fetchedFrom, s.fetchedAt = md, from, s.now()
	return md, nil
}

// Metadata is this service provider's metadata document, for the
// identity provider's admin.
func (s *SAML) Metadata(ctx context.Context) (*saml.EntityDescriptor, error) {
	sp, err := s.provider(ctx, false)
	if err != nil {
		return nil, err
	}
	return sp.Metadata(), nil
}

// Begin starts a sign-in that returns to next: it stores the request's id
// under a fresh RelayState and returns the identity provider's URL (the
// redirect binding) and the value the browser must hold in a cookie to
// finish it.
func (s *SAML) Begin(ctx context.Context, next string) (target, binding string, err error) {
	if !s.Enabled() {
		return "", "", refused("single sign-on through SAML is switched off")
	}
	sp, err := s.provider(ctx, true)
	if err != nil {
		return "", "", err
	}
	idpURL := sp.GetSSOBindingLocation(saml.HTTPRedirectBinding)
	if idpURL == "" {
		return "", "", errNotConfigured("SAML", errors.New("the identity provider's metadata has no single sign-on service with the HTTP-Redirect binding"))
	}
	req, err := sp.MakeAuthenticationRequest(idpURL, saml.HTTPRedirectBinding, saml.HTTPPostBinding)
	if err != nil {
		return "", "", errNotConfigured("SAML", err)
	}
	binding = random(32)
	r := request{ID: random(24), Provider: auth.MethodSAML, Binding: hashBinding(binding), Nonce: req.ID,
		Next: SafeNext(next), Expires: s.now().Add(requestTTL)}
	if err := s.requests.put(ctx, r); err != nil {
		return "", "", unavailable("the sign-in could not be started because the database is unavailable; try again shortly", err)
	}
	u, err := req.Redirect(r.ID, sp)
	if err != nil {
		return "", "", errNotConfigured("SAML", err)
	}
	return u.String(), binding, nil
}

// Finish checks the identity provider's answer posted to the assertion
// consumer service (r, its form parsed) against the sign-in the browser
// started (binding, from its cookie): the RelayState is used once, the
// response or assertion must be signed by the provider's key, be for this
// audience and recipient, answer this request, be within its time window,
// and its assertion must not have been accepted before.
func (s *SAML) Finish(ctx context.Context, r *http.Request, binding string) (Result, error) {
	if !s.Enabled() {
		return Result{}, refused("single sign-on through SAML is switched off")
	}
	sp, err := s.provider(ctx, true)
	if err != nil {
		return Result{}, err
	}
	req, err := s.requests.take(ctx, r.PostForm.Get("RelayState"), auth.MethodSAML, binding)
	if errors.Is(err, errNoRequest) {
		return Result{}, invalid("this sign-in was already used, has expired, or was started in another browser; start again", err)
	}
	if err != nil {
		return Result{}, unavailable("the sign-in could not be checked because the database is unavailable; try again shortly", err)
	}
	a, err := sp.ParseResponse(r, []string{req.Nonce})
	if err != nil {
		return Result{}, samlError(err)
	}
	k := s.keys.SSO
	subject := ""
	if a.Subject != nil && a.Subject.NameID != nil {
		subject = a.Subject.NameID.Value
	}
	if subject == "" {
		return Result{}, invalid("the identity provider's assertion names no subject", nil)
	}
	if a.Subject.NameID.Format == string(saml.TransientNameIDFormat) {
		return Result{}, refused("the identity provider sent a transient NameID, which changes at every sign-in; ask an admin to configure a persistent or email NameID")
	}
	email := subject
	if name := k.SAMLEmailAttribute.Get(); name != "" {
		vals := attributeValues(a, name)
		if len(vals) == 0 {
			return Result{}, refused("the identity provider sent no " + short(name) + " attribute; ask an admin to check saml_email_attribute")
		}
		email = vals[0]
	}
	if !DomainAllowed(email, k.SAMLAllowedDomains.Get()) {
		return Result{}, refused("accounts of the domain of " + short(email) + " may not sign in here")
	}
	// No role attribute configured or sent: no role is stated, so an
	// existing account keeps its own (see auth.ExternalIdentity).
	var role auth.Role
	if name := k.SAMLRoleAttribute.Get(); name != "" {
		if vals := attributeValues(a, name); len(vals) > 0 {
			role = MapRole(vals, k.SAMLAdminValues.Get(), k.SAMLMaintainerValues.Get())
		}
	}
	return Result{
		Identity: auth.ExternalIdentity{Provider: auth.MethodSAML, Subject: subject, Email: email, Role: role,
			AutoCreate: k.OIDCAutoCreate.Get()},
		Next: req.Next,
	}, nil
}

// attributeValues returns the values of the assertion's attribute whose
// Name or FriendlyName is name.
func attributeValues(a *saml.Assertion, name string) []string {
	var out []string
	for _, st := range a.AttributeStatements {
		for _, at := range st.Attributes {
			if at.Name == name || at.FriendlyName == name {
				for _, v := range at.Values {
					out = append(out, v.Value)
				}
			}
		}
	}
	return out
}

// samlError says why a response was refused; the library's own reason is
// kept for the log.
func samlError(err error) *Error {
	var ire *saml.InvalidResponseError
	if errors.As(err, &ire) && ire.PrivateErr != nil {
		err = ire.PrivateErr
	}
	msg := err.Error()
	switch {
	case errors.Is(err, errReplayStore):
		return unavailable("the sign-in could not be checked because the database is unavailable; try again shortly", err)
	case errors.Is(err, saml.ErrAssertionReplayed):
		return invalid("this SAML assertion was already used; start again", err)
	case strings.Contains(msg, "signature") || strings.Contains(msg, "Signature") || strings.Contains(msg, "signed"):
		return invalid("the identity provider's answer is not signed with its key; ask an admin to check the SAML metadata", err)
	case strings.Contains(msg, "expired") || strings.Contains(msg, "NotOnOrAfter") || strings.Contains(msg, "NotBefore"):
		return invalid("the identity provider's answer is outside its time window; start again (if it keeps happening, check the clocks)", err)
	case strings.Contains(msg, "udience"):
		return invalid("the identity provider's answer is for another service provider (audience); ask an admin to check saml_sp_entity_id", err)
	}
	return invalid("the identity provider's answer could not be verified", err)
}

// replayCache records accepted assertion ids in the database, so every
// replica refuses one that any of them accepted.
type replayCache struct{ q *requests }

// errReplayStore marks a replay check that failed because the database
// did not answer: the assertion was not proven bad, so the sign-in is
// unavailable rather than invalid.
var errReplayStore = errors.New("the replay check could not reach the database")

func (c replayCache) Consume(id string, expires time.Time) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	fresh, err := c.q.seen(ctx, id, expires)
	if err != nil {
		return fmt.Errorf("%w: %w", errReplayStore, err)
	}
	if !fresh {
		return saml.ErrAssertionReplayed
	}
	return nil
}

// spKey returns the service provider's key and certificate, creating and
// storing them (sealed) on first use. Replicas racing to create them all
// end up with the one that was stored first. The stored row is read on
// every call (SAML sign-ins are rare) so that a key rotated with
// RotateSPKey is used by every replica from its next request; only the
// parsing is cached.
func (s *SAML) spKey(ctx context.Context) (*rsa.PrivateKey, *x509.Certificate, error) {
	if s.sealer == nil {
		return nil, nil, errors.New("no sealer for the SAML service provider key")
	}
	read := func() (string, error) {
		var v string
		err := s.db.QueryRowContext(ctx, s.db.Rebind(`SELECT secret_value FROM app_secrets WHERE name = ?`), spKeyName).Scan(&v)
		return v, err
	}
	stored, err := read()
	if errors.Is(err, sql.ErrNoRows) {
		pemText, gerr := newSPKey(s.now())
		if gerr != nil {
			return nil, nil, gerr
		}
		sealed, gerr := s.sealer.Seal(spKeyName, pemText)
		if gerr != nil {
			return nil, nil, gerr
		}
		_, gerr = s.db.ExecContext(ctx, s.db.Rebind(`INSERT INTO app_secrets (name, secret_value, created_at) VALUES (?, ?, ?)`), spKeyName, sealed, s.now().UTC())
		if gerr != nil && !db.IsUniqueViolation(gerr) {
			return nil, nil, fmt.Errorf("store the SAML key: %w", gerr)
		}
		stored, err = read()
	}
	if err != nil {
		return nil, nil, fmt.Errorf("read the SAML key: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.key != nil && s.keySealed == stored {
		return s.key, s.cert, nil
	}
	plain, err := s.sealer.Open(spKeyName, stored)
	if err != nil {
		return nil, nil, fmt.Errorf("open the SAML key: %w", err)
	}
	key, cert, err := parseSPKey(plain)
	if err != nil {
		return nil, nil, err
	}
	s.key, s.cert, s.keySealed = key, cert, stored
	return key, cert, nil
}

// RotateSPKey replaces the service provider's key and certificate with
// new ones and returns the new certificate. Sign-ins started before the
// rotation fail at the ACS if the identity provider encrypted or checked
// them against the old certificate; identity providers that read the SP
// metadata must be given the new metadata (GET /api/v1/auth/saml/metadata).
func RotateSPKey(ctx context.Context, d *db.DB, sealer Sealer, now time.Time) (*x509.Certificate, error) {
	pemText, err := newSPKey(now)
	if err != nil {
		return nil, err
	}
	_, cert, err := parseSPKey(pemText)
	if err != nil {
		return nil, err
	}
	sealed, err := sealer.Seal(spKeyName, pemText)
	if err != nil {
		return nil, fmt.Errorf("seal the SAML key: %w", err)
	}
	tx, err := d.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("rotate the SAML key: %w", err)
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, d.Rebind(`UPDATE app_secrets SET secret_value = ?, created_at = ? WHERE name = ?`), sealed, now.UTC(), spKeyName)
	if err != nil {
		return nil, fmt.Errorf("rotate the SAML key: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		if _, err := tx.ExecContext(ctx, d.Rebind(`INSERT INTO app_secrets (name, secret_value, created_at) VALUES (?, ?, ?)`), spKeyName, sealed, now.UTC()); err != nil {
			return nil, fmt.Errorf("store the SAML key: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("rotate the SAML key: %w", err)
	}
	return cert, nil
}

// newSPKey makes an RSA key and a self-signed certificate for it (ten
// years; identity providers trust the certificate from the metadata, not
// from a CA), as PEM.
func newSPKey(now time.Time) (string, error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return "", fmt.Errorf("generate the SAML key: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	if err != nil {
		return "", err
	}
	tmpl := &x509.Certificate{SerialNumber: serial, Subject: pkix.Name{CommonName: "rookery SAML service provider"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.AddDate(10, 0, 0),
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return "", fmt.Errorf("make the SAML certificate: %w", err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})) +
		string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})), nil
}

func parseSPKey(text string) (*rsa.PrivateKey, *x509.Certificate, error) {
	var key *rsa.PrivateKey
	var cert *x509.Certificate
	rest := []byte(text)
	for {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		var err error
		switch b.Type {
		case "RSA PRIVATE KEY":
			key, err = x509.ParsePKCS1PrivateKey(b.Bytes)
		case "CERTIFICATE":
			cert, err = x509.ParseCertificate(b.Bytes)
		}
		if err != nil {
			return nil, nil, fmt.Errorf("read the SAML key: %w", err)
		}
	}
	if key == nil || cert == nil {
		return nil, nil, errors.New("read the SAML key: the stored key or certificate is missing")
	}
	return key, cert, nil
}
