package license_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"sync"
	"testing"

	"github.com/rookery/rookery/license"
	"github.com/rookery/rookery/license/licensetest"
)

// policyManager returns a Manager that has validated lic (or, with lic nil,
// a key the server does not know) once, with no background loop.
func policyManager(t *testing.T, lic *licensetest.Licence, release bool, cat license.Catalogue) *license.Manager {
	t.Helper()
	key := licensetest.KeyUnknown
	var srv *licensetest.Server
	if lic != nil {
		key = lic.Key
		srv = licensetest.NewServer(*lic)
	} else {
		srv = licensetest.NewServer()
	}
	t.Cleanup(srv.Close)
	m, err := license.New(
		license.Settings{Key: license.Key(key), ServerURL: srv.URL, Product: licensetest.Product, ReleaseMode: release},
		license.Options{Logger: discardLogger(), FeatureTiers: cat},
	)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	// Refresh validates without starting the loop; an unknown or expired
	// key is an expected outcome here, not a test failure.
	_ = m.Refresh(t.Context())
	return m
}

// bare returns l with no features listed, as a server that states only the
// tier answers: whatever is granted then comes from the catalogue.
func bare(l licensetest.Licence) *licensetest.Licence {
	l.Features = nil
	return &l
}

func ptr(l licensetest.Licence) *licensetest.Licence { return &l }

func TestStandardCatalogueGrants(t *testing.T) {
	c := license.StandardCatalogue()
	tests := []struct {
		tier    license.Tier
		feature string
		want    bool
	}{
		{license.Community, "basic_auth", true},
		{license.Community, "multiple_teams", false},
		{license.Community, "api_keys", false},
		{license.Community, "audit_logs", false},
		{license.Community, "ai_analysis", false},
		{license.Professional, "basic_auth", true},
		{license.Professional, "sso_integration", true},
		{license.Professional, "multiple_teams", true},
		{license.Professional, "api_keys", true},
		{license.Professional, "audit_logs", true},
		{license.Professional, "ai_analysis", true},
		{license.Professional, "ai_generation", true},
		{license.Professional, "custom_saml", false},
		{license.Professional, "ai_training", false},
		{license.Enterprise, "custom_saml", true},
		{license.Enterprise, "advanced_analytics", true},
		{license.Enterprise, "priority_support", true},
		{license.Enterprise, "ai_training", true},
		{license.Enterprise, "ai_custom_models", true},
		{license.Enterprise, "mystery", false}, // not catalogued: never by tier
		{license.Enterprise, "", false},
	}
	for _, tt := range tests {
		if got := c.Grants(tt.tier, tt.feature); got != tt.want {
			t.Errorf("%s grants %q = %v, want %v", tt.tier, tt.feature, got, tt.want)
		}
	}
	if n := len(c.Features()); n != 12 {
		t.Errorf("the standards name 12 features, the catalogue has %d", n)
	}
	if !slices.IsSorted(c.Features()) {
		t.Errorf("Features not in order: %v", c.Features())
	}
	// Each call is a fresh map: an application adding to its copy must not
	// change what another caller gets.
	c["reports"] = license.Community
	delete(c, "audit_logs")
	again := license.StandardCatalogue()
	if _, ok := again["reports"]; ok || again["audit_logs"] != license.Professional {
		t.Errorf("StandardCatalogue shares its map: %v", again)
	}
}

