package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/rookery/rookery/internal/httpapi"
	"github.com/rookery/rookery/internal/httpapi/contract"
)

// The proxy passes answers through unchanged, records the API answers the
// document does not describe, and leaves the web interface's files alone.
func TestProxyRecordsViolations(t *testing.T) {
	doc, err := httpapi.OpenAPI()
	if err != nil {
		t.Fatal(err)
	}
	checker, err := contract.New(context.Background(), doc)
	if err != nil {
		t.Fatal(err)
	}
	var gotEncoding []string
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotEncoding = append(gotEncoding, r.Header.Get("Accept-Encoding"))
		switch r.URL.Path {
		case "/healthz":
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, `{"status":"ok"}`)
		case "/readyz":
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, `{"status":"ready","database":"ok","uptime":3}`)
		default:
			w.Header().Set("Content-Type", "text/html")
			_, _ = io.WriteString(w, "<p>page")
		}
	}))
	defer backend.Close()
	base, _ := url.Parse(backend.URL)
	var log bytes.Buffer
	rec := &recorder{out: &log}
	front := httptest.NewServer(newProxy(base, checker, rec))
	defer front.Close()

	for _, path := range []string{"/healthz", "/readyz", "/settings"} {
		req, _ := http.NewRequest("GET", front.URL+path, nil)
		req.Header.Set("Accept-Encoding", "gzip, br")
		resp, err := http.DefaultTransport.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || len(body) == 0 {
			t.Fatalf("%s: %d %q, want the backend's answer", path, resp.StatusCode, body)
		}
	}
	if rec.checked.Load() != 2 || rec.violations.Load() != 1 {
		t.Fatalf("checked %d, violations %d; want 2 and 1", rec.checked.Load(), rec.violations.Load())
	}
	if lines := strings.Split(strings.TrimSpace(log.String()), "\n"); len(lines) != 1 || !strings.Contains(lines[0], "/readyz") || !strings.Contains(lines[0], "uptime") {
		t.Fatalf("violations file %q, want one line about /readyz's uptime", log.String())
	}
	if gotEncoding[0] != "identity" || gotEncoding[1] != "identity" || gotEncoding[2] != "gzip, br" {
		t.Fatalf("Accept-Encoding seen by the server %q: API requests should ask for no encoding, pages keep theirs", gotEncoding)
	}
}
