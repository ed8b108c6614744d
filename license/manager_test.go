package license_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rookery/rookery/license"
	"github.com/rookery/rookery/license/licensetest"
)

// TestErrorHandling covers the error handling list of the integration
// standards, for both values of RELEASE_MODE:
//
//   - validation fails: exit with an error (release) / warn and continue (dev)
//   - network error: use the previous (cached) result
//   - feature not entitled: 403 (covered in middleware_test.go) and
//     HasFeature false in release mode
func TestErrorHandling(t *testing.T) {
	type want struct {
		startErr   string // substring of Start's error; "" means success
		source     license.Source
		valid      bool
		features   map[string]bool
		tier       license.Tier
		lastErr    string
		noRequests bool
	}
	tests := []struct {
		name      string
		key       license.Key
		release   bool
		warmCache bool // run a good validation first, then restart
		breakIt   func(*licensetest.Server)
		want      want
	}{
		{
			name: "release, valid professional", key: licensetest.KeyProfessional, release: true,
			want: want{source: license.SourceLive, valid: true, tier: license.Professional,
				features: map[string]bool{"audit_logs": true, "rookery.audit_logs": true, "custom_saml": false}},
		},
		{
			name: "release, validation fails (401)", key: licensetest.KeyProfessional, release: true,
			breakIt: func(s *licensetest.Server) { s.Fail(401) },
			want: want{startErr: "HTTP 401", source: license.SourceNone, tier: license.Community,
				features: map[string]bool{"audit_logs": false}, lastErr: "rejected"},
		},
		{
			name: "release, validation fails (403) despite a cache", key: licensetest.KeyProfessional, release: true, warmCache: true,
			breakIt: func(s *licensetest.Server) { s.Fail(403) },
			want: want{startErr: "HTTP 403", source: license.SourceNone, tier: license.Community,
				features: map[string]bool{"audit_logs": false}},
		},
		{
			name: "release, unknown key", key: licensetest.KeyUnknown, release: true,
			want: want{startErr: "Invalid license key", source: license.SourceNone, features: map[string]bool{"basic_auth": false}},
		},
		{
			name: "release, malformed key", key: "PENG-1234", release: true,
			want: want{startErr: "PENG-XXXX-XXXX-XXXX-XXXX-XXXX", source: license.SourceNone, noRequests: true},
		},
		{
			name: "release, no key", key: "", release: true,
			want: want{startErr: "LICENSE_KEY is required when RELEASE_MODE=true", source: license.SourceNone, noRequests: true},
		},
		{
			name: "release, expired", key: licensetest.KeyExpired, release: true,
			want: want{startErr: "expired", source: license.SourceLive, valid: false, tier: license.Community,
				features: map[string]bool{"audit_logs": false}},
		},
		{
			name: "release, network error, no cache", key: licensetest.KeyProfessional, release: true,
			breakIt: func(s *licensetest.Server) { s.Fail(503) },
			want:    want{startErr: "no cached result", source: license.SourceNone, features: map[string]bool{"audit_logs": false}},
		},
		{
			name: "release, network error, cache", key: licensetest.KeyProfessional, release: true, warmCache: true,
			breakIt: func(s *licensetest.Server) { s.Close() },
			want: want{source: license.SourceCached, valid: true, tier: license.Professional, lastErr: "unavailable",
				features: map[string]bool{"audit_logs": true, "custom_saml": false}},
		},
		{
			name: "dev, valid professional", key: licensetest.KeyProfessional,
			want: want{source: license.SourceDevelopment, valid: true, tier: license.Enterprise,
				features: map[string]bool{"audit_logs": true, "custom_saml": true, "anything": true}},
		},
		{
			name: "dev, validation fails", key: licensetest.KeyProfessional,
			breakIt: func(s *licensetest.Server) { s.Fail(401) },
			want: want{source: license.SourceDevelopment, valid: false, tier: license.Enterprise, lastErr: "HTTP 401",
				features: map[string]bool{"audit_logs": true, "custom_saml": true}},
		},
		{
			name: "dev, network error", key: licensetest.KeyProfessional,
			breakIt: func(s *licensetest.Server) { s.HangUp(true) },
			want: want{source: license.SourceDevelopment, valid: false, tier: license.Enterprise, lastErr: "unavailable",
				features: map[string]bool{"audit_logs": true}},
		},
		{
			name: "dev, no key", key: "",
			want: want{source: license.SourceDevelopment, tier: license.Enterprise, noRequests: true,
				features: map[string]bool{"sso_integration": true}},
		},
		{
			name: "dev, expired", key: licensetest.KeyExpired,
			want: want{source: license.SourceDevelopment, valid: false, tier: license.Enterprise, lastErr: "expired",
				features: map[string]bool{"custom_saml": true}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, licensetest.KeyProfessional, licensetest.KeyExpired)
			s := e.settings(tt.key, tt.release)
			if tt.warmCache {
				first := e.started(s)
				if err := first.Shutdown(context.Background()); err != nil {
					t.Fatal(err)
				}
				e.clock.Advance(30 * time.Minute)
			}
			if tt.breakIt != nil {
				tt.breakIt(e.srv)
			}
			e.srv.ResetRequests()
			before := settledLoops(0)
			m := e.manager(s)
			err := m.Start(context.Background())

			if tt.want.startErr == "" {
				if err != nil {
					t.Fatalf("Start = %v, want success", err)
				}
			} else {
				if err == nil || !strings.Contains(err.Error(), tt.want.startErr) {
					t.Fatalf("Start = %v, want an error containing %q", err, tt.want.startErr)
				}
				if strings.Contains(err.Error(), "\n") {
					t.Errorf("Start's error spans several lines: %q", err)
				}
				if settledLoops(before) != before || e.clock.Tickers() != 0 {
					t.Error("a failed Start left the background loop running")
				}
			}
			st := m.Status()
			if st.Source != tt.want.source || st.Valid != tt.want.valid {
				t.Errorf("source, valid = %s, %v; want %s, %v", st.Source, st.Valid, tt.want.source, tt.want.valid)
			}
			if got := m.Tier(); got != tt.want.tier {
				t.Errorf("Tier() = %v, want %v", got, tt.want.tier)
			}
			for name, want := range tt.want.features {
				if got := m.HasFeature(name); got != want {
					t.Errorf("HasFeature(%q) = %v, want %v", name, got, want)
				}
			}
			if !strings.Contains(st.LastError, tt.want.lastErr) {
				t.Errorf("LastError = %q, want it to contain %q", st.LastError, tt.want.lastErr)
			}
			if tt.want.lastErr == "" && tt.want.startErr == "" && st.LastError != "" {
				t.Errorf("LastError = %q, want none", st.LastError)
			}
			if tt.want.noRequests && len(e.srv.Requests()) != 0 {
				t.Errorf("%d requests were sent; want none", len(e.srv.Requests()))
			}
			if !tt.release && tt.want.lastErr != "" && !strings.Contains(e.logs.String(), "RELEASE_MODE=false") {
				t.Error("development mode did not log a warning about the failed validation")
			}
		})
	}
}

