package config_test

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rookery/rookery/config"
	"github.com/rookery/rookery/internal/db"
	"github.com/rookery/rookery/internal/dbtest"
)

func newStore(t *testing.T, d *db.DB) (*config.Store, *config.Sealer) {
	t.Helper()
	k, _ := config.NewKey()
	sealer, err := config.NewSealer(k)
	if err != nil {
		t.Fatal(err)
	}
	return config.NewStore(d.DB, config.Dialect(d.Dialect), config.MustRegistry(config.StandardKeys()...), sealer), sealer
}

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestStore(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, s db.Settings) {
		d := dbtest.OpenSettings(t, s)
		store, _ := newStore(t, d)
		ctx := context.Background()
		who := config.Origin{Actor: "ada@example.com", RequestID: "req-1", ClientIP: "192.0.2.1"}

		// Bootstrap: valid values in, invalid refused with the reason, system as author.
		res, err := store.Bootstrap(ctx, env(map[string]string{"SMTP_HOST": "smtp.example.com", "SMTP_PORT": "banana",
			"SMTP_PASS": "bootstrap-secret-1", "RELEASE_MODE": "maybe", "UNRELATED": "x"}))
		if err != nil {
			t.Fatal(err)
		}
		if strings.Join(res.Inserted, ",") != "smtp_host,smtp_pass" {
			t.Errorf("inserted %v", res.Inserted)
		}
		if !strings.Contains(res.Invalid["smtp_port"], "whole number") || !strings.Contains(res.Invalid["release_mode"], "true, false") {
			t.Errorf("invalid report %v", res.Invalid)
		}
		e, err := store.Get(ctx, "smtp_host")
		if err != nil || e.UpdatedBy != "system" || e.Version != 1 || e.Category != config.Email {
			t.Fatalf("bootstrapped row %+v, %v", e, err)
		}
		// After the first start the database wins: a new env value is ignored.
		if res, _ := store.Bootstrap(ctx, env(map[string]string{"SMTP_HOST": "other.example.com"})); len(res.Inserted) != 0 {
			t.Errorf("second bootstrap inserted %v", res.Inserted)
		}

		// smtp_host carries smtp_pass: while the password is set, the host
		// does not change alone. Without the password it does.
		if _, err := store.Set(ctx, "smtp_host", "mail.example.com", 1, who); !errors.Is(err, config.ErrSecretReentry) {
			t.Fatalf("host changed under a set password: %v", err)
		}
		if err := store.Delete(ctx, "smtp_pass", config.AnyVersion, who); err != nil {
			t.Fatal(err)
		}

		// Update with the right version, then a stale one.
		e, err = store.Set(ctx, "smtp_host", "mail.example.com", 1, who)
		if err != nil || e.Version != 2 || e.Value != "mail.example.com" {
			t.Fatalf("set: %+v %v", e, err)
		}
		_, err = store.Set(ctx, "smtp_host", "x.example.com", 1, who)
		var ce *config.ConflictError
		if !errors.As(err, &ce) || ce.Current != 2 {
			t.Fatalf("stale set: %v", err)
		}
		// Invalid values change nothing.
		if _, err := store.Set(ctx, "smtp_port", "70000", config.AnyVersion, who); !errors.Is(err, config.ErrInvalid) {
			t.Fatalf("invalid port: %v", err)
		}
		if _, err := store.Get(ctx, "smtp_port"); !errors.Is(err, config.ErrNotFound) {
			t.Fatalf("invalid set left a row: %v", err)
		}
		// Unknown keys are not created.
		if _, err := store.Set(ctx, "no_such_key", "1", config.AnyVersion, who); !errors.Is(err, config.ErrNotFound) {
			t.Fatalf("unknown key: %v", err)
		}
		// Absent precondition on an existing key conflicts.
		if _, err := store.Set(ctx, "smtp_host", "y.example.com", config.Absent, who); !errors.Is(err, config.ErrConflict) {
			t.Fatalf("absent precondition: %v", err)
		}

		// Sensitive: encrypted at rest, masked in the audit trail.
		if _, err := store.Set(ctx, "smtp_pass", "rotated-secret-2", config.AnyVersion, who); err != nil {
			t.Fatal(err)
		}
		var raw string
		if err := d.QueryRowContext(ctx, d.Rebind(`SELECT config_value FROM config WHERE config_key = ?`), "smtp_pass").Scan(&raw); err != nil {
			t.Fatal(err)
		}
		if strings.Contains(raw, "secret") || !config.IsSealed(raw) {
			t.Fatalf("raw sensitive row is not sealed: %q", raw)
		}
		if got, _ := store.Get(ctx, "smtp_pass"); got.Value != "rotated-secret-2" || got.Shown() != config.Masked {
			t.Fatalf("sensitive get %q shown %q", got.Value, got.Shown())
		}
		assertNoPlaintext(t, d, "bootstrap-secret-1", "rotated-secret-2")

		// History: newest first, with actor, request id, address, versions.
		h, err := store.History(ctx, "smtp_host", 10)
		if err != nil || len(h) != 2 {
			t.Fatalf("history %v %v", h, err)
		}
		if h[0].Action != config.ActionUpdate || h[0].Actor != who.Actor || h[0].RequestID != "req-1" || h[0].ClientIP != "192.0.2.1" ||
			*h[0].OldValue != "smtp.example.com" || *h[0].NewValue != "mail.example.com" || h[0].Version != 2 {
			t.Errorf("update record %+v", h[0])
		}
		if h[1].Action != config.ActionBootstrap || h[1].Actor != "system" || h[1].OldValue != nil {
			t.Errorf("bootstrap record %+v", h[1])
		}
		hp, _ := store.History(ctx, "smtp_pass", 10)
		for _, a := range hp {
			for _, v := range []*string{a.OldValue, a.NewValue} {
				if v != nil && *v != config.Masked {
					t.Errorf("sensitive audit value not masked: %q", *v)
				}
			}
		}

		// Delete with a stale version fails; with the right one succeeds and is audited.
		if err := store.Delete(ctx, "smtp_host", 1, who); !errors.Is(err, config.ErrConflict) {
			t.Fatalf("stale delete: %v", err)
		}
		rev0, _ := store.Revision(ctx)
		if err := store.Delete(ctx, "smtp_host", 2, who); err != nil {
			t.Fatal(err)
		}
		if rev1, _ := store.Revision(ctx); rev1 != rev0+1 {
			t.Errorf("delete did not bump the revision: %d -> %d", rev0, rev1)
		}
		if err := store.Delete(ctx, "smtp_host", config.AnyVersion, who); !errors.Is(err, config.ErrNotFound) {
			t.Fatalf("second delete: %v", err)
		}
		if h, _ := store.History(ctx, "smtp_host", 10); len(h) != 3 || h[0].Action != config.ActionDelete || h[0].NewValue != nil {
			t.Errorf("delete record %+v", h)
		}
	})
}

