package license_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rookery/rookery/license"
	"github.com/rookery/rookery/license/licensetest"
)

func newClient(t *testing.T, url string, opts ...func(*license.ClientOptions)) *license.Client {
	t.Helper()
	o := license.ClientOptions{ServerURL: url, Timeout: 2 * time.Second}
	for _, f := range opts {
		f(&o)
	}
	c, err := license.NewClient(o)
	if err != nil {
		t.Fatalf("NewClient: %v", err)
	}
	return c
}

// errorClass names which sentinel an error wraps, for table tests.
func errorClass(err error) string {
	switch {
	case err == nil:
		return "ok"
	case errors.Is(err, license.ErrUnavailable):
		return "unavailable"
	case errors.Is(err, license.ErrRejected):
		return "rejected"
	case errors.Is(err, license.ErrExpired):
		return "expired"
	case errors.Is(err, license.ErrInvalidKey):
		return "invalid-key"
	default:
		return "other: " + err.Error()
	}
}

func TestClientStatusCodeClasses(t *testing.T) {
	tests := []struct {
		status int
		body   string
		want   string
	}{
		{200, `{"tier":"professional"}`, "ok"},
		{200, `{"tier":"professional","valid":true}`, "ok"},
		{200, `{"tier":"professional","valid":false,"message":"Licence suspended"}`, "rejected"},
		{200, `not json`, "unavailable"},
		{204, ``, "unavailable"}, // a validate answer without a body cannot be read
		{400, `{"error":"Bad request"}`, "rejected"},
		{401, `{"error":"Invalid license key"}`, "rejected"},
		{402, `{"error":"Payment required"}`, "rejected"},
		{403, `{"error":"Forbidden"}`, "rejected"},
		{404, `<html>Not Found</html>`, "rejected"},
		{410, `{"message":"Licence revoked"}`, "rejected"},
		{408, ``, "unavailable"},
		{429, `{"error":"Too many requests"}`, "unavailable"},
		{500, `{"error":"Internal error"}`, "unavailable"},
		{502, `<html>Bad gateway</html>`, "unavailable"},
		{503, ``, "unavailable"},
		{504, ``, "unavailable"},
	}
	for _, tt := range tests {
		t.Run(http.StatusText(tt.status)+" "+tt.body, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(tt.status)
				_, _ = w.Write([]byte(tt.body))
			}))
			defer srv.Close()
			_, err := newClient(t, srv.URL).Validate(context.Background(), licensetest.KeyProfessional, "rookery")
			if got := errorClass(err); got != tt.want {
				t.Fatalf("class = %s, want %s", got, tt.want)
			}
			if err == nil {
				return
			}
			var le *license.Error
			if !errors.As(err, &le) {
				t.Fatalf("error %T is not a *license.Error", err)
			}
			if le.StatusCode != tt.status {
				t.Errorf("StatusCode = %d, want %d", le.StatusCode, tt.status)
			}
			if strings.Contains(err.Error(), "<html>") || strings.Contains(err.Error(), "\n") {
				t.Errorf("error %q echoes a raw body or spans lines", err)
			}
		})
	}
}

func TestClientErrorCarriesServerMessage(t *testing.T) {
	srv := licensetest.NewServer()
	defer srv.Close()
	_, err := newClient(t, srv.URL).Validate(context.Background(), licensetest.KeyUnknown, "rookery")
	if !errors.Is(err, license.ErrRejected) {
		t.Fatalf("err = %v, want rejected", err)
	}
	if !strings.Contains(err.Error(), "HTTP 401") || !strings.Contains(err.Error(), "Invalid license key") {
		t.Errorf("error %q lacks the status or the server's message", err)
	}
}