func TestStartErrorNamesKeyRequiredExactly(t *testing.T) {
	e := newEnv(t)
	m := e.manager(e.settings("", true))
	err := m.Start(context.Background())
	if err == nil || err.Error() != "LICENSE_KEY is required when RELEASE_MODE=true" || !errors.Is(err, license.ErrKeyRequired) {
		t.Fatalf("Start = %v", err)
	}
}

func TestStatusReportsServerViewInDevelopment(t *testing.T) {
	e := newEnv(t, licensetest.KeyProfessional)
	m := e.started(e.settings(licensetest.KeyProfessional, false))
	st := m.Status()
	if st.Tier != license.Professional || st.Customer != "Acme Corp" || st.ServerID == "" || st.ExpiresAt.IsZero() {
		t.Errorf("status = %+v, want the server's professional licence", st)
	}
	if m.Tier() != license.Enterprise || !m.AtLeast(license.Enterprise) || !m.HasFeature("custom_saml") {
		t.Error("development mode must allow everything")
	}
	if m.Limits().Len() != 0 || !m.Limits().Allows("max_users", 1_000_000) {
		t.Error("development mode must not impose limits")
	}
}

func TestReleaseModeGates(t *testing.T) {
	e := newEnv(t, licensetest.KeyProfessional)
	m := e.started(e.settings(licensetest.KeyProfessional, true))
	if !m.AtLeast(license.Community) || !m.AtLeast(license.Professional) || m.AtLeast(license.Enterprise) {
		t.Error("AtLeast does not follow the professional tier")
	}
	if !m.Limits().Allows("max_users", 25) || m.Limits().Allows("max_users", 26) || !m.Limits().Allows("max_servers", 1000) {
		t.Errorf("limits = %v", m.Limits().All())
	}
}

func TestQualifiedFeatureNamesFromServer(t *testing.T) {
	e := newEnv(t)
	e.srv.SetLicence(licensetest.Professional(licensetest.KeyProfessional).Qualified())
	m := e.started(e.settings(licensetest.KeyProfessional, true))
	for name, want := range map[string]bool{
		"audit_logs": true, "rookery.audit_logs": true, "custom_saml": false, "rookery.custom_saml": false,
	} {
		if got := m.HasFeature(name); got != want {
			t.Errorf("HasFeature(%q) = %v, want %v", name, got, want)
		}
	}
}

func TestValidFieldVariants(t *testing.T) {
	tests := []struct {
		name  string
		valid *bool
		msg   string
		want  bool
	}{
		{"absent", nil, "", true},
		{"true", licensetest.Bool(true), "", true},
		{"false with message", licensetest.Bool(false), "Licence suspended for non-payment", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			lic := licensetest.Professional(licensetest.KeyProfessional)
			lic.Valid, lic.Message = tt.valid, tt.msg
			lic.Extra = map[string]any{"grace_period_days": 14, "entitlements_v3": map[string]any{"x": []int{1}}}
			e.srv.SetLicence(lic)
			m := e.manager(e.settings(licensetest.KeyProfessional, true))
			err := m.Start(context.Background())
			if (err == nil) != tt.want || m.Status().Valid != tt.want {
				t.Fatalf("Start = %v, valid = %v; want valid %v", err, m.Status().Valid, tt.want)
			}
			if !tt.want && !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("error %q does not carry the server's message", err)
			}
		})
	}
}

