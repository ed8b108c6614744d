package license

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestValidationDecodesContractExample(t *testing.T) {
	const body = `{"customer":"Acme","product":"rookery","license_version":"2.0","license_key":"PENG-AB12-CD34-EF56-GH78-WXYZ",
	 "expires_at":"2027-01-01T00:00:00Z","issued_at":"2026-01-01T00:00:00Z","tier":"professional",
	 "features":[{"name":"sso_integration","entitled":true,"units":0,"description":"SSO","metadata":{}},
	             {"name":"custom_saml","entitled":false}],
	 "limits":{"max_servers":-1,"max_users":25,"data_retention_days":0},
	 "metadata":{"server_id":"srv_8f7d6e5c4b3a2918","support_tier":"email","custom_fields":{}},
	 "brand_new_field":{"nested":[1,2,3]}}`
	var v Validation
	if err := json.Unmarshal([]byte(body), &v); err != nil {
		t.Fatal(err)
	}
	if v.Customer != "Acme" || v.Product != "rookery" || v.Tier != Professional || v.LicenseVersion != "2.0" {
		t.Errorf("header fields = %+v", v)
	}
	if v.Valid != nil {
		t.Errorf("Valid = %v, want nil when the server does not send it", *v.Valid)
	}
	if want := time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC); !v.ExpiresAt.Equal(want) {
		t.Errorf("ExpiresAt = %v, want %v", v.ExpiresAt, want)
	}
	if len(v.Features) != 2 {
		t.Fatalf("features = %+v", v.Features)
	}
	if f := v.Features[0]; f.Name != "sso_integration" || !f.Entitled || f.Units != 0 {
		t.Errorf("feature 0 = %+v, want entitled with units 0", f)
	}
	if f := v.Features[1]; f.Entitled || f.Units != -1 {
		t.Errorf("feature 1 = %+v, want not entitled with units -1 (missing)", f)
	}
	if n, ok := v.Limits.Get("max_users"); !ok || n != 25 {
		t.Errorf("max_users = %d, %v", n, ok)
	}
	if n, _ := v.Limits.Get("max_servers"); n != Unlimited {
		t.Errorf("max_servers = %d, want -1", n)
	}
	if v.Metadata.ServerID != "srv_8f7d6e5c4b3a2918" {
		t.Errorf("server_id = %q", v.Metadata.ServerID)
	}
	out, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(out), "PENG-") {
		t.Errorf("re-encoded validation carries the echoed licence key: %s", out)
	}
}

