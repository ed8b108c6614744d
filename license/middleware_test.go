package license_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/rookery/rookery/license"
	"github.com/rookery/rookery/license/licensetest"
)

var okHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write([]byte("through"))
})

func serve(h http.Handler) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/x", nil))
	return rec
}

func decodeDenial(t *testing.T, rec *httptest.ResponseRecorder) map[string]any {
	t.Helper()
	if rec.Code != http.StatusForbidden {
		t.Fatalf("status = %d, want 403", rec.Code)
	}
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q", ct)
	}
	var body map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
		t.Fatalf("403 body is not JSON: %v", err)
	}
	return body
}

func TestRequireFeature(t *testing.T) {
	e := newEnv(t, licensetest.KeyProfessional, licensetest.KeyCommunity)
	m := e.started(e.settings(licensetest.KeyProfessional, true), func(o *license.Options) {
		o.FeatureTiers = map[string]license.Tier{"reports": license.Enterprise}
	})

	tests := []struct {
		feature      string
		allowed      bool
		requiredTier string // "" when the tier is unknown
	}{
		{"audit_logs", true, ""},
		{"rookery.audit_logs", true, ""},
		{"custom_saml", false, "enterprise"},         // from the server's feature metadata
		{"rookery.custom_saml", false, "enterprise"}, // qualified form
		{"reports", false, "enterprise"},             // from Options.FeatureTiers
		{"mystery", false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.feature, func(t *testing.T) {
			rec := serve(m.RequireFeature(tt.feature)(okHandler))
			if tt.allowed {
				if rec.Code != http.StatusOK || rec.Body.String() != "through" {
					t.Fatalf("allowed request answered %d %q", rec.Code, rec.Body.String())
				}
				return
			}
			body := decodeDenial(t, rec)
			if body["error"] != "feature_not_entitled" || body["feature"] != tt.feature {
				t.Errorf("body = %v", body)
			}
			msg, _ := body["message"].(string)
			if !strings.Contains(msg, `"`+tt.feature+`"`) {
				t.Errorf("message %q does not name the feature", msg)
			}
			if tt.requiredTier != "" {
				if body["required_tier"] != tt.requiredTier || !strings.Contains(msg, "Enterprise tier") {
					t.Errorf("message %q / required_tier %v do not name the %s tier", msg, body["required_tier"], tt.requiredTier)
				}
			} else if _, ok := body["required_tier"]; ok {
				t.Errorf("required_tier given for a feature of unknown tier: %v", body)
			}
			if strings.Contains(rec.Body.String(), licensetest.KeyProfessional) {
				t.Error("403 body carries the licence key")
			}
		})
	}

	// With no valid licence the message says so.
	e.srv.Fail(401)
	_ = m.Refresh(t.Context())
	body := decodeDenial(t, serve(m.RequireFeature("audit_logs")(okHandler)))
	if msg, _ := body["message"].(string); !strings.Contains(msg, "no valid licence") {
		t.Errorf("message = %q", msg)
	}
}

func TestRequireFeatureDevelopmentAllowsAll(t *testing.T) {
	e := newEnv(t, licensetest.KeyCommunity)
	m := e.started(e.settings(licensetest.KeyCommunity, false))
	if rec := serve(m.RequireFeature("custom_saml")(okHandler)); rec.Code != http.StatusOK {
		t.Fatalf("development mode denied a feature: %d", rec.Code)
	}
	if rec := serve(m.RequireTier(license.Enterprise)(okHandler)); rec.Code != http.StatusOK {
		t.Fatalf("development mode denied a tier: %d", rec.Code)
	}
}

func TestRequireFeatureCountsUse(t *testing.T) {
	e := newEnv(t, licensetest.KeyProfessional)
	m := e.started(e.settings(licensetest.KeyProfessional, true))
	allowed := m.RequireFeature("audit_logs")(okHandler)
	denied := m.RequireFeature("custom_saml")(okHandler)
	for range 3 {
		serve(allowed)
		serve(denied)
	}
	if err := m.SendKeepalive(t.Context()); err != nil {
		t.Fatal(err)
	}
	stats, _ := e.srv.RequestsTo(license.PathKeepalive)[0].Body["usage_stats"].(map[string]any)
	fu, _ := stats["feature_usage"].(map[string]any)
	if count(fu, "audit_logs") != 3 || count(fu, "custom_saml") != 0 {
		t.Errorf("feature_usage = %v, want 3 audit_logs uses and no denied ones", fu)
	}
}

func TestRequireTier(t *testing.T) {
	e := newEnv(t, licensetest.KeyCommunity)
	m := e.started(e.settings(licensetest.KeyCommunity, true))
	if rec := serve(m.RequireTier(license.Community)(okHandler)); rec.Code != http.StatusOK {
		t.Errorf("community tier denied to a community licence: %d", rec.Code)
	}
	body := decodeDenial(t, serve(m.RequireTier(license.Professional)(okHandler)))
	if body["error"] != "tier_required" || body["tier"] != "professional" || body["current_tier"] != "community" {
		t.Errorf("body = %v", body)
	}
	if msg, _ := body["message"].(string); !strings.Contains(msg, "Professional tier") {
		t.Errorf("message = %q", msg)
	}
}

func TestDenyFeatureForManualChecks(t *testing.T) {
	e := newEnv(t, licensetest.KeyCommunity)
	m := e.started(e.settings(licensetest.KeyCommunity, true))
	rec := httptest.NewRecorder()
	if !m.HasFeature("ai_training") {
		m.DenyFeature(rec, "ai_training")
	}
	body := decodeDenial(t, rec)
	if body["feature"] != "ai_training" || body["required_tier"] != "enterprise" {
		t.Errorf("body = %v", body)
	}
}