func TestCacheSurvivesRestart(t *testing.T) {
	e := newEnv(t, licensetest.KeyProfessional)
	s := e.settings(licensetest.KeyProfessional, true)
	first := e.started(s)
	validatedAt := first.Status().LastValidated
	if err := first.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}

	info, err := os.Stat(e.cache)
	if err != nil {
		t.Fatalf("cache file not written: %v", err)
	}
	if perm := info.Mode().Perm(); perm != 0o600 {
		t.Errorf("cache file mode = %o, want 600", perm)
	}
	raw, err := os.ReadFile(e.cache)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(raw), licensetest.KeyProfessional) || strings.Contains(string(raw), "PR0F") {
		t.Fatal("the cache file contains the licence key")
	}
	sum := sha256.Sum256([]byte(licensetest.KeyProfessional))
	if !strings.Contains(string(raw), hex.EncodeToString(sum[:])) {
		t.Error("the cache file does not carry the key's SHA-256")
	}
	entries, _ := os.ReadDir(strings.TrimSuffix(e.cache, license.DefaultCacheFileName))
	if len(entries) != 1 {
		t.Errorf("cache directory holds %d entries; temporary files were left behind", len(entries))
	}

	// "Restart" during an outage: a new Manager on the same file.
	e.srv.Close()
	e.clock.Advance(6 * 24 * time.Hour)
	second := e.started(s)
	st := second.Status()
	if st.Source != license.SourceCached || !st.Valid || !second.HasFeature("audit_logs") {
		t.Fatalf("after restart: source %s valid %v", st.Source, st.Valid)
	}
	if !st.LastValidated.Equal(validatedAt) || st.ServerID == "" || st.Tier != license.Professional {
		t.Errorf("cached status = %+v", st)
	}
}

func TestCacheForAnotherKeyIsIgnored(t *testing.T) {
	e := newEnv(t, licensetest.KeyProfessional, licensetest.KeyEnterprise)
	first := e.started(e.settings(licensetest.KeyEnterprise, true))
	_ = first.Shutdown(context.Background())

	e.srv.Fail(500)
	m := e.manager(e.settings(licensetest.KeyProfessional, true))
	err := m.Start(context.Background())
	if !errors.Is(err, license.ErrUnavailable) || !strings.Contains(err.Error(), "no cached result") {
		t.Fatalf("Start = %v, want unavailable with no cached result", err)
	}
	if m.HasFeature("custom_saml") || m.Status().Source != license.SourceNone {
		t.Error("another key's cached enterprise licence was used")
	}
}

func TestCacheForAnotherProductIsIgnored(t *testing.T) {
	e := newEnv(t, licensetest.KeyProfessional)
	_ = e.started(e.settings(licensetest.KeyProfessional, true)).Shutdown(context.Background())
	e.srv.Fail(500)
	s := e.settings(licensetest.KeyProfessional, true)
	s.Product = "other-product"
	if err := e.manager(s).Start(context.Background()); err == nil {
		t.Fatal("a cache written for another product was used")
	}
}

func TestCacheAgeLimit(t *testing.T) {
	tests := []struct {
		name   string
		maxAge time.Duration // 0: default of 7 days
		after  time.Duration
		usable bool
	}{
		{"6 days, default limit", 0, 6 * 24 * time.Hour, true},
		{"just under 7 days", 0, 7*24*time.Hour - time.Minute, true},
		{"just over 7 days", 0, 7*24*time.Hour + time.Minute, false},
		{"custom 1h limit, 2h old", time.Hour, 2 * time.Hour, false},
		{"custom 1h limit, 30m old", time.Hour, 30 * time.Minute, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, licensetest.KeyProfessional)
			s := e.settings(licensetest.KeyProfessional, true)
			withAge := func(o *license.Options) { o.MaxCacheAge = tt.maxAge }
			_ = e.started(s, withAge).Shutdown(context.Background())
			e.srv.Fail(502)
			e.clock.Set(e.clock.Now().Add(tt.after))
			m := e.manager(s, withAge)
			err := m.Start(context.Background())
			if got := err == nil; got != tt.usable {
				t.Fatalf("Start = %v; want cache usable %v", err, tt.usable)
			}
			if !tt.usable && !strings.Contains(err.Error(), "older than") {
				t.Errorf("error %q does not say the cache is too old", err)
			}
		})
	}
}

func TestCacheNeverUsedPastExpiry(t *testing.T) {
	e := newEnv(t)
	lic := licensetest.Professional(licensetest.KeyProfessional)
	lic.ExpiresAt = e.clock.Now().Add(48 * time.Hour)
	e.srv.SetLicence(lic)
	s := e.settings(licensetest.KeyProfessional, true)
	_ = e.started(s).Shutdown(context.Background())

	e.srv.Close()
	e.clock.Set(e.clock.Now().Add(72 * time.Hour)) // well within 7 days, past expiry
	m := e.manager(s)
	err := m.Start(context.Background())
	if err == nil || !strings.Contains(err.Error(), "expired") {
		t.Fatalf("Start = %v, want the cached licence refused as expired", err)
	}
}