func TestValidationTolerance(t *testing.T) {
	tests := []struct {
		name  string
		body  string
		check func(t *testing.T, v Validation)
	}{
		{"features as strings (standards' shape)", `{"tier":"pro","features":["audit_logs"]}`, func(t *testing.T, v Validation) {
			if len(v.Features) != 1 || !v.Features[0].Entitled || v.Features[0].Units != -1 {
				t.Errorf("features = %+v", v.Features)
			}
		}},
		{"python isoformat without zone", `{"expires_at":"2027-03-04T05:06:07.123456"}`, func(t *testing.T, v Validation) {
			if want := time.Date(2027, 3, 4, 5, 6, 7, 123456000, time.UTC); !v.ExpiresAt.Equal(want) {
				t.Errorf("ExpiresAt = %v", v.ExpiresAt)
			}
		}},
		{"date only", `{"expires_at":"2027-03-04"}`, func(t *testing.T, v Validation) {
			if v.ExpiresAt.Year() != 2027 || v.ExpiresAt.Day() != 4 {
				t.Errorf("ExpiresAt = %v", v.ExpiresAt)
			}
		}},
		{"null times and limits", `{"expires_at":null,"issued_at":"","limits":null}`, func(t *testing.T, v Validation) {
			if !v.ExpiresAt.IsZero() || !v.IssuedAt.IsZero() || v.Limits.Len() != 0 {
				t.Errorf("got %+v", v)
			}
		}},
		{"non-numeric limit skipped", `{"limits":{"max_users":"lots","max_teams":3.0}}`, func(t *testing.T, v Validation) {
			if _, ok := v.Limits.Get("max_users"); ok {
				t.Error("non-numeric limit kept")
			}
			if n, _ := v.Limits.Get("max_teams"); n != 3 {
				t.Errorf("max_teams = %d", n)
			}
		}},
		{"valid false with message", `{"valid":false,"message":"suspended"}`, func(t *testing.T, v Validation) {
			if v.Valid == nil || *v.Valid || v.Message != "suspended" {
				t.Errorf("valid = %v, message = %q", v.Valid, v.Message)
			}
		}},
		{"unknown tier", `{"tier":"diamond"}`, func(t *testing.T, v Validation) {
			if v.Tier != Community {
				t.Errorf("tier = %v", v.Tier)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var v Validation
			if err := json.Unmarshal([]byte(tt.body), &v); err != nil {
				t.Fatal(err)
			}
			tt.check(t, v)
		})
	}
}

func TestValidationRejectsUnreadableTime(t *testing.T) {
	var v Validation
	err := json.Unmarshal([]byte(`{"expires_at":"next tuesday"}`), &v)
	if err == nil || !strings.Contains(err.Error(), "expires_at") {
		t.Fatalf("err = %v, want an expires_at error", err)
	}
}

func TestLimitsAllows(t *testing.T) {
	l := NewLimits(map[string]int64{"max_users": 25, "max_servers": -1, "max_teams": 0})
	tests := []struct {
		name string
		n    int64
		want bool
	}{
		{"max_users", 25, true},
		{"max_users", 26, false},
		{"max_servers", 1 << 40, true},
		{"max_teams", 1, false},
		{"max_teams", 0, true},
		{"not_stated", 1000, true},
	}
	for _, tt := range tests {
		if got := l.Allows(tt.name, tt.n); got != tt.want {
			t.Errorf("Allows(%s, %d) = %v, want %v", tt.name, tt.n, got, tt.want)
		}
	}
	all := l.All()
	all["max_users"] = 1
	if n, _ := l.Get("max_users"); n != 25 {
		t.Error("All returned the internal map")
	}
	if got := strings.Join(l.Names(), ","); got != "max_servers,max_teams,max_users" {
		t.Errorf("Names = %s", got)
	}
}

func TestSnapshotFeatureForms(t *testing.T) {
	features := []Feature{
		{Name: "audit_logs", Entitled: true},
		{Name: "rookery.sso_integration", Entitled: true},
		{Name: "Rookery.api_keys", Entitled: true},
		{Name: "other.reports", Entitled: true},
		{Name: "custom_saml", Entitled: false},
		{Name: "rookery.custom_saml", Entitled: false},
		{Name: "multiple_teams", Entitled: false},
		{Name: "rookery.multiple_teams", Entitled: true},
	}
	set := grantedSet(features, nil, Community, "rookery")
	tests := []struct {
		name string
		want bool
	}{
		{"audit_logs", true},
		{"rookery.audit_logs", true},
		{"sso_integration", true},
		{"rookery.sso_integration", true},
		{"api_keys", true},
		{"rookery.api_keys", true},
		{"other.reports", true},
		{"reports", false},
		{"custom_saml", false},
		{"rookery.custom_saml", false},
		{"multiple_teams", true}, // either form entitled counts
		{"other.audit_logs", false},
		{"", false},
	}
	for _, tt := range tests {
		if got := set.has(tt.name); got != tt.want {
			t.Errorf("entitled %q = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestFeatureTiers(t *testing.T) {
	r := &Validation{Features: []Feature{
		{Name: "custom_saml", Metadata: map[string]any{"tier": "enterprise"}},
		{Name: "rookery.ai_analysis", Metadata: map[string]any{"required_tier": "pro"}},
		{Name: "odd", Metadata: map[string]any{"tier": 3}},
	}}
	got := featureTiers(map[string]Tier{"custom_saml": Professional, "reports": Professional}, r, "rookery")
	tests := map[string]Tier{
		"custom_saml":         Enterprise, // the server wins over the declaration
		"rookery.custom_saml": Enterprise,
		"ai_analysis":         Professional,
		"reports":             Professional,
		"rookery.reports":     Professional,
	}
	for name, want := range tests {
		if got[name] != want {
			t.Errorf("tier of %q = %v, want %v", name, got[name], want)
		}
	}
	if _, ok := got["odd"]; ok {
		t.Error("a non-string tier was taken")
	}
}
