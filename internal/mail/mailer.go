package mail

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"strings"
	"time"

	gomail "github.com/wneessen/go-mail"
)

// Message is one email, ready to send.
type Message struct {
	Kind    Kind
	To      string
	Subject string
	Text    string
	HTML    string
	// MessageID is the unique part of the Message-ID header; the domain of
	// the sender is added when it is sent. It stays the same across
	// retries, so a receiver can tell a repeat.
	MessageID string
}

// Mailer sends messages over SMTP.
type Mailer struct {
	// RootCAs, when set, are the authorities server certificates are
	// checked against instead of the system's (tests).
	RootCAs *x509.CertPool
	// HELO is the name given in EHLO; empty uses the machine's host name.
	HELO string
}

// defaultTimeout is used when the settings carry none.
const defaultTimeout = 10 * time.Second

// client builds a go-mail client for s, checking s first.
func (m *Mailer) client(s Settings) (*gomail.Client, error) {
	if err := s.Check(); err != nil {
		return nil, &Error{Reason: err.Error(), Detail: err.Error(), Settings: true}
	}
	timeout := s.Timeout
	if timeout <= 0 {
		timeout = defaultTimeout
	}
	opts := []gomail.Option{
		gomail.WithPort(s.Port),
		gomail.WithTimeout(timeout),
		gomail.WithTLSConfig(&tls.Config{ServerName: s.Host, RootCAs: m.RootCAs, MinVersion: tls.VersionTLS12}),
	}
	if m.HELO != "" {
		opts = append(opts, gomail.WithHELO(m.HELO))
	}
	switch s.TLS {
	case TLSImplicit:
		opts = append(opts, gomail.WithSSL())
	case TLSNone:
		opts = append(opts, gomail.WithTLSPolicy(gomail.NoTLS))
	default:
		// Mandatory: a server (or someone in between) that does not offer
		// STARTTLS must not get the password in clear.
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSMandatory))
	}
	if s.User != "" {
		opts = append(opts, gomail.WithUsername(s.User), gomail.WithPassword(s.Pass.Reveal()))
		if s.TLS == TLSNone {
			// Check has allowed this connection in clear (this machine, or
			// smtp_allow_insecure): PLAIN and LOGIN are what such relays offer.
			opts = append(opts, gomail.WithOpportunisticSMTPAuth(gomail.SMTPAuthPlainNoEnc, gomail.SMTPAuthLoginNoEnc))
		} else {
			opts = append(opts, gomail.WithSMTPAuth(gomail.SMTPAuthAutoDiscover))
		}
	}
	c, err := gomail.NewClient(s.Host, opts...)
	if err != nil {
		return nil, classify(err, s, "")
	}
	return c, nil
}

// Send sends msg now with s and returns the server's reply to the message
// (such as "250 2.0.0 Ok: queued as ..."). Its errors are *Error.
func (m *Mailer) Send(ctx context.Context, s Settings, msg Message) (string, error) {
	c, err := m.client(s)
	if err != nil {
		return "", err
	}
	gm := gomail.NewMsg()
	if err := gm.From(s.From); err != nil {
		return "", &Error{Reason: "smtp_from is not a usable sender address", Detail: err.Error(), Settings: true}
	}
	if err := gm.To(msg.To); err != nil {
		return "", &Error{Reason: "the recipient " + msg.To + " is not a usable address", Detail: err.Error(), Permanent: true}
	}
	gm.Subject(msg.Subject)
	id := msg.MessageID
	if id == "" {
		id = NewMessageID()
	}
	gm.SetMessageIDWithValue(id + "@" + domainOf(s.From))
	gm.SetDate()
	gm.SetBodyString(gomail.TypeTextPlain, msg.Text)
	if msg.HTML != "" {
		gm.AddAlternativeString(gomail.TypeTextHTML, msg.HTML)
	}
	if err := c.DialAndSendWithContext(ctx, gm); err != nil {
		return "", classify(err, s, msg.To)
	}
	// The library keeps the text of the answer to the end of DATA, whose
	// code can only be 250 when it reports no error.
	return strings.TrimSpace("250 " + gm.ServerResponse()), nil
}

// Probe connects with s, says EHLO, STARTTLS and AUTH as s asks, and
// quits without sending anything. Its errors are *Error.
func (m *Mailer) Probe(ctx context.Context, s Settings) error {
	c, err := m.client(s)
	if err != nil {
		return err
	}
	sc, err := c.DialToSMTPClientWithContext(ctx)
	if err != nil {
		return classify(err, s, "")
	}
	if err := c.CloseWithSMTPClient(sc); err != nil {
		return classify(err, s, "")
	}
	return nil
}

// domainOf is the domain of an address, for the Message-ID.
func domainOf(addr string) string {
	if i := strings.LastIndexByte(addr, '@'); i >= 0 && i < len(addr)-1 {
		return strings.Trim(addr[i+1:], ">")
	}
	return "rookery.invalid"
}

// errorf is a small helper for readable reasons.
func errorf(format string, args ...any) string { return fmt.Sprintf(format, args...) }