func TestRejectionDeletesCache(t *testing.T) {
	e := newEnv(t, licensetest.KeyProfessional)
	s := e.settings(licensetest.KeyProfessional, true)
	m := e.started(s)
	e.srv.RemoveLicence(licensetest.KeyProfessional)
	if err := m.Refresh(context.Background()); !errors.Is(err, license.ErrRejected) {
		t.Fatalf("Refresh = %v, want rejected", err)
	}
	if _, err := os.Stat(e.cache); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the cache of a rejected licence still exists (stat err %v)", err)
	}
	// Even a later outage cannot bring the revoked licence back.
	e.srv.Fail(500)
	if err := e.manager(s).Start(context.Background()); err == nil {
		t.Fatal("a revoked licence came back from the cache")
	}
}

func TestCorruptCacheIsIgnored(t *testing.T) {
	e := newEnv(t, licensetest.KeyProfessional)
	if err := os.WriteFile(e.cache, []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	e.srv.Fail(500)
	m := e.manager(e.settings(licensetest.KeyProfessional, false))
	if err := m.Start(context.Background()); err != nil {
		t.Fatalf("development Start = %v", err)
	}
	if !strings.Contains(e.logs.String(), "cache unreadable") {
		t.Error("a corrupt cache was not reported")
	}
	// A good validation replaces it.
	e.srv.Fail(0)
	if err := m.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	raw, _ := os.ReadFile(e.cache)
	if !json.Valid(raw) {
		t.Error("the cache was not rewritten")
	}
}

func TestBackgroundLoop(t *testing.T) {
	e := newEnv(t, licensetest.KeyProfessional)
	var usageCalls int
	var mu sync.Mutex
	m := e.started(e.settings(licensetest.KeyProfessional, true), func(o *license.Options) {
		o.Usage = func(ctx context.Context) (license.Usage, error) {
			mu.Lock()
			defer mu.Unlock()
			usageCalls++
			return license.Usage{ActiveUsers: 42, TeamCount: 8, StorageGB: 125}, nil
		}
	})
	serverID := m.Status().ServerID
	m.RecordFeatureUse("audit_logs")
	m.RecordFeatureUse("audit_logs")
	m.RecordFeatureUse("sso_integration")

	// Nothing is due before the hour.
	e.clock.Advance(59 * time.Minute)
	if n := len(e.srv.RequestsTo(license.PathKeepalive)); n != 0 {
		t.Fatalf("%d keepalives before the first hour", n)
	}

	e.clock.Advance(time.Minute)
	reqs, err := e.srv.WaitFor(waitCtx(t), license.PathKeepalive, 1)
	if err != nil {
		t.Fatalf("no keepalive after an hour: %v", err)
	}
	if n := len(e.srv.RequestsTo(license.PathValidate)); n != 2 {
		t.Errorf("%d validations, want 2 (start-up and hourly re-validation)", n)
	}
	k := reqs[0]
	if k.BearerKey() != licensetest.KeyProfessional {
		t.Error("keepalive without the key as Bearer token")
	}
	b := k.Body
	if b["server_id"] != serverID || b["product"] != "rookery" || b["hostname"] != "test-host" || b["version"] != "9.9.9" {
		t.Errorf("keepalive body = %v", b)
	}
	if b["uptime_seconds"] != float64(3600) {
		t.Errorf("uptime_seconds = %v, want 3600", b["uptime_seconds"])
	}
	usage, _ := b["usage"].(map[string]any)
	if usage["active_users"] != float64(42) || usage["team_count"] != float64(8) || usage["storage_gb"] != float64(125) {
		t.Errorf("usage = %v", usage)
	}
	stats, _ := b["usage_stats"].(map[string]any)
	fu, _ := stats["feature_usage"].(map[string]any)
	if count(fu, "audit_logs") != 2 || count(fu, "sso_integration") != 1 || stats["active_users"] != float64(42) {
		t.Errorf("usage_stats = %v", stats)
	}
	st := waitStatus(t, m, "the keepalive to be recorded", func(s license.Status) bool { return !s.LastKeepalive.IsZero() })
	if !st.LastKeepalive.Equal(e.clock.Now()) {
		t.Errorf("LastKeepalive = %v, want %v", st.LastKeepalive, e.clock.Now())
	}

	// The next hour reports only the uses since.
	m.RecordFeatureUse("audit_logs")
	e.clock.Advance(time.Hour)
	reqs, err = e.srv.WaitFor(waitCtx(t), license.PathKeepalive, 2)
	if err != nil {
		t.Fatal(err)
	}
	stats, _ = reqs[1].Body["usage_stats"].(map[string]any)
	fu, _ = stats["feature_usage"].(map[string]any)
	if count(fu, "audit_logs") != 1 || count(fu, "sso_integration") != 0 {
		t.Errorf("second feature_usage = %v, want only the new use", fu)
	}
	if reqs[1].Body["uptime_seconds"] != float64(7200) {
		t.Errorf("second uptime = %v", reqs[1].Body["uptime_seconds"])
	}
	mu.Lock()
	defer mu.Unlock()
	if usageCalls != 2 {
		t.Errorf("usage callback called %d times, want 2", usageCalls)
	}
}

func count(fu map[string]any, name string) float64 {
	entry, _ := fu[name].(map[string]any)
	n, _ := entry["usage_count"].(float64)
	return n
}

func TestBackgroundOutageKeepsLastGoodState(t *testing.T) {
	e := newEnv(t, licensetest.KeyProfessional)
	m := e.started(e.settings(licensetest.KeyProfessional, true))
	m.RecordFeatureUse("audit_logs")

	e.srv.Fail(500)
	e.clock.Advance(time.Hour)
	st := waitStatus(t, m, "the failed keepalive", func(s license.Status) bool {
		return strings.Contains(s.LastError, "keepalive")
	})
	if st.Source != license.SourceCached || !st.Valid || !m.HasFeature("audit_logs") || m.Tier() != license.Professional {
		t.Fatalf("after an outage: source %s valid %v; the last good state was not kept", st.Source, st.Valid)
	}
	if !strings.Contains(e.logs.String(), "level=WARN") {
		t.Error("the outage was not logged as a warning")
	}

	// Recovery: the next hour validates live again and the feature uses
	// that could not be reported are sent then.
	e.srv.Fail(0)
	e.srv.ResetRequests()
	e.clock.Advance(time.Hour)
	st = waitStatus(t, m, "recovery", func(s license.Status) bool { return s.Source == license.SourceLive && s.LastError == "" })
	reqs, err := e.srv.WaitFor(waitCtx(t), license.PathKeepalive, 1)
	if err != nil {
		t.Fatal(err)
	}
	stats, _ := reqs[0].Body["usage_stats"].(map[string]any)
	fu, _ := stats["feature_usage"].(map[string]any)
	if count(fu, "audit_logs") != 1 {
		t.Errorf("feature usage after recovery = %v, want the unreported use", fu)
	}
	if !st.Valid {
		t.Error("not valid after recovery")
	}
}

func TestBackgroundOutageOutlivesCache(t *testing.T) {
	e := newEnv(t, licensetest.KeyProfessional)
	m := e.started(e.settings(licensetest.KeyProfessional, true), func(o *license.Options) {
		o.MaxCacheAge = 2 * time.Hour
		o.CacheFile = ""
	})
	e.srv.Close()
	e.clock.Advance(time.Hour)
	waitStatus(t, m, "cached state", func(s license.Status) bool { return s.Source == license.SourceCached })
	e.clock.Advance(time.Hour)
	e.clock.Advance(time.Hour)
	st := waitStatus(t, m, "the cached state to run out", func(s license.Status) bool { return s.Source == license.SourceNone })
	if st.Valid || m.HasFeature("audit_logs") || !strings.Contains(st.LastError, "older than") {
		t.Errorf("after the cache age: %+v", st)
	}
}

func TestBackgroundRejectionWithdrawsEntitlement(t *testing.T) {
	e := newEnv(t, licensetest.KeyProfessional)
	m := e.started(e.settings(licensetest.KeyProfessional, true))
	e.srv.Fail(403, license.PathValidate)
	e.clock.Advance(time.Hour)
	st := waitStatus(t, m, "the rejection", func(s license.Status) bool { return !s.Valid })
	if m.HasFeature("audit_logs") || m.Tier() != license.Community || st.Source != license.SourceNone {
		t.Errorf("a rejected licence still grants features: %+v", st)
	}
	// No keepalive is sent for a licence that is not valid.
	e.clock.Advance(time.Hour) // returns once the previous tick was handled
	if n := len(e.srv.RequestsTo(license.PathKeepalive)); n != 0 {
		t.Errorf("%d keepalives sent for a rejected licence", n)
	}
}

func TestBackgroundExpiryWhileRunning(t *testing.T) {
	e := newEnv(t)
	lic := licensetest.Professional(licensetest.KeyProfessional)
	lic.ExpiresAt = e.clock.Now().Add(90 * time.Minute)
	e.srv.SetLicence(lic)
	m := e.started(e.settings(licensetest.KeyProfessional, true))
	e.clock.Advance(time.Hour)
	e.clock.Advance(time.Hour)
	st := waitStatus(t, m, "expiry", func(s license.Status) bool { return !s.Valid })
	if m.HasFeature("audit_logs") || !strings.Contains(st.LastError, "expired") {
		t.Errorf("after expiry: %+v", st)
	}
}

func TestUsageCallbackFailures(t *testing.T) {
	tests := []struct {
		name  string
		usage func(context.Context) (license.Usage, error)
	}{
		{"error", func(context.Context) (license.Usage, error) { return license.Usage{}, errors.New("db down") }},
		{"panic", func(context.Context) (license.Usage, error) { panic("boom") }},
		{"stuck", func(ctx context.Context) (license.Usage, error) { <-ctx.Done(); return license.Usage{}, ctx.Err() }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, licensetest.KeyProfessional)
			m := e.started(e.settings(licensetest.KeyProfessional, true), func(o *license.Options) {
				o.Usage = tt.usage
				o.Timeout = 200 * time.Millisecond // bounds the stuck callback
			})
			if err := m.SendKeepalive(context.Background()); err != nil {
				t.Fatalf("SendKeepalive = %v", err)
			}
			b := e.srv.RequestsTo(license.PathKeepalive)[0].Body
			if _, ok := b["usage"]; ok {
				t.Errorf("usage sent although it could not be gathered: %v", b["usage"])
			}
			if !strings.Contains(e.logs.String(), "usage callback") {
				t.Error("the failure was not logged")
			}
		})
	}
}

