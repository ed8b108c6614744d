package config_test

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"log/slog"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/rookery/rookery/config"
	"github.com/rookery/rookery/internal/db"
	"github.com/rookery/rookery/internal/dbtest"
)

// newEnvStore is newStore with a fixed environment layer.
func newEnvStore(t *testing.T, d *db.DB, vars map[string]string) (*config.Store, *config.Sealer) {
	t.Helper()
	store, sealer := newStore(t, d)
	store.SetEnv(env(vars))
	return store, sealer
}

func TestRegistryChecksCarries(t *testing.T) {
	secret := config.Key{Name: "api_key", Type: config.TypeString, Category: config.Integration, Sensitive: true}
	plain := config.Key{Name: "user", Type: config.TypeString, Category: config.Integration}
	url := func(carries ...string) config.Key {
		return config.Key{Name: "api_url", Type: config.TypeString, Category: config.Integration, Carries: carries}
	}
	for _, c := range []struct {
		name string
		keys []config.Decl
		want string
	}{
		{"undeclared", []config.Decl{url("nope"), secret}, "not declared"},
		{"not sensitive", []config.Decl{url("user"), plain}, "not sensitive"},
		{"itself", []config.Decl{config.Key{Name: "api_key", Type: config.TypeString, Category: config.Integration, Sensitive: true, Carries: []string{"api_key"}}}, "itself"},
		{"twice", []config.Decl{url("api_key", "api_key"), secret}, "twice"},
	} {
		if _, err := config.NewRegistry(c.keys...); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error containing %q", c.name, err, c.want)
		}
	}
	if _, err := config.NewRegistry(url("api_key"), secret); err != nil {
		t.Errorf("a valid declaration refused: %v", err)
	}
	// The standards' pairs are declared on the keys.
	reg := config.MustRegistry(config.StandardKeys()...)
	want := map[string][]string{
		"waddleai_url":          {"waddleai_api_key"},
		"license_server_url":    {"license_key"},
		"killkrill_api_url":     {"killkrill_client_secret"},
		"killkrill_metrics_url": {"killkrill_client_secret"},
		"marchproxy_api":        {"marchproxy_password", "cluster_api_key"},
		"smtp_host":             {"smtp_pass"},
		"smtp_port":             {"smtp_pass"},
		"smtp_tls":              {"smtp_pass"},
		"smtp_allow_insecure":   {"smtp_pass"},
		"config_webhook_url":    {"config_webhook_secret"},
		"oidc_issuer_url":       {"oidc_client_secret"},
	}
	for _, k := range reg.Keys() {
		if !reflect.DeepEqual(k.Carries, want[k.Name]) {
			t.Errorf("%s carries %v, want %v", k.Name, k.Carries, want[k.Name])
		}
	}
}

// Issue 18 item 6: a key deleted and created again never reuses a version,
// so a precondition taken before the delete cannot match the new row.
func TestVersionsNeverReused(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, s db.Settings) {
		d := dbtest.OpenSettings(t, s)
		store, _ := newStore(t, d)
		ctx := context.Background()
		who := config.Origin{Actor: "t"}
		if _, err := store.Set(ctx, "smtp_user", "one", config.Absent, who); err != nil {
			t.Fatal(err)
		}
		if e, err := store.Set(ctx, "smtp_user", "two", 1, who); err != nil || e.Version != 2 {
			t.Fatalf("update: %+v %v", e, err)
		}
		if err := store.Delete(ctx, "smtp_user", 2, who); err != nil {
			t.Fatal(err)
		}
		// A stale precondition against the absent key fails.
		if _, err := store.Set(ctx, "smtp_user", "x", 1, who); !errors.Is(err, config.ErrConflict) {
			t.Fatalf("stale precondition on an absent key: %v", err)
		}
		e, err := store.Set(ctx, "smtp_user", "three", config.Absent, who)
		if err != nil || e.Version <= 3 {
			t.Fatalf("re-created row: version %d (%v), want above every earlier version", e.Version, err)
		}
		for _, stale := range []int64{1, 2, 3} {
			if _, err := store.Set(ctx, "smtp_user", "overwrite", stale, who); !errors.Is(err, config.ErrConflict) {
				t.Fatalf("stale version %d overwrote the new row: %v", stale, err)
			}
		}
		// Through a batch as well: remove, then create again.
		if _, err := store.Apply(ctx, []config.Edit{{Key: "smtp_user", Remove: true}}, config.AnyRevision, who); err != nil {
			t.Fatal(err)
		}
		res, err := store.Apply(ctx, []config.Edit{{Key: "smtp_user", Value: "four"}}, config.AnyRevision, who)
		if err != nil || res.Applied[0].Entry.Version <= e.Version+1 {
			t.Fatalf("batch re-create: %+v %v", res, err)
		}
		got, _ := store.Get(ctx, "smtp_user")
		if got.Version != res.Applied[0].Entry.Version || got.Value != "four" {
			t.Fatalf("stored %+v", got)
		}
		// Versions in the trail only rise.
		h, _ := store.History(ctx, "smtp_user", 100)
		for i := 1; i < len(h); i++ {
			if h[i].Version >= h[i-1].Version {
				t.Errorf("history versions do not rise: %d then %d", h[i].Version, h[i-1].Version)
			}
		}
	})
}

