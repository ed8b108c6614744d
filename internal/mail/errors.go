package mail

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"net"
	"net/textproto"
	"strings"
	"syscall"

	gomail "github.com/wneessen/go-mail"
	gosmtp "github.com/wneessen/go-mail/smtp"
)

// Error is a failed send or probe, told two ways: Reason is a sentence
// for a person (could not connect, TLS failed, the password was refused,
// the recipient was refused), Detail the technical text. Neither ever
// holds the password.
type Error struct {
	Reason string
	Detail string
	// Permanent is set when sending the same message again cannot succeed
	// (the server refused the recipient for good).
	Permanent bool
	// Settings is set when the settings themselves refuse the send.
	Settings bool
}

func (e *Error) Error() string {
	if e.Detail == "" || e.Detail == e.Reason {
		return e.Reason
	}
	return e.Reason + " (" + e.Detail + ")"
}

// classify turns a go-mail or network error into an *Error.
func classify(err error, s Settings, to string) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	detail := redact(err.Error(), s)
	out := &Error{Detail: detail}
	var se *gomail.SendError
	var tp *textproto.Error
	var dnsErr *net.DNSError
	var netErr net.Error
	var certErr *tls.CertificateVerificationError
	var unknownCA x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	var invalidCert x509.CertificateInvalidError
	var recordErr tls.RecordHeaderError
	var alert tls.AlertError
	switch {
	case errors.As(err, &se) && se.Reason == gomail.ErrSMTPRcptTo:
		out.Reason = errorf("the server refused the recipient %s", to)
		out.Permanent = !se.IsTemp()
	case errors.As(err, &se) && se.Reason == gomail.ErrSMTPMailFrom:
		out.Reason = errorf("the server refused the sender %s", s.From)
	case strings.Contains(err.Error(), "SMTP AUTH failed") || errors.Is(err, gosmtp.ErrUnencrypted):
		out.Reason = "the server refused the username or password"
	case errors.Is(err, gomail.ErrNoSupportedAuthDiscovered) || strings.Contains(err.Error(), "does not support SMTP AUTH"):
		out.Reason = "the server offers no sign-in method rookery can use safely; check smtp_tls and smtp_user"
	case errors.Is(err, syscall.ECONNREFUSED):
		out.Reason = errorf("could not connect to %s (connection refused)", s.addr())
	case errors.As(err, &dnsErr):
		out.Reason = errorf("could not connect to %s (the host name does not resolve)", s.addr())
	case errors.As(err, &certErr), errors.As(err, &unknownCA), errors.As(err, &hostErr), errors.As(err, &invalidCert),
		errors.As(err, &recordErr), errors.As(err, &alert), strings.Contains(err.Error(), "tls:"):
		out.Reason = errorf("TLS handshake with %s failed", s.addr())
	case strings.Contains(err.Error(), "STARTTLS"):
		out.Reason = errorf("TLS handshake with %s failed: the server does not offer STARTTLS (smtp_tls=starttls requires it)", s.addr())
	case errors.As(err, &netErr) && netErr.Timeout():
		out.Reason = errorf("the server %s did not answer in time", s.addr())
	case errors.As(err, &se) && (se.Reason == gomail.ErrSMTPData || se.Reason == gomail.ErrSMTPDataClose):
		out.Reason = "the server refused the message"
		out.Permanent = !se.IsTemp()
	case errors.As(err, &tp):
		out.Reason = errorf("the server answered %d %s", tp.Code, tp.Msg)
	case errors.As(err, &netErr):
		out.Reason = errorf("could not connect to %s", s.addr())
	default:
		out.Reason = errorf("sending through %s failed", s.addr())
	}
	return out
}

// redact removes the password, and the forms it travels in, from text a
// server or library produced.
func redact(text string, s Settings) string {
	pass := s.Pass.Reveal()
	if pass == "" {
		return text
	}
	for _, form := range []string{
		base64.StdEncoding.EncodeToString([]byte("\x00" + s.User + "\x00" + pass)),
		base64.StdEncoding.EncodeToString([]byte(pass)),
		pass,
	} {
		text = strings.ReplaceAll(text, form, "***")
	}
	return text
}