func TestHasFeatureGrantsByTier(t *testing.T) {
	std := license.StandardCatalogue()
	withReports := license.StandardCatalogue()
	withReports["reports"] = license.Professional

	community := licensetest.Community(licensetest.KeyCommunity)
	communityReports := licensetest.Community(licensetest.KeyCommunity)
	communityReports.Features = []licensetest.Feature{{Name: "reports", Entitled: true}}

	tests := []struct {
		name    string
		lic     *licensetest.Licence // nil: the key is unknown to the server
		release bool
		cat     license.Catalogue
		feature string
		want    bool
	}{
		// Professional licence whose server lists no features: the tier decides.
		{"pro by tier", bare(licensetest.Professional(licensetest.KeyProfessional)), true, std, "audit_logs", true},
		{"pro by tier, qualified", bare(licensetest.Professional(licensetest.KeyProfessional)), true, std, "rookery.audit_logs", true},
		{"pro by tier, other product", bare(licensetest.Professional(licensetest.KeyProfessional)), true, std, "other.audit_logs", false},
		{"pro by tier, community feature", bare(licensetest.Professional(licensetest.KeyProfessional)), true, std, "basic_auth", true},
		{"pro by tier, enterprise feature", bare(licensetest.Professional(licensetest.KeyProfessional)), true, std, "custom_saml", false},
		{"pro by tier, unknown feature", bare(licensetest.Professional(licensetest.KeyProfessional)), true, std, "mystery", false},
		{"pro without catalogue", bare(licensetest.Professional(licensetest.KeyProfessional)), true, nil, "audit_logs", false},
		{"pro, application feature", bare(licensetest.Professional(licensetest.KeyProfessional)), true, withReports, "reports", true},
		{"enterprise by tier", bare(licensetest.Enterprise(licensetest.KeyEnterprise)), true, std, "ai_custom_models", true},
		// Community: the listed features and the community tier only.
		{"community, professional feature", ptr(community), true, std, "multiple_teams", false},
		{"community, basic auth", ptr(community), true, std, "basic_auth", true},
		{"community, application feature by tier", ptr(community), true, withReports, "reports", false},
		{"community, application feature listed", ptr(communityReports), true, withReports, "reports", true},
		// No valid licence leaves the free tier.
		{"unknown key, professional feature", nil, true, std, "audit_logs", false},
		{"unknown key, basic auth", nil, true, std, "basic_auth", true},
		{"expired, professional feature", ptr(licensetest.Expired(licensetest.KeyExpired)), true, std, "audit_logs", false},
		{"expired, basic auth", ptr(licensetest.Expired(licensetest.KeyExpired)), true, std, "basic_auth", true},
		// Development mode enables everything.
		{"development", nil, false, std, "ai_custom_models", true},
		{"development, unknown feature", nil, false, nil, "mystery", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := policyManager(t, tt.lic, tt.release, tt.cat)
			if got := m.HasFeature(tt.feature); got != tt.want {
				t.Errorf("HasFeature(%q) = %v, want %v (tier %s, status %+v)", tt.feature, got, tt.want, m.Tier(), m.Status())
			}
			// The middleware and HasFeature are one policy.
			rec := serve(m.RequireFeature(tt.feature)(okHandler))
			if through := rec.Code == http.StatusOK; through != tt.want {
				t.Errorf("RequireFeature(%q) answered %d, want through=%v", tt.feature, rec.Code, tt.want)
			}
		})
	}
}

func TestRequireFeatureDenialNamesTier(t *testing.T) {
	m := policyManager(t, bare(licensetest.Professional(licensetest.KeyProfessional)), true, license.StandardCatalogue())
	body := decodeDenial(t, serve(m.RequireFeature("custom_saml")(okHandler)))
	if body["error"] != "feature_not_entitled" || body["feature"] != "custom_saml" || body["required_tier"] != "enterprise" || body["message"] == "" {
		t.Errorf("denial = %v", body)
	}
}

func TestMaxUsers(t *testing.T) {
	noLimits := func(l licensetest.Licence) *licensetest.Licence {
		l.Limits = map[string]int64{"max_servers": 1}
		return &l
	}
	withUsers := func(l licensetest.Licence, n int64) *licensetest.Licence {
		l.Limits = map[string]int64{"max_users": n}
		return &l
	}
	tests := []struct {
		name    string
		lic     *licensetest.Licence
		release bool
		want    int64
	}{
		{"community states 5", ptr(licensetest.Community(licensetest.KeyCommunity)), true, 5},
		{"community states 3", withUsers(licensetest.Community(licensetest.KeyCommunity), 3), true, 3},
		{"community states none", noLimits(licensetest.Community(licensetest.KeyCommunity)), true, license.CommunityMaxUsers},
		{"community states unlimited", withUsers(licensetest.Community(licensetest.KeyCommunity), -1), true, license.Unlimited},
		{"professional states 25", ptr(licensetest.Professional(licensetest.KeyProfessional)), true, 25},
		{"professional states none", noLimits(licensetest.Professional(licensetest.KeyProfessional)), true, license.Unlimited},
		{"enterprise unlimited", ptr(licensetest.Enterprise(licensetest.KeyEnterprise)), true, license.Unlimited},
		{"no valid licence", nil, true, license.CommunityMaxUsers},
		{"expired professional", ptr(licensetest.Expired(licensetest.KeyExpired)), true, license.CommunityMaxUsers},
		{"development", ptr(licensetest.Community(licensetest.KeyCommunity)), false, license.Unlimited},
		{"development without licence", nil, false, license.Unlimited},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := policyManager(t, tt.lic, tt.release, license.StandardCatalogue())
			if got := m.MaxUsers(); got != tt.want {
				t.Errorf("MaxUsers = %d, want %d", got, tt.want)
			}
		})
	}
}