// snapshotDB captures every row a change could touch.
func snapshotDB(t *testing.T, d *db.DB) string {
	t.Helper()
	var b strings.Builder
	for _, q := range []string{
		`SELECT config_key, config_value, version, updated_by FROM config ORDER BY config_key`,
		`SELECT config_key, action, new_value, version FROM config_audit ORDER BY id`,
		`SELECT 'revision', revision, '', '' FROM config_revision`,
		`SELECT name, secret_value, '', '' FROM app_secrets ORDER BY name`,
	} {
		rows, err := d.Query(q)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var c [4]sql.NullString
			if err := rows.Scan(&c[0], &c[1], &c[2], &c[3]); err != nil {
				t.Fatal(err)
			}
			b.WriteString(c[0].String + "|" + c[1].String + "|" + c[2].String + "|" + c[3].String + "\n")
		}
		rows.Close()
	}
	return b.String()
}

func TestApplyAllOrNothing(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, s db.Settings) {
		d := dbtest.OpenSettings(t, s)
		store, _ := newStore(t, d)
		ctx := context.Background()
		who := config.Origin{Actor: "ada@example.com", RequestID: "req-batch", ClientIP: "192.0.2.7"}
		if _, err := store.Set(ctx, "smtp_user", "before", config.AnyVersion, who); err != nil {
			t.Fatal(err)
		}
		before := snapshotDB(t, d)

		// Every refused key is named with its reason; nothing is written.
		_, err := store.Apply(ctx, []config.Edit{
			{Key: "smtp_user", Value: "after"},
			{Key: "smtp_port", Value: "banana"},
			{Key: "waddleai_timeout", Value: "9999"},
			{Key: "no_such_key", Value: "1"},
			{Key: "smtp_from", Value: "ops@example.com"},
		}, config.AnyRevision, who)
		var be *config.BatchError
		if !errors.As(err, &be) || !errors.Is(err, config.ErrInvalid) {
			t.Fatalf("bad batch: %v", err)
		}
		if got := strings.Join(be.Keys(), ","); got != "no_such_key,smtp_port,waddleai_timeout" {
			t.Errorf("refused keys %s", got)
		}
		if !strings.Contains(be.Problems["smtp_port"], "whole number") || !strings.Contains(be.Problems["waddleai_timeout"], "between 1 and 600") ||
			!strings.Contains(be.Problems["no_such_key"], "not a known setting") {
			t.Errorf("reasons %v", be.Problems)
		}
		if after := snapshotDB(t, d); after != before {
			t.Fatalf("a refused batch wrote something:\nbefore\n%s\nafter\n%s", before, after)
		}
		// Validate reports the same without a transaction.
		if p, err := store.Validate(ctx, []config.Edit{{Key: "smtp_port", Value: "banana"}, {Key: "smtp_user", Value: "ok"}}); err != nil || len(p) != 1 || p["smtp_port"] == "" {
			t.Errorf("validate: %v %v", p, err)
		}

		// A stale revision writes nothing either.
		rev, _ := store.Revision(ctx)
		_, err = store.Apply(ctx, []config.Edit{{Key: "smtp_user", Value: "after"}}, rev-1, who)
		var rc *config.RevisionConflictError
		if !errors.As(err, &rc) || rc.Current != rev || !errors.Is(err, config.ErrConflict) {
			t.Fatalf("stale revision: %v", err)
		}
		if after := snapshotDB(t, d); after != before {
			t.Fatal("a stale batch wrote something")
		}

		// A good batch: all keys, one transaction, one revision step, one
		// audit record per key sharing the request id.
		res, err := store.Apply(ctx, []config.Edit{
			{Key: "smtp_user", Value: "after"},
			{Key: "smtp_from", Value: "ops@example.com"},
			{Key: "log_level", Value: "debug"},
			{Key: "smtp_host", Remove: true}, // not stored: nothing to do
		}, rev, who)
		if err != nil {
			t.Fatal(err)
		}
		if res.Revision != rev+1 {
			t.Errorf("revision %d, want %d", res.Revision, rev+1)
		}
		if now, _ := store.Revision(ctx); now != res.Revision {
			t.Errorf("stored revision %d, answered %d", now, res.Revision)
		}
		var keys []string
		for _, a := range res.Applied {
			keys = append(keys, a.Key)
		}
		if strings.Join(keys, ",") != "log_level,smtp_from,smtp_user" {
			t.Errorf("applied %v", keys)
		}
		recent, _ := store.Recent(ctx, 3)
		for _, a := range recent {
			if a.RequestID != "req-batch" || a.Actor != who.Actor {
				t.Errorf("audit record %+v", a)
			}
		}
		if u, _ := store.Get(ctx, "smtp_user"); u.Value != "after" || u.Version != 2 {
			t.Errorf("smtp_user %+v", u)
		}
		// Removal through a batch.
		res, err = store.Apply(ctx, []config.Edit{{Key: "smtp_user", Remove: true}, {Key: "log_level", Value: "warn"}}, res.Revision, who)
		if err != nil || len(res.Applied) != 2 || !res.Applied[1].Removed {
			t.Fatalf("remove: %+v %v", res, err)
		}
		if _, err := store.Get(ctx, "smtp_user"); !errors.Is(err, config.ErrNotFound) {
			t.Errorf("removed key still stored: %v", err)
		}
	})
}