func TestClientNeverEchoesKey(t *testing.T) {
	const key = licensetest.KeyProfessional
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusForbidden)
		_, _ = w.Write([]byte(`{"error":"key ` + key + ` is\nsuspended"}`))
	}))
	defer srv.Close()
	_, err := newClient(t, srv.URL).Validate(context.Background(), key, "rookery")
	if err == nil {
		t.Fatal("expected an error")
	}
	if strings.Contains(err.Error(), key) {
		t.Fatal("error contains the clear licence key")
	}
	if !strings.Contains(err.Error(), license.MaskKey(key)) || strings.Contains(err.Error(), "\n") {
		t.Errorf("error %q should carry the masked key on one line", err)
	}
}

func TestClientTransportFailures(t *testing.T) {
	tests := []struct {
		name  string
		setup func(s *licensetest.Server)
	}{
		{"connection refused", func(s *licensetest.Server) { s.Close() }},
		{"hang up", func(s *licensetest.Server) { s.HangUp(true) }},
		{"slower than the timeout", func(s *licensetest.Server) { s.SetDelay(10 * time.Second) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := licensetest.NewServer(licensetest.Professional(licensetest.KeyProfessional))
			defer srv.Close()
			tt.setup(srv)
			c := newClient(t, srv.URL, func(o *license.ClientOptions) { o.Timeout = 100 * time.Millisecond })
			start := time.Now()
			_, err := c.Validate(context.Background(), licensetest.KeyProfessional, "rookery")
			if !errors.Is(err, license.ErrUnavailable) {
				t.Fatalf("err = %v, want ErrUnavailable", err)
			}
			var le *license.Error
			if errors.As(err, &le) && le.StatusCode != 0 {
				t.Errorf("StatusCode = %d, want 0 for a transport failure", le.StatusCode)
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("took %s; the timeout was not applied", d)
			}
		})
	}
}

func TestClientInvalidKeyMakesNoRequest(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { calls.Add(1) }))
	defer srv.Close()
	c := newClient(t, srv.URL)
	ctx := context.Background()
	for _, key := range []license.Key{"", "PENG-1234", "peng-ab12-cd34-ef56-gh78-wxyz"} {
		_, err := c.Validate(ctx, key, "rookery")
		if !errors.Is(err, license.ErrInvalidKey) || !strings.Contains(err.Error(), "PENG-XXXX-XXXX-XXXX-XXXX-XXXX") {
			t.Errorf("Validate(%v) = %v, want ErrInvalidKey naming the shape", key, err)
		}
		if _, err := c.Features(ctx, key, "rookery", "x"); !errors.Is(err, license.ErrInvalidKey) {
			t.Errorf("Features(%v) = %v", key, err)
		}
		if err := c.Keepalive(ctx, key, license.Keepalive{Product: "rookery"}); !errors.Is(err, license.ErrInvalidKey) {
			t.Errorf("Keepalive(%v) = %v", key, err)
		}
	}
	if n := calls.Load(); n != 0 {
		t.Errorf("%d requests were made with malformed keys", n)
	}
}

func TestClientValidateAgainstFake(t *testing.T) {
	srv := licensetest.NewServer(
		licensetest.Professional(licensetest.KeyProfessional),
		licensetest.Community(licensetest.KeyCommunity),
		licensetest.Expired(licensetest.KeyExpired),
	)
	defer srv.Close()
	c := newClient(t, srv.URL)
	ctx := context.Background()

	v, err := c.Validate(ctx, licensetest.KeyProfessional, "rookery")
	if err != nil {
		t.Fatal(err)
	}
	if v.Tier != license.Professional || v.Metadata.ServerID == "" || v.Customer != "Acme Corp" {
		t.Errorf("validation = %+v", v)
	}
	req := srv.RequestsTo(license.PathValidate)[0]
	if req.Method != http.MethodPost || req.BearerKey() != licensetest.KeyProfessional {
		t.Error("validate was not a POST with the key as Bearer token")
	}
	if ct := req.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q", ct)
	}
	if req.Body["product"] != "rookery" || len(req.Body) != 1 {
		t.Errorf("validate body = %v, want only the product", req.Body)
	}

	v, err = c.Validate(ctx, licensetest.KeyCommunity, "rookery")
	if err != nil || v.Tier != license.Community {
		t.Errorf("community (sent as \"free\") = %v, %v", v, err)
	}

	v, err = c.Validate(ctx, licensetest.KeyExpired, "rookery")
	if !errors.Is(err, license.ErrExpired) || errors.Is(err, license.ErrUnavailable) {
		t.Errorf("expired licence err = %v", err)
	}
	if v == nil || v.ExpiresAt.IsZero() {
		t.Error("the expired validation should be returned with the error")
	}

	if _, err := c.Validate(ctx, licensetest.KeyProfessional, "another-product"); !errors.Is(err, license.ErrRejected) {
		t.Errorf("wrong product err = %v, want rejected", err)
	}
}