func TestCheckUserLimit(t *testing.T) {
	community := policyManager(t, ptr(licensetest.Community(licensetest.KeyCommunity)), true, license.StandardCatalogue())
	pro := policyManager(t, ptr(licensetest.Professional(licensetest.KeyProfessional)), true, license.StandardCatalogue())
	ent := policyManager(t, ptr(licensetest.Enterprise(licensetest.KeyEnterprise)), true, license.StandardCatalogue())
	tests := []struct {
		name    string
		m       *license.Manager
		active  int
		refused bool
		tier    license.Tier
		max     int64
	}{
		{"community, room for the fifth", community, 4, false, 0, 0},
		{"community, a sixth", community, 5, true, license.Community, 5},
		{"community, far beyond", community, 40, true, license.Community, 5},
		{"community, none yet", community, 0, false, 0, 0},
		{"professional, 25th", pro, 24, false, 0, 0},
		{"professional, 26th", pro, 25, true, license.Professional, 25},
		{"enterprise, unlimited", ent, 100000, false, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.m.CheckUserLimit(context.Background(), tt.active)
			if !tt.refused {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			// Wrapped as a users service would: the type must still be found.
			var le *license.LimitError
			if !errors.As(fmt.Errorf("create user: %w", err), &le) {
				t.Fatalf("err = %v (%T), want a *license.LimitError", err, err)
			}
			if le.Limit != "max_users" || le.Max != tt.max || le.Tier != tt.tier {
				t.Errorf("LimitError = %+v, want max_users %d %s", *le, tt.max, tt.tier)
			}
			want := fmt.Sprintf("user limit reached: the %s licence allows at most %d users (limits.max_users); remove a user or upgrade the licence", tt.tier, tt.max)
			if err.Error() != want {
				t.Errorf("message = %q, want %q", err.Error(), want)
			}
		})
	}
}

func TestEntitlements(t *testing.T) {
	cat := license.StandardCatalogue()
	cat["reports"] = license.Enterprise
	m := policyManager(t, bare(licensetest.Professional(licensetest.KeyProfessional)), true, cat)
	got := m.Entitlements()
	if !slices.Equal(slices.Sorted(maps.Keys(got)), cat.Features()) {
		t.Fatalf("Entitlements names %v, want the catalogue %v", slices.Sorted(maps.Keys(got)), cat.Features())
	}
	for name, granted := range got {
		if want := cat.Grants(license.Professional, name); granted != want {
			t.Errorf("%s = %v, want %v", name, granted, want)
		}
	}
	dev := policyManager(t, nil, false, cat)
	for name, granted := range dev.Entitlements() {
		if !granted {
			t.Errorf("development mode: %s not granted", name)
		}
	}
}

// TestLimitAndTierFromOneLicence checks, with many readers while the licence
// flips between community (5 users) and professional (25 users), that a
// refusal never pairs the limit of one licence with the tier of the other.
func TestLimitAndTierFromOneLicence(t *testing.T) {
	srv := licensetest.NewServer(licensetest.Community(licensetest.KeyCommunity), licensetest.Professional(licensetest.KeyProfessional))
	t.Cleanup(srv.Close)
	settings := func(k license.Key) license.Settings {
		return license.Settings{Key: k, ServerURL: srv.URL, Product: licensetest.Product, ReleaseMode: true}
	}
	m, err := license.New(settings(licensetest.KeyCommunity), license.Options{Logger: discardLogger(), FeatureTiers: license.StandardCatalogue()})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Refresh(t.Context()); err != nil {
		t.Fatal(err)
	}

	// One goroutine flips the licence 10 times while 8 readers check.
	stop := make(chan struct{})
	var flips sync.WaitGroup
	flips.Go(func() {
		defer close(stop)
		keys := []license.Key{licensetest.KeyProfessional, licensetest.KeyCommunity}
		for i := range 10 {
			if err := m.Reconfigure(context.Background(), settings(keys[i%2])); err != nil {
				t.Errorf("Reconfigure: %v", err)
				return
			}
		}
	})
	var (
		readers sync.WaitGroup
		mu      sync.Mutex
		seen    = map[license.Tier]bool{}
	)
	for range 8 {
		readers.Go(func() {
			local := map[license.Tier]bool{}
			defer func() {
				mu.Lock()
				maps.Copy(seen, local)
				mu.Unlock()
			}()
			for {
				select {
				case <-stop:
					return
				default:
				}
				err := m.CheckUserLimit(context.Background(), 30)
				var le *license.LimitError
				if !errors.As(err, &le) {
					t.Errorf("30 active users allowed: %v", err)
					return
				}
				if !(le.Tier == license.Community && le.Max == 5) && !(le.Tier == license.Professional && le.Max == 25) {
					t.Errorf("refusal mixes two licences: %+v", *le)
					return
				}
				local[le.Tier] = true
			}
		})
	}
	flips.Wait()
	readers.Wait()
	if !seen[license.Community] || !seen[license.Professional] {
		t.Errorf("the readers did not see both licences: %v", seen)
	}
}

func TestImplementedAreCatalogued(t *testing.T) {
	c := license.StandardCatalogue()
	impl := license.Implemented()
	if !slices.IsSorted(impl) {
		t.Errorf("not sorted: %v", impl)
	}
	for _, f := range impl {
		if _, ok := c[f]; !ok {
			t.Errorf("%s is implemented but not in the catalogue", f)
		}
	}
}