// Many writers holding the same revision: exactly one batch wins.
func TestApplyRevisionRace(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, s db.Settings) {
		d := dbtest.OpenSettings(t, s)
		store, _ := newStore(t, d)
		ctx := context.Background()
		rev, _ := store.Revision(ctx)
		const n = 16
		var wg sync.WaitGroup
		var mu sync.Mutex
		wins, conflicts := 0, 0
		var other []error
		for i := 0; i < n; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				_, err := store.Apply(ctx, []config.Edit{{Key: "smtp_user", Value: "writer-" + strconv.Itoa(i)}, {Key: "log_level", Value: "debug"}},
					rev, config.Origin{Actor: "w"})
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					wins++
				case errors.Is(err, config.ErrConflict):
					conflicts++
				default:
					other = append(other, err)
				}
			}(i)
		}
		wg.Wait()
		if wins != 1 || conflicts+len(other) != n-1 || len(other) > 0 {
			t.Fatalf("wins %d conflicts %d other %v", wins, conflicts, other)
		}
		if now, _ := store.Revision(ctx); now != rev+1 {
			t.Errorf("revision %d after one winning batch from %d", now, rev)
		}
	})
}

// Issue 18 item 7, at the store: every path that changes where a secret
// goes asks for the secret again.
func TestSecretReentry(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, s db.Settings) {
		d := dbtest.OpenSettings(t, s)
		// killkrill_client_secret comes from the environment only.
		store, _ := newEnvStore(t, d, map[string]string{"KILLKRILL_CLIENT_SECRET": "from-env", "SMTP_HOST": "smtp.example.com"})
		ctx := context.Background()
		who := config.Origin{Actor: "t"}
		for k, v := range map[string]string{"waddleai_api_key": "wa-1", "marchproxy_password": "mp-1", "cluster_api_key": "ck-1", "smtp_pass": "pw-1"} {
			if _, err := store.Set(ctx, k, v, config.AnyVersion, who); err != nil {
				t.Fatal(err)
			}
		}
		reentry := func(err error, secrets ...string) {
			t.Helper()
			var re *config.SecretReentryError
			if !errors.As(err, &re) || !reflect.DeepEqual(re.Secrets, secrets) {
				t.Fatalf("got %v, want re-entry of %v", err, secrets)
			}
		}
		_, err := store.Set(ctx, "waddleai_url", "https://attacker.example", config.AnyVersion, who)
		reentry(err, "waddleai_api_key")
		_, err = store.Set(ctx, "killkrill_metrics_url", "https://attacker.example", config.AnyVersion, who)
		reentry(err, "killkrill_client_secret")
		_, err = store.Set(ctx, "marchproxy_api", "https://attacker.example", config.AnyVersion, who)
		reentry(err, "cluster_api_key", "marchproxy_password")
		_, err = store.Apply(ctx, []config.Edit{{Key: "marchproxy_api", Value: "https://attacker.example"}, {Key: "cluster_api_key", Value: "ck-2"}}, config.AnyRevision, who)
		reentry(err, "marchproxy_password")
		// Removing a secret that the environment also holds leaves the
		// environment's value to be sent: still refused.
		_, err = store.Apply(ctx, []config.Edit{{Key: "killkrill_api_url", Value: "https://attacker.example"}, {Key: "killkrill_client_secret", Remove: true}}, config.AnyRevision, who)
		reentry(err, "killkrill_client_secret")
		// Same value again: nothing moves.
		if _, err := store.Set(ctx, "smtp_host", "smtp.example.com", config.AnyVersion, who); err != nil {
			t.Errorf("setting the environment's own host again: %v", err)
		}
		// Given along: accepted.
		if _, err := store.Apply(ctx, []config.Edit{{Key: "waddleai_url", Value: "https://ai.example"}, {Key: "waddleai_api_key", Value: "wa-2"}}, config.AnyRevision, who); err != nil {
			t.Fatal(err)
		}
		// Removed along (nothing in the environment): accepted.
		if _, err := store.Apply(ctx, []config.Edit{{Key: "smtp_port", Value: "2525"}, {Key: "smtp_pass", Remove: true}}, config.AnyRevision, who); err != nil {
			t.Fatal(err)
		}
		// Without the secret set the URL moves freely.
		if _, err := store.Set(ctx, "smtp_host", "mail.example.com", config.AnyVersion, who); err != nil {
			t.Fatal(err)
		}
		// Removing a carrier moves it back to the environment's value:
		// refused while its secret is set...
		if _, err := store.Set(ctx, "smtp_pass", "pw-3", config.AnyVersion, who); err != nil {
			t.Fatal(err)
		}
		reentry(store.Delete(ctx, "smtp_host", config.AnyVersion, who), "smtp_pass")
		// ...but a carrier cleared to nothing sends nothing anywhere.
		if _, err := store.Set(ctx, "killkrill_metrics_url", "", config.AnyVersion, who); err != nil {
			t.Errorf("clearing an optional URL: %v", err)
		}
		// Bootstrap from the environment is not affected.
		d2, _ := dbtest.Open(t, d.Dialect)
		fresh, _ := newEnvStore(t, d2, nil)
		if res, err := fresh.Bootstrap(ctx, env(map[string]string{"WADDLEAI_API_KEY": "wa", "WADDLEAI_URL": "https://ai.example"})); err != nil || len(res.Inserted) != 2 {
			t.Errorf("bootstrap: %+v %v", res, err)
		}
	})
}

