// Package mail sends rookery's email: a mailer on the smtp_* settings
// (read again for every message, so a change applies to the next one
// without a restart), the messages' templates, a durable outbox in the
// database and the background worker that empties it with retries.
package mail

import (
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/rookery/rookery/config"
)

// The values of smtp_tls.
const (
	TLSStartTLS = "starttls"
	TLSImplicit = "tls"
	TLSNone     = "none"
)

// Settings are what one message is sent with.
type Settings struct {
	Host          string
	Port          int
	User          string
	Pass          config.Secret
	From          string
	TLS           string
	Timeout       time.Duration
	AllowInsecure bool
}

// SettingsOf reads the current smtp_* values.
func SettingsOf(k config.SMTPSettings) Settings {
	return Settings{
		Host:          k.Host.Get(),
		Port:          int(k.Port.Get()),
		User:          k.User.Get(),
		Pass:          k.Pass.Get(),
		From:          k.From.Get(),
		TLS:           k.TLS.Get(),
		Timeout:       k.Timeout.Get(),
		AllowInsecure: k.AllowInsecure.Get(),
	}
}

// ErrNotConfigured says smtp_host or smtp_from is empty: nothing can be sent.
var ErrNotConfigured = errors.New("email is not configured: set smtp_host and smtp_from")

// Configured reports whether a message could be sent at all.
func (s Settings) Configured() bool { return s.Host != "" && s.From != "" }

// Check refuses settings no message may be sent with: missing server or
// sender, and an unencrypted connection to another machine unless
// smtp_allow_insecure says so. It is a rule across keys, so it is checked
// where the keys are used together rather than on each key.
func (s Settings) Check() error {
	if !s.Configured() {
		return ErrNotConfigured
	}
	switch s.TLS {
	case TLSStartTLS, TLSImplicit, "":
	case TLSNone:
		if !s.AllowInsecure && !Loopback(s.Host) {
			return fmt.Errorf("smtp_tls=none is allowed only for a server on this machine (localhost, 127.0.0.1, ::1): "+
				"to %s the password and messages would cross the network unencrypted; use starttls or tls, or set smtp_allow_insecure=true", s.Host)
		}
	default:
		return fmt.Errorf("smtp_tls must be starttls, tls or none")
	}
	return nil
}

// Loopback reports whether host names this machine: localhost or a
// loopback address.
func Loopback(host string) bool {
	h := strings.TrimSuffix(strings.ToLower(strings.Trim(host, "[]")), ".")
	if h == "localhost" || strings.HasSuffix(h, ".localhost") {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

// addr is host:port for messages.
func (s Settings) addr() string { return net.JoinHostPort(s.Host, fmt.Sprint(s.Port)) }