func TestKeepaliveSkippedWithoutLicence(t *testing.T) {
	e := newEnv(t, licensetest.KeyProfessional)
	m := e.started(e.settings("", false))
	if err := m.SendKeepalive(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := len(e.srv.Requests()); n != 0 {
		t.Errorf("%d requests without a key", n)
	}
}

func TestReconfigure(t *testing.T) {
	e := newEnv(t, licensetest.KeyProfessional, licensetest.KeyEnterprise)
	ctx := context.Background()
	m := e.started(e.settings(licensetest.KeyProfessional, true))
	if m.HasFeature("custom_saml") {
		t.Fatal("professional licence grants an enterprise feature")
	}

	// New key: re-validated at once.
	if err := m.Reconfigure(ctx, e.settings(licensetest.KeyEnterprise, true)); err != nil {
		t.Fatal(err)
	}
	if !m.HasFeature("custom_saml") || m.Tier() != license.Enterprise || m.Status().KeyMasked != license.MaskKey(licensetest.KeyEnterprise) {
		t.Errorf("after a new key: tier %v", m.Tier())
	}

	// Settings that cannot work are refused and change nothing.
	bad := e.settings(licensetest.KeyProfessional, true)
	bad.ServerURL = "http://license.example.com"
	if err := m.Reconfigure(ctx, bad); err == nil || !strings.Contains(err.Error(), "https") {
		t.Errorf("plain http remote URL: %v", err)
	}
	noProduct := e.settings(licensetest.KeyProfessional, true)
	noProduct.Product = ""
	if err := m.Reconfigure(ctx, noProduct); err == nil || !strings.Contains(err.Error(), "PRODUCT_NAME") {
		t.Errorf("key without product: %v", err)
	}
	if m.Tier() != license.Enterprise {
		t.Error("a refused reconfiguration changed the state")
	}

	// A rejected key is applied and reported.
	err := m.Reconfigure(ctx, e.settings(licensetest.KeyUnknown, true))
	if !errors.Is(err, license.ErrRejected) || m.HasFeature("audit_logs") || m.Status().Valid {
		t.Errorf("unknown key: err %v, valid %v", err, m.Status().Valid)
	}

	// Development mode: everything on, still reporting the server's answer.
	if err := m.Reconfigure(ctx, e.settings(licensetest.KeyProfessional, false)); err != nil {
		t.Fatal(err)
	}
	if !m.HasFeature("custom_saml") || m.Status().Tier != license.Professional || m.Status().Source != license.SourceDevelopment {
		t.Errorf("development: %+v", m.Status())
	}

	// New server URL.
	other := licensetest.NewServer(licensetest.Community(licensetest.KeyCommunity))
	defer other.Close()
	s := license.Settings{Key: licensetest.KeyCommunity, ServerURL: other.URL, Product: licensetest.Product, ReleaseMode: true}
	if err := m.Reconfigure(ctx, s); err != nil {
		t.Fatal(err)
	}
	if m.Tier() != license.Community || m.Status().ServerURL != other.URL || len(other.Requests()) != 1 {
		t.Errorf("after a new server: tier %v, url %s", m.Tier(), m.Status().ServerURL)
	}

	// Removing the key in release mode.
	if err := m.Reconfigure(ctx, license.Settings{ReleaseMode: true}); !errors.Is(err, license.ErrKeyRequired) {
		t.Errorf("no key: %v", err)
	}
	if m.HasFeature("basic_auth") {
		t.Error("features remain without a key")
	}
}

func TestReconfigureDuringOutageUsesOnlyTheNewKeysCache(t *testing.T) {
	e := newEnv(t, licensetest.KeyProfessional, licensetest.KeyEnterprise)
	m := e.started(e.settings(licensetest.KeyEnterprise, true))
	e.srv.Fail(500)
	err := m.Reconfigure(context.Background(), e.settings(licensetest.KeyProfessional, true))
	if !errors.Is(err, license.ErrUnavailable) {
		t.Fatalf("Reconfigure = %v", err)
	}
	if m.HasFeature("custom_saml") || m.Status().Valid {
		t.Error("the old key's state survived a key change")
	}
}

func TestConcurrentReadsDuringReconfigure(t *testing.T) {
	e := newEnv(t, licensetest.KeyProfessional, licensetest.KeyEnterprise)
	m := e.started(e.settings(licensetest.KeyProfessional, true))
	ctx := context.Background()

	stop := make(chan struct{})
	var wg sync.WaitGroup
	errs := make(chan string, 4)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				st := m.Status()
				enterprise := st.Tier == license.Enterprise
				hasSAML := false
				for _, f := range st.Features {
					hasSAML = hasSAML || f == "custom_saml"
				}
				if enterprise != hasSAML {
					select {
					case errs <- "a Status mixed two licences":
					default:
					}
				}
				_ = m.HasFeature("audit_logs")
				_ = m.AtLeast(license.Professional)
			}
		}()
	}
	keys := []license.Key{licensetest.KeyEnterprise, licensetest.KeyProfessional}
	for i := range 20 {
		if err := m.Reconfigure(ctx, e.settings(keys[i%2], true)); err != nil {
			t.Error(err)
		}
	}
	close(stop)
	wg.Wait()
	close(errs)
	for msg := range errs {
		t.Error(msg)
	}
}