func TestClientExpiryUsesInjectedClock(t *testing.T) {
	lic := licensetest.Professional(licensetest.KeyProfessional)
	srv := licensetest.NewServer(lic)
	defer srv.Close()
	late := lic.ExpiresAt.Add(time.Second)
	c := newClient(t, srv.URL, func(o *license.ClientOptions) { o.Now = func() time.Time { return late } })
	if _, err := c.Validate(context.Background(), licensetest.KeyProfessional, "rookery"); !errors.Is(err, license.ErrExpired) {
		t.Fatalf("err = %v, want ErrExpired one second after expires_at", err)
	}
}

func TestClientFeatures(t *testing.T) {
	srv := licensetest.NewServer(licensetest.Professional(licensetest.KeyProfessional).Qualified())
	defer srv.Close()
	c := newClient(t, srv.URL)
	fs, err := c.Features(context.Background(), licensetest.KeyProfessional, "rookery", "audit_logs")
	if err != nil {
		t.Fatal(err)
	}
	if len(fs) != 1 || fs[0].Name != "rookery.audit_logs" || !fs[0].Entitled || fs[0].Units != -1 {
		t.Errorf("features = %+v", fs)
	}
	req := srv.RequestsTo(license.PathFeatures)[0]
	if req.Body["product"] != "rookery" || req.Body["feature"] != "audit_logs" {
		t.Errorf("features body = %v", req.Body)
	}
}

func TestClientKeepaliveBody(t *testing.T) {
	lic := licensetest.Professional(licensetest.KeyProfessional)
	srv := licensetest.NewServer(lic)
	defer srv.Close()
	c := newClient(t, srv.URL)
	err := c.Keepalive(context.Background(), licensetest.KeyProfessional, license.Keepalive{
		Product: "rookery", ServerID: lic.ServerID, Hostname: "host-1", Version: "1.2.3",
		Uptime:       90 * time.Minute,
		Usage:        &license.Usage{ActiveUsers: 42, TeamCount: 8, StorageGB: 125},
		FeatureUsage: map[string]int64{"audit_logs": 3},
	})
	if err != nil {
		t.Fatal(err)
	}
	b := srv.RequestsTo(license.PathKeepalive)[0].Body
	checks := map[string]any{
		"product":        "rookery",
		"server_id":      lic.ServerID,
		"hostname":       "host-1",
		"version":        "1.2.3",
		"uptime_seconds": float64(5400),
	}
	for k, want := range checks {
		if b[k] != want {
			t.Errorf("%s = %v, want %v", k, b[k], want)
		}
	}
	if b["license_key"] != licensetest.KeyProfessional {
		t.Error("license_key of the standards' form is missing from the body")
	}
	usage, _ := b["usage"].(map[string]any)
	if usage["active_users"] != float64(42) || usage["team_count"] != float64(8) || usage["storage_gb"] != float64(125) {
		t.Errorf("usage = %v", usage)
	}
	stats, _ := b["usage_stats"].(map[string]any)
	fu, _ := stats["feature_usage"].(map[string]any)
	al, _ := fu["audit_logs"].(map[string]any)
	if stats["active_users"] != float64(42) || al["usage_count"] != float64(3) {
		t.Errorf("usage_stats = %v", stats)
	}

	// The fake insists on the server_id of the validation.
	err = c.Keepalive(context.Background(), licensetest.KeyProfessional, license.Keepalive{Product: "rookery"})
	if !errors.Is(err, license.ErrRejected) {
		t.Errorf("keepalive without server_id = %v, want rejected", err)
	}
}