// Issue 18 item 11: rotation re-seals config values and app secrets in one
// transaction; a failure midway leaves every row as it was.
func TestRotateKeyOneTransaction(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, s db.Settings) {
		d := dbtest.OpenSettings(t, s)
		store, sealer := newStore(t, d)
		ctx := context.Background()
		for k, v := range map[string]string{"smtp_pass": "pw-one", "waddleai_api_key": "wa-two"} {
			if _, err := store.Set(ctx, k, v, config.AnyVersion, config.Origin{Actor: "t"}); err != nil {
				t.Fatal(err)
			}
		}
		signing, _ := sealer.Seal("jwt_signing_key", "c2lnbmluZy1rZXk=")
		other, _ := sealer.Seal("another_secret", "other-value")
		// Sealed under the current key id, but not by it: it cannot be
		// opened, and sorts after the rows re-sealed before it.
		broken := "enc:v1:" + sealer.CurrentKeyID() + ":AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
		for name, v := range map[string]string{"another_secret": other, "jwt_signing_key": signing, "zz_broken": broken, "plain_marker": "in the clear"} {
			if _, err := d.Exec(d.Rebind(`INSERT INTO app_secrets (name, secret_value, created_at) VALUES (?, ?, CURRENT_TIMESTAMP)`), name, v); err != nil {
				t.Fatal(err)
			}
		}
		before := snapshotDB(t, d)
		k2, _ := config.NewKey()
		old, _ := config.NewKey()
		next, _ := config.NewSealer(k2, old)
		_, err := store.RotateKey(ctx, next, config.Origin{Actor: "t"})
		if !errors.Is(err, config.ErrUnreadable) || !strings.Contains(err.Error(), "zz_broken") {
			t.Fatalf("rotation over an unreadable app secret: %v", err)
		}
		if after := snapshotDB(t, d); after != before {
			t.Fatalf("a failed rotation changed rows:\nbefore\n%s\nafter\n%s", before, after)
		}
		// The store still reads with the old key.
		if e, err := store.Get(ctx, "smtp_pass"); err != nil || e.Value != "pw-one" {
			t.Fatalf("after failed rotation: %+v %v", e, err)
		}

		if _, err := d.Exec(d.Rebind(`DELETE FROM app_secrets WHERE name = ?`), "zz_broken"); err != nil {
			t.Fatal(err)
		}
		res, err := store.RotateKey(ctx, next, config.Origin{Actor: "t"})
		if err != nil || res.Values != 2 || res.AppSecrets != 2 {
			t.Fatalf("rotate: %+v %v", res, err)
		}
		only, _ := config.NewSealer(k2)
		rows, err := d.Query(`SELECT name, secret_value FROM app_secrets ORDER BY name`)
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]string{}
		for rows.Next() {
			var n, v string
			rows.Scan(&n, &v)
			if config.IsSealed(v) {
				if v, err = only.Open(n, v); err != nil {
					t.Errorf("app secret %s does not open with the new key alone: %v", n, err)
				}
			}
			got[n] = v
		}
		rows.Close()
		if got["jwt_signing_key"] != "c2lnbmluZy1rZXk=" || got["another_secret"] != "other-value" || got["plain_marker"] != "in the clear" {
			t.Errorf("app secrets after rotation: %v", got)
		}
		fresh := config.NewStore(d.DB, config.Dialect(d.Dialect), config.MustRegistry(config.StandardKeys()...), only)
		if e, err := fresh.Get(ctx, "waddleai_api_key"); err != nil || e.Value != "wa-two" || e.Unreadable != "" {
			t.Fatalf("config after rotation with the new key alone: %+v %v", e, err)
		}
	})
}

