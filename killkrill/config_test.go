package killkrill

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestDefaultMetricsURL(t *testing.T) {
	for in, want := range map[string]string{
		"http://killkrill-receiver:8081":   "http://killkrill-receiver:8082",
		"https://kk.example.com":           "https://kk.example.com:8082",
		"http://kk.example.com:8081/base/": "http://kk.example.com:8082",
		"http://[::1]:8081":                "http://[::1]:8082",
		"http://u:p@h:8081":                "http://u:p@h:8082",
		" http://h:8081 ":                  "http://h:8082",
		"killkrill-receiver:8081":          "",
		"ftp://h:8081":                     "",
		"":                                 "",
		"http://":                          "",
		"::bad":                            "",
	} {
		if got := DefaultMetricsURL(in); got != want {
			t.Errorf("DefaultMetricsURL(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestConfigValidate(t *testing.T) {
	ok := Config{Enabled: true, LogURL: "http://h:8081"}
	tests := []struct {
		name    string
		mutate  func(*Config)
		wantErr string // "" means valid
	}{
		{"minimal", func(*Config) {}, ""},
		{"disabled needs no URL", func(c *Config) { c.Enabled, c.LogURL = false, "" }, ""},
		{"batch mode any case", func(c *Config) { c.Mode = "BATCH" }, ""},
		{"enabled without URL", func(c *Config) { c.LogURL = "" }, "log URL"},
		{"no scheme", func(c *Config) { c.LogURL = "killkrill:8081" }, "scheme"},
		{"bad scheme", func(c *Config) { c.LogURL = "grpc://h:50051" }, "scheme"},
		{"no host", func(c *Config) { c.LogURL = "http:///x" }, "host"},
		{"query", func(c *Config) { c.LogURL = "http://h:8081?x=1" }, "query"},
		{"bad metrics URL", func(c *Config) { c.MetricsURL = "nope" }, "metrics URL"},
		{"unknown mode", func(c *Config) { c.Mode = "grpc" }, "mode"},
		{"batch path without slash", func(c *Config) { c.BatchPath = "api/v1/batch" }, "batch path"},
		{"negative interval", func(c *Config) { c.FlushInterval = -time.Second }, "flush interval"},
		{"negative buffer", func(c *Config) { c.BufferSize = -1 }, "buffer size"},
		{"negative retries mean none", func(c *Config) { c.MaxRetries = -1 }, ""},
		{"grpc URL accepted as is", func(c *Config) { c.GRPCURL = "killkrill-receiver:50051" }, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := ok
			tc.mutate(&c)
			err := c.Validate()
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if err == nil || !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("error = %v, want ErrInvalidConfig mentioning %q", err, tc.wantErr)
			}
		})
	}
}

func TestConfigErrorsHidePasswords(t *testing.T) {
	err := Config{Enabled: true, LogURL: "ftp://user:hunter2@h:8081"}.Validate()
	if err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("error leaks the password or is missing: %v", err)
	}
	err = Config{Enabled: true, LogURL: "http://user:hunter2@h:8081/%zz"}.Validate()
	if err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("parse error leaks the password or is missing: %v", err)
	}
}

func TestConfigFromEnv(t *testing.T) {
	env := func(m map[string]string) func(string) (string, bool) {
		return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
	}
	cfg, err := ConfigFromEnv(env(map[string]string{
		EnvAPIURL: "http://killkrill-receiver:8081", EnvGRPCURL: "killkrill-receiver:50051",
		EnvClientID: "client_id", EnvClientSecret: "client_secret", EnvMode: "batch",
		EnvFlushInterval: "2s", EnvBatchPath: "/ingest",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if !cfg.Enabled || cfg.LogURL != "http://killkrill-receiver:8081" || cfg.GRPCURL != "killkrill-receiver:50051" ||
		cfg.ClientID != "client_id" || cfg.ClientSecret.Reveal() != "client_secret" || cfg.Mode != ModeBatch ||
		cfg.FlushInterval != 2*time.Second || cfg.BatchPath != "/ingest" {
		t.Errorf("cfg = %+v", cfg)
	}
	if cfg, err := ConfigFromEnv(env(nil)); err != nil || cfg.Enabled {
		t.Errorf("empty environment: enabled=%v err=%v", cfg.Enabled, err)
	}
	if cfg, err := ConfigFromEnv(env(map[string]string{EnvAPIURL: "http://h:8081", EnvEnabled: "false"})); err != nil || cfg.Enabled {
		t.Errorf("KILLKRILL_ENABLED=false ignored: %v %v", cfg.Enabled, err)
	}
	for _, bad := range []map[string]string{
		{EnvEnabled: "yes please"},
		{EnvEnabled: "true"}, // enabled without a URL
		{EnvAPIURL: "http://h:8081", EnvFlushInterval: "5"},
		{EnvAPIURL: "http://h:8081", EnvMode: "grpc"},
	} {
		if _, err := ConfigFromEnv(env(bad)); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("ConfigFromEnv(%v) error = %v, want ErrInvalidConfig", bad, err)
		}
	}
}

func TestDefaults(t *testing.T) {
	c := Config{LogURL: "http://h:8081", MaxRetries: -1}.withDefaults()
	if c.MetricsURL != "http://h:8082" || c.Mode != ModeEntry || c.BatchPath != DefaultBatchPath ||
		c.FlushInterval != 5*time.Second || c.BatchSize != DefaultBatchSize || c.BufferSize != DefaultBufferSize ||
		c.Concurrency != DefaultConcurrency || c.ServiceName == "" {
		t.Errorf("defaults = %+v", c)
	}
	if again := c.withDefaults(); again.MaxRetries != -1 {
		t.Errorf("applying defaults twice turned MaxRetries -1 into %d", again.MaxRetries)
	}
}

func TestPrometheusName(t *testing.T) {
	for in, want := range map[string]string{
		MetricHTTPRequestsTotal:   "http_requests_total",
		MetricDBPoolUsed:          "database_connection_pool_used",
		MetricHTTPRequestDuration: "http_request_duration_ms",
		"already_ok:sub":          "already_ok:sub",
		"9lives":                  "_9lives",
		"with space-and/slash":    "with_space_and_slash",
		"":                        "_",
	} {
		if got := PrometheusName(in); got != want {
			t.Errorf("PrometheusName(%q) = %q, want %q", in, got, want)
		}
	}
	if got := prometheusLabel("a:b.c"); got != "a_b_c" {
		t.Errorf("prometheusLabel = %q", got)
	}
}

func TestMetricValidation(t *testing.T) {
	s, _ := localShipper(t)
	for _, m := range []Metric{
		{Name: ""},
		{Name: "  "},
		{Name: "x", Type: "meter"},
		{Name: "x", Value: nan()},
		{Name: "x", Value: inf()},
	} {
		if err := s.AddMetric(m); !errors.Is(err, ErrInvalidMetric) {
			t.Errorf("AddMetric(%+v) = %v, want ErrInvalidMetric", m, err)
		}
	}
	if err := s.AddMetric(Metric{Name: "x"}); err != nil {
		t.Errorf("gauge by default: %v", err)
	}
	var nilShipper *Shipper
	if err := nilShipper.Counter("x", 1, nil); !errors.Is(err, ErrClosed) {
		t.Errorf("nil shipper: %v", err)
	}
}