func TestServerURLPolicy(t *testing.T) {
	tests := []struct {
		url string
		ok  bool
	}{
		{"https://license.penguintech.io", true},
		{"https://license.example.com/prefix/", true},
		{"http://localhost:8080", true},
		{"http://LOCALHOST", true},
		{"http://127.0.0.1:9000", true},
		{"http://[::1]:9000", true},
		{"http://license.penguintech.io", false},
		{"http://10.0.0.5", false},
		{"ftp://license.penguintech.io", false},
		{"license.penguintech.io", false},
		{"https://", false},
		{"https://user:secret@license.example.com", false},
		{"https://license.example.com/?x=1", false},
		{"::not a url", false},
	}
	for _, tt := range tests {
		_, err := license.NewClient(license.ClientOptions{ServerURL: tt.url})
		if (err == nil) != tt.ok {
			t.Errorf("NewClient(%q) err = %v, want ok=%v", tt.url, err, tt.ok)
		}
		if err != nil && strings.Contains(err.Error(), "secret") {
			t.Errorf("error %q shows URL credentials", err)
		}
	}
}

func TestClientTLSAndRedirectDowngrade(t *testing.T) {
	srv := licensetest.NewTLSServer(licensetest.Enterprise(licensetest.KeyEnterprise))
	defer srv.Close()
	c := newClient(t, srv.URL, func(o *license.ClientOptions) { o.HTTPClient = srv.Client() })
	v, err := c.Validate(context.Background(), licensetest.KeyEnterprise, "rookery")
	if err != nil || v.Tier != license.Enterprise {
		t.Fatalf("over TLS: %v, %v", v, err)
	}

	// A redirect to plain http on a remote host must not be followed: the
	// key would travel in clear.
	var followed atomic.Bool
	redirector := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "http://license.invalid/api/v2/validate", http.StatusTemporaryRedirect)
	}))
	defer redirector.Close()
	hc := redirector.Client()
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { followed.Store(true); return nil }
	c = newClient(t, redirector.URL, func(o *license.ClientOptions) { o.HTTPClient = hc })
	_, err = c.Validate(context.Background(), licensetest.KeyEnterprise, "rookery")
	if err == nil || !strings.Contains(err.Error(), "must use https") {
		t.Errorf("redirect to plain http err = %v", err)
	}
	if followed.Load() {
		t.Error("the caller's redirect policy ran before the downgrade check")
	}
}

func TestClientBodyEdgeCases(t *testing.T) {
	tests := []struct {
		name    string
		status  int
		body    string
		class   string
		message string
	}{
		{"oversized answer", 200, `{"tier":"pro","pad":"` + strings.Repeat("x", 2<<20) + `"}`, "unavailable", "larger than 1 MiB"},
		{"nested error message", 403, `{"error":{"code":7,"message":"Seat limit reached"}}`, "rejected", "Seat limit reached"},
		{"detail field", 422, `{"detail":"product missing"}`, "rejected", "product missing"},
		{"long message cut", 400, `{"message":"` + strings.Repeat("y", 500) + `"}`, "rejected", "…"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(tt.status)
				_, _ = w.Write([]byte(tt.body))
			}))
			defer srv.Close()
			_, err := newClient(t, srv.URL).Validate(context.Background(), licensetest.KeyProfessional, "rookery")
			if got := errorClass(err); got != tt.class {
				t.Fatalf("class = %s, want %s", got, tt.class)
			}
			if !strings.Contains(err.Error(), tt.message) || len(err.Error()) > 400 {
				t.Errorf("error %.120q… (%d bytes) lacks %q or is too long", err.Error(), len(err.Error()), tt.message)
			}
		})
	}
}