func TestShutdownStopsLoop(t *testing.T) {
	e := newEnv(t, licensetest.KeyProfessional)
	before := settledLoops(0)
	m := e.started(e.settings(licensetest.KeyProfessional, true))
	if n := settledLoops(before + 1); n != before+1 {
		t.Fatalf("Start started %d loops, want 1", n-before)
	}
	if e.clock.Tickers() != 1 {
		t.Fatalf("Start made %d tickers, want 1", e.clock.Tickers())
	}
	if err := m.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := settledLoops(before); got != before {
		t.Errorf("%d loops still running after Shutdown", got-before)
	}
	if e.clock.Tickers() != 0 {
		t.Error("the ticker was not stopped")
	}
	e.srv.ResetRequests()
	e.clock.Advance(3 * time.Hour)
	if n := len(e.srv.Requests()); n != 0 {
		t.Errorf("%d requests after Shutdown", n)
	}
	if err := m.Shutdown(context.Background()); err != nil {
		t.Errorf("second Shutdown = %v", err)
	}
	if err := m.Start(context.Background()); err == nil {
		t.Error("Start after Shutdown succeeded")
	}
	// Reads keep working on the last state.
	if !m.HasFeature("audit_logs") {
		t.Error("state lost on Shutdown")
	}
}

func TestShutdownCancelsInFlightCall(t *testing.T) {
	e := newEnv(t, licensetest.KeyProfessional)
	m := e.started(e.settings(licensetest.KeyProfessional, true), func(o *license.Options) { o.Timeout = time.Minute })
	e.srv.SetDelay(time.Minute)
	e.clock.Advance(time.Hour) // the loop takes the tick and blocks in the slow validation
	if _, err := e.srv.WaitFor(waitCtx(t), license.PathValidate, 2); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	start := time.Now()
	if err := m.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown = %v", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("Shutdown took %s; the in-flight call was not cancelled", d)
	}
	if st := m.Status(); !st.Valid || st.LastError != "" {
		t.Errorf("a cancelled call changed the state: %+v", st)
	}
}

