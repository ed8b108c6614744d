package config_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/rookery/rookery/config"
	"github.com/rookery/rookery/internal/db"
	"github.com/rookery/rookery/internal/dbtest"
)

// Where a value comes from: a value Bootstrap copied from the environment
// says so until someone saves another; a variable changed after the first
// start is reported as ignored (without its value) and logged at start.
func TestProvenance(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, s db.Settings) {
		d := dbtest.OpenSettings(t, s)
		store, _ := newStore(t, d)
		ctx := context.Background()
		first := env(map[string]string{"SMTP_PORT": "2525", "SMTP_PASS": "first-pass", "SMTP_HOST": "mail.example.com", "LOG_LEVEL": "debug"})
		if _, err := store.Bootstrap(ctx, first); err != nil {
			t.Fatal(err)
		}
		// Started again with the variables changed, one of them to a value
		// the key refuses, and a variable for a key that is not stored.
		var logs bytes.Buffer
		later := env(map[string]string{"SMTP_PORT": "2526", "SMTP_PASS": "second-pass", "SMTP_HOST": "mail.example.com",
			"SMTP_FROM": "not an address", "WADDLEAI_TIMEOUT": "45", "LOG_LEVEL": "warn"})
		c := config.New(store, later, slog.New(slog.NewTextHandler(&logs, nil)))
		if err := c.Reload(ctx); err != nil {
			t.Fatal(err)
		}
		want := map[string]config.Provenance{
			"smtp_port":        {Source: config.FromEnvironment, EnvDiffers: true},
			"smtp_pass":        {Source: config.FromEnvironment, EnvDiffers: true},
			"smtp_host":        {Source: config.FromEnvironment},
			"smtp_from":        {Source: config.FromDefault, EnvDiffers: true},
			"waddleai_timeout": {Source: config.FromEnvironment},
			"smtp_user":        {Source: config.FromDefault},
			"log_level":        {Source: config.FromEnvironment, EnvDiffers: true},
		}
		for key, w := range want {
			v, _ := c.Snapshot().Get(key)
			if got := v.Provenance(); got != w {
				t.Errorf("%s: provenance %+v, want %+v", key, got, w)
			}
		}
		if got := strings.Join(c.IgnoredEnv(), ","); got != "log_level,smtp_from,smtp_pass,smtp_port" {
			t.Errorf("ignored variables %q", got)
		}

		c.WarnIgnoredEnv()
		out := logs.String()
		for _, name := range []string{"SMTP_PORT", "SMTP_PASS", "SMTP_FROM", "LOG_LEVEL"} {
			if !strings.Contains(out, "env="+name) {
				t.Errorf("no warning names %s:\n%s", name, out)
			}
		}
		if strings.Contains(out, "SMTP_HOST") || strings.Contains(out, "WADDLEAI_TIMEOUT") {
			t.Errorf("a variable that is in force was reported:\n%s", out)
		}
		for _, secret := range []string{"first-pass", "second-pass", "2526", "not an address", "warn"} {
			if strings.Contains(out, secret) {
				t.Errorf("the log carries a value %q:\n%s", secret, out)
			}
		}

		// Saved by a person: the database is the source, and the variable
		// equal to the saved value is no longer reported.
		if _, err := store.Set(ctx, "log_level", "warn", config.AnyVersion, config.Origin{Actor: "ops@example.com"}); err != nil {
			t.Fatal(err)
		}
		if err := c.Reload(ctx); err != nil {
			t.Fatal(err)
		}
		v, _ := c.Snapshot().Get("log_level")
		if got := v.Provenance(); got != (config.Provenance{Source: config.FromDatabase}) {
			t.Errorf("after an edit: %+v", got)
		}
		if _, err := store.Set(ctx, "log_level", "error", config.AnyVersion, config.Origin{Actor: "ops@example.com"}); err != nil {
			t.Fatal(err)
		}
		c.Reload(ctx)
		v, _ = c.Snapshot().Get("log_level")
		if got := v.Provenance(); got != (config.Provenance{Source: config.FromDatabase, EnvDiffers: true}) {
			t.Errorf("after a second edit: %+v", got)
		}
	})
}

func TestConstraints(t *testing.T) {
	reg := config.MustRegistry(config.StandardKeys()...)
	min, max := int64(1), int64(65535)
	cases := []struct {
		key  string
		want *config.Constraints
	}{
		{"smtp_port", &config.Constraints{Min: &min, Max: &max, Format: "port"}},
		{"log_level", &config.Constraints{Choices: []string{"debug", "info", "warn", "error"}}},
		{"waddleai_url", &config.Constraints{Format: "url", Schemes: []string{"http", "https"}}},
		{"smtp_from", &config.Constraints{Format: "email", Optional: true}},
		{"smtp_pass", nil},
	}
	for _, c := range cases {
		k, ok := reg.Lookup(c.key)
		if !ok {
			t.Fatalf("%s is not declared", c.key)
		}
		got := k.Constraints()
		if (got == nil) != (c.want == nil) {
			t.Errorf("%s: constraints %+v, want %+v", c.key, got, c.want)
			continue
		}
		if got == nil {
			continue
		}
		if !sameInt(got.Min, c.want.Min) || !sameInt(got.Max, c.want.Max) || strings.Join(got.Choices, ",") != strings.Join(c.want.Choices, ",") ||
			got.Format != c.want.Format || strings.Join(got.Schemes, ",") != strings.Join(c.want.Schemes, ",") || got.Optional != c.want.Optional || got.Pattern != c.want.Pattern {
			t.Errorf("%s: constraints %+v, want %+v", c.key, *got, *c.want)
		}
	}
}

func sameInt(a, b *int64) bool { return (a == nil && b == nil) || (a != nil && b != nil && *a == *b) }
