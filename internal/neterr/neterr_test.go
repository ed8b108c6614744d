package neterr_test

import (
	"context"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/rookery/rookery/internal/neterr"
)

// Real failures, produced by real calls on this machine, read as clauses
// without the addresses the Go error carries.
func TestReason(t *testing.T) {
	get := func(url string, timeout time.Duration) error {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		return err
	}

	// A port nothing listens on: bind one, note it, close it.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := l.Addr().String()
	l.Close()

	// A TLS server with a certificate nobody trusts, and a plain one
	// asked for TLS.
	tlsSrv := httptest.NewUnstartedServer(http.NotFoundHandler())
	tlsSrv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshake is expected
	tlsSrv.StartTLS()
	defer tlsSrv.Close()
	plain := httptest.NewServer(http.NotFoundHandler())
	defer plain.Close()
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(2 * time.Second):
		}
	}))
	defer slow.Close()

	cases := []struct {
		name string
		err  error
		want string
	}{
		{"no such host", get("http://no-such-host.invalid/", 5*time.Second), "the host name no-such-host.invalid was not found"},
		{"refused", get("http://"+closed+"/", 5*time.Second), "nothing accepted the connection (connection refused)"},
		{"unknown authority", get(tlsSrv.URL, 5*time.Second), "its TLS certificate is not signed by an authority this server trusts"},
		{"not TLS", get(strings.Replace(plain.URL, "http:", "https:", 1), 5*time.Second), "it does not speak TLS at that address (is the scheme http rather than https?)"},
		{"timeout", get(slow.URL, 100*time.Millisecond), "it did not answer in time"},
		{"other", errors.New("something else"), ""},
	}
	for _, c := range cases {
		if c.err == nil && c.want != "" {
			t.Errorf("%s: the call succeeded", c.name)
			continue
		}
		got := neterr.Reason(c.err)
		if got != c.want {
			t.Errorf("%s: Reason(%v) = %q, want %q", c.name, c.err, got, c.want)
		}
		if strings.Contains(got, "127.0.0.1") || strings.Contains(got, ":53") {
			t.Errorf("%s: the reason carries an address: %q", c.name, got)
		}
	}
}
