package httpapi

import (
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestMethodLabel(t *testing.T) {
	for _, m := range []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "CONNECT", "TRACE"} {
		if got := MethodLabel(m); got != m {
			t.Errorf("MethodLabel(%q) = %q, want it kept", m, got)
		}
	}
	for _, m := range []string{"get", "PROPFIND", "", strings.Repeat("X", 1000)} {
		if got := MethodLabel(m); got != "OTHER" {
			t.Errorf("MethodLabel(%.20q) = %q, want OTHER", m, got)
		}
	}
}

// TestMetricsBoundedByJunkMethods: every new label value is a series kept
// for the life of the process, so junk methods must not make new ones.
func TestMetricsBoundedByJunkMethods(t *testing.T) {
	var methods []string
	s := New(Deps{License: devLicence(t), OnRequest: func(r RequestRecord) { methods = append(methods, r.Method) }})
	h := s.Handler()
	letters := "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	for i := range 2000 {
		b := make([]byte, 1000)
		for j := range b {
			b[j] = letters[rand.IntN(len(letters))]
		}
		path := []string{"/healthz", "/api/v1/config", "/no/such/page", "/api/nothing"}[i%4]
		r := httptest.NewRequest("GET", path, nil)
		r.Method = string(b)
		h.ServeHTTP(httptest.NewRecorder(), r)
	}
	for _, m := range methods {
		if m != "OTHER" {
			t.Fatalf("request record method %.20q..., want OTHER", m)
		}
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body, _ := io.ReadAll(rec.Body)
	if len(body) > 200<<10 {
		t.Fatalf("/metrics is %d bytes after 2000 junk methods, want under 200 KB", len(body))
	}
	if !strings.Contains(string(body), `method="OTHER"`) {
		t.Errorf("/metrics does not count the junk methods as OTHER:\n%.2000s", body)
	}
}

func TestHSTS(t *testing.T) {
	tests := []struct {
		name   string
		secure bool
		tls    bool
		want   string
	}{
		{name: "plain HTTP", want: ""},
		{name: "SECURE_COOKIES behind a TLS proxy", secure: true, want: "max-age=31536000"},
		{name: "TLS terminated here", tls: true, want: "max-age=31536000"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := New(Deps{License: devLicence(t), SecureCookies: tt.secure})
			url := "http://rookery.example/healthz"
			if tt.tls {
				url = "https://rookery.example/healthz"
			}
			rec := httptest.NewRecorder()
			s.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, url, nil))
			if got := rec.Header().Get("Strict-Transport-Security"); got != tt.want {
				t.Errorf("Strict-Transport-Security = %q, want %q", got, tt.want)
			}
		})
	}
}