func TestShutdownWithoutStart(t *testing.T) {
	e := newEnv(t)
	m := e.manager(e.settings("", false))
	if err := m.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestStartTwice(t *testing.T) {
	e := newEnv(t, licensetest.KeyProfessional)
	m := e.started(e.settings(licensetest.KeyProfessional, true))
	if err := m.Start(context.Background()); err == nil {
		t.Fatal("second Start succeeded")
	}
	if e.clock.Tickers() != 1 {
		t.Errorf("%d tickers after a second Start", e.clock.Tickers())
	}
}

func TestStatusJSON(t *testing.T) {
	e := newEnv(t, licensetest.KeyProfessional)
	fields := []string{"tier", "customer", "product", "expires_at", "issued_at", "features", "limits", "source",
		"valid", "release_mode", "last_validated", "last_keepalive", "last_checked", "last_error", "server_id", "server_url", "key_masked"}

	empty := e.manager(e.settings("", true))
	live := e.started(e.settings(licensetest.KeyProfessional, true))
	for name, m := range map[string]*license.Manager{"no licence": empty, "live": live} {
		raw, err := json.Marshal(m.Status())
		if err != nil {
			t.Fatal(err)
		}
		var got map[string]any
		if err := json.Unmarshal(raw, &got); err != nil {
			t.Fatal(err)
		}
		for _, f := range fields {
			if _, ok := got[f]; !ok {
				t.Errorf("%s: field %q missing from %s", name, f, raw)
			}
		}
		if len(got) != len(fields) {
			t.Errorf("%s: %d fields, want %d", name, len(got), len(fields))
		}
		if strings.Contains(string(raw), licensetest.KeyProfessional) {
			t.Errorf("%s: status JSON carries the licence key", name)
		}
		if _, isList := got["features"].([]any); !isList {
			t.Errorf("%s: features = %v, want a list", name, got["features"])
		}
		var back license.Status
		if err := json.Unmarshal(raw, &back); err != nil {
			t.Fatal(err)
		}
		if back.Tier != m.Status().Tier || back.Source != m.Status().Source || !back.ExpiresAt.Equal(m.Status().ExpiresAt) {
			t.Errorf("%s: status does not round-trip", name)
		}
	}
	st := live.Status()
	if st.KeyMasked != "PENG-****-****-****-****-0001" || st.Source != license.SourceLive || !st.ReleaseMode {
		t.Errorf("live status = %+v", st)
	}
	if got := strings.Join(st.Features, ","); !strings.Contains(got, "audit_logs") || strings.Contains(got, "custom_saml") {
		t.Errorf("features = %s", got)
	}
	// Status returns a copy.
	st.Features[0] = "tampered"
	st.Limits["max_users"] = 1
	if live.Status().Features[0] == "tampered" || live.Status().Limits["max_users"] == 1 {
		t.Error("Status exposes the snapshot's internals")
	}
}

func TestCheckFeature(t *testing.T) {
	e := newEnv(t)
	e.srv.SetLicence(licensetest.Professional(licensetest.KeyProfessional).Qualified())
	m := e.started(e.settings(licensetest.KeyProfessional, false))
	ctx := context.Background()
	for name, want := range map[string]bool{"audit_logs": true, "rookery.audit_logs": true, "custom_saml": false, "nope": false} {
		got, err := m.CheckFeature(ctx, name)
		if err != nil || got != want {
			t.Errorf("CheckFeature(%q) = %v, %v; want %v", name, got, err, want)
		}
	}
	reqs := e.srv.RequestsTo(license.PathFeatures)
	if len(reqs) != 4 || reqs[0].Body["product"] != "rookery" {
		t.Errorf("features requests = %d", len(reqs))
	}
	e.srv.Fail(500)
	if _, err := m.CheckFeature(ctx, "audit_logs"); !errors.Is(err, license.ErrUnavailable) {
		t.Errorf("CheckFeature during an outage = %v", err)
	}
}

func TestNewRejectsBadSettings(t *testing.T) {
	tests := []struct {
		name string
		s    license.Settings
		o    license.Options
		want string
	}{
		{"remote plain http", license.Settings{ServerURL: "http://license.penguintech.io"}, license.Options{}, "https"},
		{"key without product", license.Settings{Key: licensetest.KeyProfessional}, license.Options{}, "PRODUCT_NAME"},
		{"negative interval", license.Settings{}, license.Options{Interval: -time.Second}, "interval"},
		{"negative cache age", license.Settings{}, license.Options{MaxCacheAge: -time.Second}, "cache age"},
		{"negative timeout", license.Settings{}, license.Options{Timeout: -time.Second}, "timeout"},
	}
	for _, tt := range tests {
		_, err := license.New(tt.s, tt.o)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: New = %v, want an error about %q", tt.name, err, tt.want)
		}
	}
	m, err := license.New(license.Settings{}, license.Options{})
	if err != nil {
		t.Fatalf("zero settings: %v", err)
	}
	if st := m.Status(); st.ServerURL != license.DefaultServerURL || st.ReleaseMode {
		t.Errorf("defaults: %+v", st)
	}
}