// tamper rewrites the sealed value of key so that it no longer opens.
func tamper(t *testing.T, d *db.DB, key string) {
	t.Helper()
	var v string
	if err := d.QueryRow(d.Rebind(`SELECT config_value FROM config WHERE config_key = ?`), key).Scan(&v); err != nil {
		t.Fatal(err)
	}
	// A character well inside the ciphertext: every bit of it counts (the
	// last base64 character may carry padding bits only).
	i := len(v) - 10
	flip := byte('A')
	if v[i] == 'A' {
		flip = 'B'
	}
	if _, err := d.Exec(d.Rebind(`UPDATE config SET config_value = ? WHERE config_key = ?`), v[:i]+string(flip)+v[i+1:], key); err != nil {
		t.Fatal(err)
	}
}

// Issue 18 item 10: one tampered sealed row neither stops a load nor the
// delete that fixes it.
func TestUnreadableRowSurvives(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, s db.Settings) {
		d := dbtest.OpenSettings(t, s)
		store, _ := newStore(t, d)
		ctx := context.Background()
		who := config.Origin{Actor: "t"}
		const secret = "tampered-secret-value"
		for k, v := range map[string]string{"waddleai_api_key": secret, "smtp_pass": "fine-secret", "smtp_user": "plain"} {
			if _, err := store.Set(ctx, k, v, config.AnyVersion, who); err != nil {
				t.Fatal(err)
			}
		}
		tamper(t, d, "waddleai_api_key")

		var logs bytes.Buffer
		c := config.New(store, env(map[string]string{"WADDLEAI_API_KEY": "env-fallback"}), slog.New(slog.NewJSONHandler(&logs, nil)))
		if err := c.Reload(ctx); err != nil {
			t.Fatalf("load with one unreadable row: %v", err)
		}
		v, _ := c.Snapshot().Get("waddleai_api_key")
		if !v.Unreadable() || v.Text != "env-fallback" || v.Source != config.FromEnvironment {
			t.Fatalf("unreadable value: %+v", v)
		}
		if c.Secret("smtp_pass").Reveal() != "fine-secret" || c.String("smtp_user") != "plain" {
			t.Error("the other rows must load")
		}
		if n := strings.Count(logs.String(), `"key":"waddleai_api_key"`); n != 1 || !strings.Contains(logs.String(), `"level":"ERROR"`) {
			t.Errorf("want one error naming the key, got %d: %s", n, logs.String())
		}
		if strings.Contains(logs.String(), secret) {
			t.Fatal("the log holds the value")
		}
		// Rotation cannot carry it: refused, naming the key.
		k2, _ := config.NewKey()
		next, _ := config.NewSealer(k2)
		if _, err := store.RotateKey(ctx, next, who); !errors.Is(err, config.ErrUnreadable) || !strings.Contains(err.Error(), "waddleai_api_key") {
			t.Errorf("rotation over an unreadable row: %v", err)
		}
		// Delete asks for force; force deletes and records it.
		err := store.Delete(ctx, "waddleai_api_key", config.AnyVersion, who)
		if !errors.Is(err, config.ErrUnreadable) || !strings.Contains(err.Error(), "--force") {
			t.Fatalf("delete without force: %v", err)
		}
		if err := store.ForceDelete(ctx, "waddleai_api_key", config.AnyVersion, who); err != nil {
			t.Fatalf("force delete: %v", err)
		}
		h, _ := store.History(ctx, "waddleai_api_key", 1)
		if len(h) != 1 || h[0].Action != config.ActionDelete || h[0].OldValue == nil || *h[0].OldValue != config.UnreadableMark {
			t.Errorf("delete record %+v", h)
		}
		// A new value can also replace an unreadable row.
		if _, err := store.Set(ctx, "smtp_pass", "x", config.AnyVersion, who); err != nil {
			t.Fatal(err)
		}
		tamper(t, d, "smtp_pass")
		if e, err := store.Set(ctx, "smtp_pass", "new-secret", config.AnyVersion, who); err != nil || e.Value != "new-secret" {
			t.Fatalf("replace unreadable: %+v %v", e, err)
		}
		if err := c.Reload(ctx); err != nil || c.Secret("smtp_pass").Reveal() != "new-secret" {
			t.Fatalf("after replace: %v", err)
		}
		keys := []string{}
		rows, _ := store.Recent(ctx, 2)
		for _, a := range rows {
			keys = append(keys, a.Key+":"+deref(a.OldValue))
		}
		sort.Strings(keys)
		if !strings.Contains(strings.Join(keys, ","), "smtp_pass:"+config.UnreadableMark) {
			t.Errorf("replace record %v", keys)
		}
	})
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// Many writers creating, updating and deleting one key at once: every
// version the key's trail records is new, in the order written.
func TestVersionsRiseUnderConcurrentDeleteAndCreate(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, s db.Settings) {
		d := dbtest.OpenSettings(t, s)
		store, _ := newStore(t, d)
		ctx := context.Background()
		var wg sync.WaitGroup
		var mu sync.Mutex
		var unexpected []error
		for w := 0; w < 8; w++ {
			wg.Add(1)
			go func(w int) {
				defer wg.Done()
				for i := 0; i < 12; i++ {
					var err error
					if (w+i)%3 == 0 {
						err = store.Delete(ctx, "smtp_user", config.AnyVersion, config.Origin{Actor: "w"})
					} else {
						_, err = store.Set(ctx, "smtp_user", "v"+strconv.Itoa(w*100+i), config.AnyVersion, config.Origin{Actor: "w"})
					}
					// Losing a race is an answer (not found, conflict);
					// anything else (a deadlock) is a failure.
					if err != nil && !errors.Is(err, config.ErrNotFound) && !errors.Is(err, config.ErrConflict) {
						mu.Lock()
						unexpected = append(unexpected, err)
						mu.Unlock()
					}
				}
			}(w)
		}
		wg.Wait()
		if len(unexpected) > 0 {
			t.Fatalf("unexpected errors: %v", unexpected)
		}
		h, err := store.History(ctx, "smtp_user", 1000)
		if err != nil || len(h) < 10 {
			t.Fatalf("history: %d records, %v", len(h), err)
		}
		creates := 0
		for i := 1; i < len(h); i++ { // newest first
			if h[i].Version >= h[i-1].Version {
				var trail []string
				for j := len(h) - 1; j >= 0 && j >= i-3; j-- {
					trail = append(trail, strconv.FormatInt(h[j].ID, 10)+":"+h[j].Action+":v"+strconv.FormatInt(h[j].Version, 10))
				}
				t.Fatalf("version %d recorded after %d: %v", h[i-1].Version, h[i].Version, trail)
			}
			if h[i].Action == config.ActionCreate {
				creates++
			}
		}
		if creates < 2 {
			t.Errorf("only %d re-creations: the race did not happen", creates)
		}
	})
}