// assertNoPlaintext scans every text column of the config and audit tables.
func assertNoPlaintext(t *testing.T, d *db.DB, secrets ...string) {
	t.Helper()
	for _, q := range []string{
		`SELECT config_key, config_value, COALESCE(description, ''), COALESCE(updated_by, '') FROM config`,
		`SELECT config_key, COALESCE(old_value, ''), COALESCE(new_value, ''), actor FROM config_audit`,
	} {
		rows, err := d.Query(q)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var a, b, c, e string
			if err := rows.Scan(&a, &b, &c, &e); err != nil {
				t.Fatal(err)
			}
			for _, s := range secrets {
				if strings.Contains(a+b+c+e, s) {
					t.Errorf("plaintext secret found in a raw row: %q", a)
				}
			}
		}
		rows.Close()
	}
}

func TestRotateKey(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, s db.Settings) {
		d := dbtest.OpenSettings(t, s)
		store, _ := newStore(t, d)
		ctx := context.Background()
		for k, v := range map[string]string{"smtp_pass": "pw-one", "waddleai_api_key": "wa-two", "smtp_user": "plain"} {
			if _, err := store.Set(ctx, k, v, config.AnyVersion, config.Origin{Actor: "t"}); err != nil {
				t.Fatal(err)
			}
		}
		k2, _ := config.NewKey()
		next, _ := config.NewSealer(k2)
		// The store opens with its current sealer and seals with the next one.
		if _, err := store.RotateKey(ctx, next, config.Origin{Actor: "t"}); err != nil {
			t.Fatalf("rotate: %v", err)
		}
		var ids []string
		rows, _ := d.Query(`SELECT config_value FROM config WHERE is_sensitive = TRUE`)
		for rows.Next() {
			var v string
			rows.Scan(&v)
			ids = append(ids, config.SealedKeyID(v))
		}
		rows.Close()
		if len(ids) != 2 || ids[0] != config.KeyID(k2) || ids[1] != config.KeyID(k2) {
			t.Fatalf("after rotation key ids %v, want %s", ids, config.KeyID(k2))
		}
		// A fresh store with only the new key reads everything.
		fresh := config.NewStore(d.DB, config.Dialect(d.Dialect), config.MustRegistry(config.StandardKeys()...), next)
		if e, err := fresh.Get(ctx, "waddleai_api_key"); err != nil || e.Value != "wa-two" {
			t.Fatalf("read after rotation: %q %v", e.Value, err)
		}
		if h, _ := fresh.History(ctx, "smtp_pass", 1); len(h) != 1 || h[0].Action != config.ActionRekey {
			t.Errorf("rotation not in history: %+v", h)
		}
	})
}

