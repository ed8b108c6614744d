package config_test

import (
	"context"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rookery/rookery/config"
	"github.com/rookery/rookery/internal/db"
	"github.com/rookery/rookery/internal/dbtest"
)

// settings is an application's own group of settings, declared as a struct.
type settings struct {
	Greeting *config.Setting[string]
	Limit    *config.Setting[int64]
	Enabled  *config.Setting[bool]
	Wait     *config.Setting[time.Duration]
	Token    *config.Setting[config.Secret]
	Nested   struct{ Extra *config.Setting[string] }
}

func newSettings() *settings {
	s := &settings{
		Greeting: config.String("hello_greeting", config.System, config.Default("hello"), config.Describe("What the app says")),
		Limit:    config.Int("hello_limit", config.Default("3"), config.Validate(config.Range(1, 10))),
		Enabled:  config.Bool("hello_enabled", config.Default("true")),
		Wait:     config.Seconds("hello_wait", config.Default("2")),
		Token:    config.SecretString("hello_token", config.Integration),
	}
	s.Nested.Extra = config.String("hello_extra")
	return s
}

func TestSettings(t *testing.T) {
	s := newSettings()
	// Before registration a setting reads its default.
	if got := s.Greeting.Get(); got != "hello" {
		t.Fatalf("unbound Get = %q, want the default", got)
	}
	if s.Wait.Get() != 2*time.Second || !s.Enabled.Get() || s.Limit.Get() != 3 {
		t.Fatalf("unbound typed defaults: %v %v %v", s.Wait.Get(), s.Enabled.Get(), s.Limit.Get())
	}
	decls := config.DeclsOf(s)
	var names []string
	for _, d := range decls {
		names = append(names, d.Decl().Name)
	}
	if want := []string{"hello_greeting", "hello_limit", "hello_enabled", "hello_wait", "hello_token", "hello_extra"}; !slices.Equal(names, want) {
		t.Fatalf("DeclsOf = %v, want %v", names, want)
	}
	if k := s.Token.Decl(); !k.Sensitive || k.Type != config.TypeString || k.Category != config.Integration {
		t.Fatalf("secret declaration: %+v", k)
	}
	if k := s.Limit.Decl(); k.Category != config.System || k.Type != config.TypeInteger || k.Rule == nil {
		t.Fatalf("integer declaration: %+v", k)
	}

	dbtest.Each(t, func(t *testing.T, dbs db.Settings) {
		d := dbtest.OpenSettings(t, dbs)
		k, _ := config.NewKey()
		sealer, _ := config.NewSealer(k)
		store := config.NewStore(d.DB, config.Dialect(d.Dialect), config.MustRegistry(decls...), sealer)
		c := config.New(store, env(map[string]string{"HELLO_LIMIT": "7", "HELLO_TOKEN": "t0ken"}), dbtest.Discard())
		ctx := context.Background()
		if err := c.Reload(ctx); err != nil {
			t.Fatal(err)
		}
		if s.Limit.Get() != 7 || s.Token.Get().Reveal() != "t0ken" || s.Greeting.Get() != "hello" {
			t.Fatalf("bound reads: %d %q", s.Limit.Get(), s.Greeting.Get())
		}
		if v := s.Limit.Value(); v.Source != config.FromEnvironment {
			t.Fatalf("source of hello_limit = %s", v.Source)
		}
		var changes []string
		cancel := s.Greeting.OnChange(func(old, new string) { changes = append(changes, old+">"+new) })
		if _, err := store.Set(ctx, "hello_greeting", "hi", config.AnyVersion, config.Origin{Actor: "t"}); err != nil {
			t.Fatal(err)
		}
		if err := c.Reload(ctx); err != nil {
			t.Fatal(err)
		}
		if s.Greeting.Get() != "hi" || !slices.Equal(changes, []string{"hello>hi"}) {
			t.Fatalf("after a change: %q, changes %v", s.Greeting.Get(), changes)
		}
		cancel()
		if _, err := store.Set(ctx, "hello_greeting", "hey", config.AnyVersion, config.Origin{Actor: "t"}); err != nil {
			t.Fatal(err)
		}
		_ = c.Reload(ctx)
		if len(changes) != 1 {
			t.Fatalf("a cancelled OnChange still ran: %v", changes)
		}
	})
}

// TestFollow: a followed function runs again when a key it read changes,
// not for others, and picks up keys it reads only under a condition.
func TestFollow(t *testing.T) {
	s := newSettings()
	d, _ := dbtest.Open(t, db.SQLite)
	k, _ := config.NewKey()
	sealer, _ := config.NewSealer(k)
	store := config.NewStore(d.DB, config.Dialect(d.Dialect), config.MustRegistry(config.DeclsOf(s)...), sealer)
	c := config.New(store, env(nil), dbtest.Discard())
	ctx := context.Background()
	set := func(key, value string) {
		t.Helper()
		if _, err := store.Set(ctx, key, value, config.AnyVersion, config.Origin{Actor: "t"}); err != nil {
			t.Fatal(err)
		}
		if err := c.Reload(ctx); err != nil {
			t.Fatal(err)
		}
	}
	var runs atomic.Int32
	var seen string
	cancel := c.Follow(func() {
		runs.Add(1)
		seen = ""
		if !s.Enabled.Get() {
			return
		}
		seen = s.Greeting.Get()
	})
	defer cancel()
	if runs.Load() != 1 || seen != "hello" {
		t.Fatalf("first run: %d runs, saw %q", runs.Load(), seen)
	}
	set("hello_limit", "5") // not read: no run
	if runs.Load() != 1 {
		t.Fatalf("ran for a key it does not read: %d", runs.Load())
	}
	set("hello_greeting", "hi")
	if runs.Load() != 2 || seen != "hi" {
		t.Fatalf("after greeting: %d runs, saw %q", runs.Load(), seen)
	}
	set("hello_enabled", "false")
	if runs.Load() != 3 || seen != "" {
		t.Fatalf("after disabling: %d runs, saw %q", runs.Load(), seen)
	}
	set("hello_greeting", "hey") // not read while disabled
	if runs.Load() != 3 {
		t.Fatalf("ran for a key it no longer reads: %d", runs.Load())
	}
	set("hello_enabled", "true")
	if runs.Load() != 4 || seen != "hey" {
		t.Fatalf("after enabling again: %d runs, saw %q", runs.Load(), seen)
	}
	cancel()
	set("hello_enabled", "false")
	if runs.Load() != 4 {
		t.Fatalf("ran after cancel: %d", runs.Load())
	}
}