// A rotation run by another process re-seals rows with a key this process
// gets only at its restart: until then it keeps serving the values it had
// loaded, instead of dropping its secrets to their fallbacks.
func TestRunningProcessKeepsValuesAfterRotationElsewhere(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, s db.Settings) {
		d := dbtest.OpenSettings(t, s)
		running, _ := newStore(t, d)
		ctx := context.Background()
		if _, err := running.Set(ctx, "waddleai_api_key", "wa-live", config.AnyVersion, config.Origin{Actor: "t"}); err != nil {
			t.Fatal(err)
		}
		var logs bytes.Buffer
		c := config.New(running, env(nil), slog.New(slog.NewJSONHandler(&logs, nil)))
		if err := c.Reload(ctx); err != nil {
			t.Fatal(err)
		}
		// The operator's process: another store with the same key, rotating.
		operator := config.NewStore(d.DB, config.Dialect(d.Dialect), config.MustRegistry(config.StandardKeys()...), running.Sealer())
		k2, _ := config.NewKey()
		next, _ := config.NewSealer(k2)
		if _, err := operator.RotateKey(ctx, next, config.Origin{Actor: "t"}); err != nil {
			t.Fatal(err)
		}
		if err := c.Reload(ctx); err != nil {
			t.Fatal(err)
		}
		v, _ := c.Snapshot().Get("waddleai_api_key")
		if v.Text != "wa-live" || v.Unreadable() || v.Source != config.FromDatabase {
			t.Fatalf("after a rotation elsewhere: %+v", v)
		}
		if !strings.Contains(logs.String(), "restart with the current CONFIG_ENCRYPTION_KEY") || strings.Contains(logs.String(), "wa-live") {
			t.Errorf("log: %s", logs.String())
		}
		// A process started now with the old key alone cannot read it.
		fresh := config.New(config.NewStore(d.DB, config.Dialect(d.Dialect), config.MustRegistry(config.StandardKeys()...), running.Sealer()), env(nil), dbtest.Discard())
		if err := fresh.Reload(ctx); err != nil {
			t.Fatal(err)
		}
		if v, _ := fresh.Snapshot().Get("waddleai_api_key"); !v.Unreadable() || v.Text != "" {
			t.Errorf("fresh process with the old key: %+v", v)
		}
	})
}
