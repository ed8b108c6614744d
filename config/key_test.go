package config

import (
	"errors"
	"strings"
	"testing"
)

func TestParseTypes(t *testing.T) {
	cases := []struct {
		name, raw string
		typ       Type
		rule      Rule
		want      string
		wantErr   string
	}{
		{"int", " 42 ", TypeInteger, nil, "42", ""},
		{"int negative", "-7", TypeInteger, nil, "-7", ""},
		{"int float", "4.2", TypeInteger, nil, "", "whole number"},
		{"int word", "ten", TypeInteger, nil, "", "whole number"},
		{"int overflow", "99999999999999999999", TypeInteger, nil, "", "whole number"},
		{"bool true", "TRUE", TypeBoolean, nil, "true", ""},
		{"bool yes", "yes", TypeBoolean, nil, "true", ""},
		{"bool on", "On", TypeBoolean, nil, "true", ""},
		{"bool 1", "1", TypeBoolean, nil, "true", ""},
		{"bool off", "off", TypeBoolean, nil, "false", ""},
		{"bool 0", "0", TypeBoolean, nil, "false", ""},
		{"bool no", "no", TypeBoolean, nil, "false", ""},
		{"bool banana", "banana", TypeBoolean, nil, "", "one of true, false"},
		{"bool empty", "", TypeBoolean, nil, "", "one of true, false"},
		{"bool 2", "2", TypeBoolean, nil, "", "one of true, false"},
		{"json object", `{ "a" : [1, 2] }`, TypeJSON, nil, `{"a":[1,2]}`, ""},
		{"json broken", `{"a":`, TypeJSON, nil, "", "valid JSON"},
		{"json empty", ``, TypeJSON, nil, "", "valid JSON"},
		{"string", "hello", TypeString, nil, "hello", ""},
		{"string nul", "a\x00b", TypeString, nil, "", "NUL"},
		{"string too long", strings.Repeat("x", MaxValueBytes+1), TypeString, nil, "", "longer than"},
		{"port ok", "8080", TypeInteger, Port(), "8080", ""},
		{"port zero", "0", TypeInteger, Port(), "", "between 1 and 65535"},
		{"port high", "70000", TypeInteger, Port(), "", "between 1 and 65535"},
		{"range ok", "30", TypeInteger, Range(1, 600), "30", ""},
		{"range low", "0", TypeInteger, Range(1, 600), "", "between 1 and 600"},
		{"url ok", "https://license.example.com", TypeString, URL(), "https://license.example.com", ""},
		{"url port", "http://waddleai:8080/", TypeString, URL(), "http://waddleai:8080/", ""},
		{"url no scheme", "waddleai:8080", TypeString, URL(), "", "must"},
		{"url ftp", "ftp://x.example", TypeString, URL(), "", "scheme"},
		{"url no host", "http:///path", TypeString, URL(), "", "must be"},
		{"url bad port", "http://x:99999", TypeString, URL(), "", "port"},
		{"url credentials", "http://user:pw@x.example", TypeString, URL(), "", "credentials"},
		{"secure url https", "https://license.example.com", TypeString, SecureURL(), "https://license.example.com", ""},
		{"secure url localhost", "http://127.0.0.1:9000", TypeString, SecureURL(), "http://127.0.0.1:9000", ""},
		{"secure url plain http", "http://license.example.com", TypeString, SecureURL(), "", "https"},
		{"email ok", "ops@example.com", TypeString, EmailAddress(), "ops@example.com", ""},
		{"email display name", "Ops <ops@example.com>", TypeString, EmailAddress(), "", "email address"},
		{"email bare", "ops", TypeString, EmailAddress(), "", "email address"},
		{"host ok", "smtp.example.com", TypeString, Hostname(), "smtp.example.com", ""},
		{"host ip", "10.0.0.1", TypeString, Hostname(), "10.0.0.1", ""},
		{"host underscore", "smtp_host", TypeString, Hostname(), "", "host name"},
		{"host dash start", "-smtp", TypeString, Hostname(), "", "host name"},
		{"host space", "a b", TypeString, Hostname(), "", "host name"},
		{"hostport ok", "killkrill:50051", TypeString, HostPort(), "killkrill:50051", ""},
		{"hostport no port", "killkrill", TypeString, HostPort(), "", "host:port"},
		{"enum ok", "batch", TypeString, OneOf("entry", "batch"), "batch", ""},
		{"enum bad", "stream", TypeString, OneOf("entry", "batch"), "", "one of entry, batch"},
		{"regex ok", "PENG-ABCD-1234-EFGH-5678-IJKL", TypeString, Regex(`^PENG-[A-Z0-9]{4}(-[A-Z0-9]{4}){4}$`, "a licence key"), "PENG-ABCD-1234-EFGH-5678-IJKL", ""},
		{"regex bad", "PENG-abcd", TypeString, Regex(`^PENG-[A-Z0-9]{4}(-[A-Z0-9]{4}){4}$`, "a licence key"), "", "a licence key"},
		{"optional empty", "", TypeString, Optional(URL()), "", ""},
		{"optional bad", "nope", TypeString, Optional(URL()), "", "must"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			k := Key{Name: "k", Type: c.typ, Category: System, Rule: c.rule}
			got, err := k.Parse(c.raw)
			if c.wantErr != "" {
				if err == nil {
					t.Fatalf("Parse(%q) = %q, want error containing %q", c.raw, got, c.wantErr)
				}
				if !errors.Is(err, ErrInvalid) {
					t.Errorf("error %v is not ErrInvalid", err)
				}
				if !strings.Contains(err.Error(), c.wantErr) {
					t.Errorf("error %q does not contain %q", err, c.wantErr)
				}
				if len(c.raw) > 3 && strings.Contains(err.Error(), c.raw) {
					t.Errorf("error %q repeats the value", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse(%q): %v", c.raw, err)
			}
			if got != c.want {
				t.Errorf("Parse(%q) = %q, want %q", c.raw, got, c.want)
			}
		})
	}
}

func TestRegistryRejectsBadDeclarations(t *testing.T) {
	bad := [][]Decl{
		{Key{Name: "Upper", Type: TypeString, Category: System}},
		{Key{Name: "k", Type: "float", Category: System}},
		{Key{Name: "k", Type: TypeString, Category: "misc"}},
		{Key{Name: "k", Type: TypeString, Category: System}, Key{Name: "k", Type: TypeString, Category: System}},
		{String("k", System), Int("k", Security)},
		{String("k", Carries("nope"))},
	}
	for i, keys := range bad {
		if _, err := NewRegistry(keys...); err == nil {
			t.Errorf("case %d: NewRegistry accepted %+v", i, keys)
		}
	}
}

func TestStandardKeys(t *testing.T) {
	reg, err := NewRegistry(StandardKeys()...)
	if err != nil {
		t.Fatal(err)
	}
	// The standards name these keys and their environment variables.
	want := map[string]string{"smtp_host": "SMTP_HOST", "smtp_port": "SMTP_PORT", "smtp_user": "SMTP_USER", "smtp_pass": "SMTP_PASS",
		"waddleai_url": "WADDLEAI_URL", "waddleai_api_key": "WADDLEAI_API_KEY", "license_key": "LICENSE_KEY",
		"release_mode": "RELEASE_MODE", "killkrill_api_url": "KILLKRILL_API_URL", "marchproxy_api": "MARCHPROXY_API",
		"cluster_api_key": "CLUSTER_API_KEY", "ai_features_enabled": "AI_FEATURES_ENABLED"}
	for name, env := range want {
		k, ok := reg.Lookup(name)
		if !ok {
			t.Errorf("%s not declared", name)
			continue
		}
		if k.Env() != env {
			t.Errorf("%s: env %s, want %s", name, k.Env(), env)
		}
	}
	for _, name := range []string{"smtp_pass", "waddleai_api_key", "license_key", "killkrill_client_secret", "marchproxy_password", "cluster_api_key"} {
		if k, _ := reg.Lookup(name); !k.Sensitive {
			t.Errorf("%s must be sensitive", name)
		}
	}
	for _, k := range reg.Keys() {
		if k.Default == "" {
			continue
		}
		if _, err := k.Parse(k.Default); err != nil {
			t.Errorf("default of %s does not pass its own rule: %v", k.Name, err)
		}
	}
}

func TestSecretNeverPrints(t *testing.T) {
	s := NewSecret("hunter2-very-secret")
	for _, got := range []string{s.String(), fmtAll(s)} {
		if strings.Contains(got, "hunter2") {
			t.Fatalf("secret leaked: %q", got)
		}
	}
	if s.Reveal() != "hunter2-very-secret" {
		t.Fatal("Reveal lost the value")
	}
}
