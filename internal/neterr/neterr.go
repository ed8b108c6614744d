// Package neterr turns a failed exchange with an outside service into a
// clause a person can read ("the host name waddleai was not found"),
// leaving out what only an engineer needs: the resolver's address, the
// local port, the Go error chain. Callers keep the full error as detail.
package neterr

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"strings"
	"syscall"
)

// Reason says why a call failed, as a clause that completes "... because"
// or follows a colon. It recognises the failures of the network and of
// TLS; anything else is "" so the caller can say it its own way.
func Reason(err error) string {
	if err == nil {
		return ""
	}
	var dns *net.DNSError
	var unknownCA x509.UnknownAuthorityError
	var hostname x509.HostnameError
	var invalid x509.CertificateInvalidError
	var record tls.RecordHeaderError
	var netErr net.Error
	switch {
	case errors.As(err, &dns) && dns.IsNotFound:
		return "the host name " + dns.Name + " was not found"
	case errors.As(err, &dns):
		return "the host name " + dns.Name + " could not be looked up"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "nothing accepted the connection (connection refused)"
	case errors.Is(err, syscall.EHOSTUNREACH) || errors.Is(err, syscall.ENETUNREACH):
		return "there is no network route to the host"
	case errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE):
		return "the connection was closed by the other side"
	case errors.As(err, &unknownCA):
		return "its TLS certificate is not signed by an authority this server trusts"
	case errors.As(err, &hostname):
		return "its TLS certificate is for another host name"
	case errors.As(err, &invalid):
		return "its TLS certificate is not valid (expired or not yet valid)"
	case errors.As(err, &record) || strings.Contains(err.Error(), "server gave HTTP response to HTTPS client"):
		// net/http reports the second without a typed error.
		return "it does not speak TLS at that address (is the scheme http rather than https?)"
	case errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &netErr) && netErr.Timeout()):
		return "it did not answer in time"
	case errors.Is(err, context.Canceled):
		return "the check was cancelled"
	}
	return ""
}
