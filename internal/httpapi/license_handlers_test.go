package httpapi

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/rookery/rookery/license"
	"github.com/rookery/rookery/license/licensetest"
)

// licensedServer is a Server with only a licence manager, which has
// validated lic once against a fake licence server.
func licensedServer(t *testing.T, lic licensetest.Licence) *Server {
	t.Helper()
	srv := licensetest.NewServer(lic)
	t.Cleanup(srv.Close)
	m, err := license.New(
		license.Settings{Key: license.Key(lic.Key), ServerURL: srv.URL, Product: licensetest.Product, ReleaseMode: true},
		license.Options{Logger: slog.New(slog.DiscardHandler), FeatureTiers: license.StandardCatalogue()},
	)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Refresh(t.Context()); err != nil {
		t.Fatal(err)
	}
	return &Server{license: m, log: slog.New(slog.NewTextHandler(io.Discard, nil))}
}

// TestFeatureGateAsksLicense: the route gate is the licence package's
// middleware, so a tier grant opens it and a denial is the licence's body.
func TestFeatureGateAsksLicense(t *testing.T) {
	bare := licensetest.Professional(licensetest.KeyProfessional)
	bare.Features = nil // only the tier can grant anything
	pro := licensedServer(t, bare)
	community := licensedServer(t, licensetest.Community(licensetest.KeyCommunity))
	ok := func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) }

	tests := []struct {
		name    string
		s       *Server
		feature string
		want    int
	}{
		{name: "professional by tier", s: pro, feature: "audit_logs", want: http.StatusNoContent},
		{name: "professional by tier, qualified", s: pro, feature: "rookery.api_keys", want: http.StatusNoContent},
		{name: "enterprise feature on professional", s: pro, feature: "custom_saml", want: http.StatusForbidden},
		{name: "professional feature on community", s: community, feature: "audit_logs", want: http.StatusForbidden},
		{name: "community feature", s: community, feature: "basic_auth", want: http.StatusNoContent},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			tt.s.feature(tt.feature, ok)(rec, httptest.NewRequest("GET", "/api/v1/audit", nil))
			if rec.Code != tt.want {
				t.Fatalf("%s -> %d %s, want %d", tt.feature, rec.Code, rec.Body, tt.want)
			}
			if tt.want != http.StatusForbidden {
				return
			}
			var body map[string]string
			if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
				t.Fatalf("403 body is not JSON: %s", rec.Body)
			}
			if body["error"] != "feature_not_entitled" || body["feature"] != tt.feature || body["message"] == "" {
				t.Errorf("403 body = %v", body)
			}
		})
	}
}

// TestFailAnswersLimitError: the user limit refusal, however wrapped, is
// answered by the one error mapper with 403 and the limit's fields.
func TestFailAnswersLimitError(t *testing.T) {
	s := licensedServer(t, licensetest.Community(licensetest.KeyCommunity))
	limitErr := s.license.CheckUserLimit(t.Context(), 5)
	if limitErr == nil {
		t.Fatal("a sixth user on community was allowed")
	}
	rec := httptest.NewRecorder()
	s.fail(rec, httptest.NewRequest("POST", "/api/v1/users", nil), fmt.Errorf("create user: %w", limitErr))
	if rec.Code != http.StatusForbidden {
		t.Fatalf("status = %d %s, want 403", rec.Code, rec.Body)
	}
	var body map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
		t.Fatalf("body is not JSON: %s", rec.Body)
	}
	want := map[string]any{
		"error":     "user limit reached: the community licence allows at most 5 users (limits.max_users); remove a user or upgrade the licence",
		"limit":     "max_users",
		"max_users": float64(5),
	}
	if len(body) != len(want) {
		t.Errorf("body = %v, want exactly %v", body, want)
	}
	for k, v := range want {
		if body[k] != v {
			t.Errorf("%s = %v, want %v", k, body[k], v)
		}
	}
}