func TestSnapshotLookupOrderAndSubscribe(t *testing.T) {
	d, _ := dbtest.Open(t, db.SQLite)
	store, _ := newStore(t, d)
	ctx := context.Background()
	c := config.New(store, env(map[string]string{"SMTP_PORT": "2525", "WADDLEAI_TIMEOUT": "nope"}), dbtest.Discard())
	if err := c.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	if c.Int("smtp_port") != 2525 || c.Snapshot().Revision != 0 {
		t.Errorf("env layer: %d", c.Int("smtp_port"))
	}
	if c.Int("waddleai_timeout") != 30 {
		t.Errorf("invalid env must fall back to the default, got %d", c.Int("waddleai_timeout"))
	}
	if c.String("waddleai_url") != "http://waddleai:8080" || c.Bool("release_mode") {
		t.Error("defaults")
	}
	var calls atomic.Int32
	var seen []string
	cancel := c.Subscribe(func(ch config.Change) { calls.Add(1); seen = ch.Keys }, "smtp_port")
	c.Subscribe(func(config.Change) { t.Error("subscriber of another key called") }, "smtp_host")
	if _, err := store.Set(ctx, "smtp_port", "465", config.AnyVersion, config.Origin{Actor: "t"}); err != nil {
		t.Fatal(err)
	}
	if err := c.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	if c.Int("smtp_port") != 465 || calls.Load() != 1 || len(seen) != 1 || seen[0] != "smtp_port" {
		t.Fatalf("after change: port %d calls %d keys %v", c.Int("smtp_port"), calls.Load(), seen)
	}
	if v, _ := c.Snapshot().Get("smtp_port"); v.Source != config.FromDatabase {
		t.Errorf("source %s", v.Source)
	}
	cancel()
	store.Set(ctx, "smtp_port", "587", config.AnyVersion, config.Origin{Actor: "t"})
	c.Reload(ctx)
	if calls.Load() != 1 {
		t.Error("cancelled subscriber still called")
	}
}

func TestWatchFollowsAnotherWriter(t *testing.T) {
	d, _ := dbtest.Open(t, db.SQLite)
	store, _ := newStore(t, d)
	c := config.New(store, env(nil), dbtest.Discard())
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan struct{})
	go func() { c.Watch(ctx, 20*time.Millisecond, nil); close(done) }()
	if _, err := store.Set(ctx, "app_name", "penguin", config.AnyVersion, config.Origin{Actor: "t"}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for c.String("app_name") != "penguin" {
		if time.Now().After(deadline) {
			t.Fatal("watch did not pick up the change")
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	select {
	case <-done:
	case <-time.After(2 * time.Second):
		t.Fatal("Watch did not stop when its context ended")
	}
}