func TestSettingsFromEnv(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		want    license.Settings
		wantErr string
	}{
		{"empty", nil, license.Settings{ServerURL: license.DefaultServerURL}, ""},
		{"full", map[string]string{
			"LICENSE_KEY": " " + licensetest.KeyProfessional + "\n", "LICENSE_SERVER_URL": "http://localhost:5000",
			"PRODUCT_NAME": "rookery", "RELEASE_MODE": "true",
		}, license.Settings{Key: licensetest.KeyProfessional, ServerURL: "http://localhost:5000", Product: "rookery", ReleaseMode: true}, ""},
		{"release mode 0", map[string]string{"RELEASE_MODE": "0"}, license.Settings{ServerURL: license.DefaultServerURL}, ""},
		{"release mode typo", map[string]string{"RELEASE_MODE": "yes please"}, license.Settings{}, "RELEASE_MODE must be true or false"},
		{"remote http", map[string]string{"LICENSE_SERVER_URL": "http://example.com"}, license.Settings{}, "https"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := license.SettingsFromEnv(func(k string) string { return tt.env[k] })
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("got %+v, %v; want %+v", got, err, tt.want)
			}
		})
	}
}

func TestHTTPSOnlyServerOverTLS(t *testing.T) {
	srv := licensetest.NewTLSServer(licensetest.Enterprise(licensetest.KeyEnterprise))
	defer srv.Close()
	m, err := license.New(
		license.Settings{Key: licensetest.KeyEnterprise, ServerURL: srv.URL, Product: licensetest.Product, ReleaseMode: true},
		license.Options{HTTPClient: srv.Client(), Logger: discardLogger()},
	)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Shutdown(context.Background())
	if err := m.Start(context.Background()); err != nil || m.Tier() != license.Enterprise {
		t.Fatalf("Start over TLS = %v, tier %v", err, m.Tier())
	}
}

func TestCacheWriteFailureOnlyWarns(t *testing.T) {
	e := newEnv(t, licensetest.KeyProfessional)
	blocker := e.cache + ".dir"
	if err := os.WriteFile(blocker, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	// The cache's directory is a regular file, so it cannot be created.
	m := e.started(e.settings(licensetest.KeyProfessional, true), func(o *license.Options) {
		o.CacheFile = blocker + "/" + license.DefaultCacheFileName
	})
	if !m.Status().Valid || !m.HasFeature("audit_logs") {
		t.Error("a cache write failure affected the licence")
	}
	if !strings.Contains(e.logs.String(), "could not write the licence cache") {
		t.Error("the cache write failure was not logged")
	}
}
