package config_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/rookery/rookery/config"
	"github.com/rookery/rookery/internal/db"
	"github.com/rookery/rookery/internal/dbtest"
)

// set writes values through one batch, failing the test on an error.
func set(t *testing.T, s *config.Store, values map[string]string) {
	t.Helper()
	var edits []config.Edit
	for k, v := range values {
		edits = append(edits, config.Edit{Key: k, Value: v})
	}
	if _, err := s.Apply(context.Background(), edits, config.AnyRevision, config.Origin{Actor: "test"}); err != nil {
		t.Fatal(err)
	}
}

func export(t *testing.T, s *config.Store, o config.ExportOptions, f config.Format) string {
	t.Helper()
	doc, _, err := s.Export(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	b, err := doc.Encode(f)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// applyText plans and commits a document, returning the plan.
func applyText(t *testing.T, s *config.Store, text string, prune bool) config.Plan {
	t.Helper()
	doc, err := config.ParseDocument([]byte(text))
	if err != nil {
		t.Fatal(err)
	}
	plan, err := s.PlanDocument(context.Background(), doc, prune)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Commit(context.Background(), plan, config.Origin{Actor: "ci", RequestID: config.NewChangeID()}); err != nil {
		t.Fatal(err)
	}
	return plan
}

// TestConfigAsCodeRoundTrip: export from A, apply to a fresh B, and B's
// export equals A's; a second apply finds nothing to do; a dry run (plan)
// reports exactly the differences; an invalid file writes nothing.
func TestConfigAsCodeRoundTrip(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, s db.Settings) {
		ctx := context.Background()
		da := dbtest.OpenSettings(t, s)
		a, _ := newStore(t, da)
		set(t, a, map[string]string{"app_name": "shop", "smtp_port": "2525", "killkrill_enabled": "yes",
			"smtp_pass": "hunter2-secret", "log_level": "debug"})
		bs := dbtest.Fresh(t, da.Dialect)
		b, _ := newStore(t, dbtest.OpenSettings(t, bs))
		set(t, b, map[string]string{"smtp_user": "leftover"})

		for _, f := range []config.Format{config.FormatYAML, config.FormatJSON} {
			text := export(t, a, config.ExportOptions{}, f)
			if strings.Contains(text, "hunter2") || strings.Contains(text, "smtp_pass") {
				t.Fatalf("export without --include-secrets names the secret:\n%s", text)
			}
			if !strings.Contains(text, "schema_version") || !strings.Contains(text, config.DocumentKind) {
				t.Fatalf("export has no header:\n%s", text)
			}
			applyText(t, b, text, true)
			if got := export(t, b, config.ExportOptions{}, f); got != text {
				t.Fatalf("%s: export of B differs from A:\n%s\n---\n%s", f, got, text)
			}
			// Applying the same file again changes nothing.
			rev, _ := b.Revision(ctx)
			if plan := applyText(t, b, text, true); len(plan.Changes) != 0 {
				t.Fatalf("second apply planned %+v", plan.Changes)
			}
			if again, _ := b.Revision(ctx); again != rev {
				t.Fatalf("second apply moved the revision %d -> %d", rev, again)
			}
		}
		if _, err := b.Get(ctx, "smtp_user"); !errors.Is(err, config.ErrNotFound) {
			t.Fatalf("prune left smtp_user: %v", err)
		}

		// The dry run reports exactly the differences, secrets as changed only.
		doc, err := config.ParseDocument([]byte("kind: rookery/config\nschema_version: 1\nvalues:\n  app_name: shop\n  smtp_port: 25\n  smtp_host: mail.example.com\n  log_level: null\n  waddleai_api_key: wa-new-key\n"))
		if err != nil {
			t.Fatal(err)
		}
		plan, err := a.PlanDocument(ctx, doc, false)
		if err != nil {
			t.Fatal(err)
		}
		want := "~ smtp_port: \"2525\" -> \"25\"\n" // sorted by key below
		got := plan.String()
		for _, line := range []string{"- log_level: \"debug\" (removed)", "+ smtp_host: \"mail.example.com\"", strings.TrimSpace(want), "~ waddleai_api_key (sensitive): changed"} {
			if !strings.Contains(got, line) {
				t.Errorf("plan lacks %q:\n%s", line, got)
			}
		}
		if len(plan.Changes) != 4 || strings.Contains(got, "wa-new-key") || strings.Contains(got, "app_name") {
			t.Errorf("plan is not exactly the differences:\n%s", got)
		}

		// An invalid file: every problem at once, nothing written.
		before := export(t, a, config.ExportOptions{All: true}, config.FormatJSON)
		revBefore, _ := a.Revision(ctx)
		doc, err = config.ParseDocument([]byte(`{"values": {"app_name": "ok-name", "smtp_port": 99999, "nope_key": 1, "release_mode": "maybe", "log_level": [1]}}`))
		if err != nil {
			t.Fatal(err)
		}
		_, err = a.PlanDocument(ctx, doc, true)
		var be *config.BatchError
		if !errors.As(err, &be) || len(be.Problems) != 4 || be.Problems["nope_key"] != "is not a known setting" {
			t.Fatalf("invalid file: %v", err)
		}
		if after, _ := a.Revision(ctx); after != revBefore || export(t, a, config.ExportOptions{All: true}, config.FormatJSON) != before {
			t.Fatal("an invalid file changed the configuration")
		}
		for _, bad := range []string{"values: [1, 2]", "kind: other\nvalues: {}", "schema_version: 7\nvalues: {}", "values: {a: 1}\nextra: 2", ":::"} {
			if _, err := config.ParseDocument([]byte(bad)); !errors.Is(err, config.ErrInvalid) {
				t.Errorf("document %q: %v", bad, err)
			}
		}
	})
}

// TestExportSecretsSealed: --include-secrets writes secrets sealed, never
// in clear, and they apply only where the same key is configured.
func TestExportSecretsSealed(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, s db.Settings) {
		ctx := context.Background()
		d := dbtest.OpenSettings(t, s)
		a, sealer := newStore(t, d)
		set(t, a, map[string]string{"smtp_pass": "hunter2-secret"})
		text := export(t, a, config.ExportOptions{IncludeSecrets: true}, config.FormatYAML)
		if strings.Contains(text, "hunter2") || !strings.Contains(text, "enc:v1:") {
			t.Fatalf("secret not sealed:\n%s", text)
		}
		// Same key: applies, and the stored value is the secret itself.
		same := config.NewStore(dbtest.OpenSettings(t, dbtest.Fresh(t, d.Dialect)).DB, config.Dialect(d.Dialect),
			config.MustRegistry(config.StandardKeys()...), sealer)
		applyText(t, same, text, false)
		if e, err := same.Get(ctx, "smtp_pass"); err != nil || e.Value != "hunter2-secret" {
			t.Fatalf("sealed secret applied as %q, %v", e.Value, err)
		}
		// Another key: refused with a sentence, nothing written.
		other, _ := newStore(t, dbtest.OpenSettings(t, dbtest.Fresh(t, d.Dialect)))
		doc, _ := config.ParseDocument([]byte(text))
		_, err := other.PlanDocument(ctx, doc, false)
		var be *config.BatchError
		if !errors.As(err, &be) || !strings.Contains(be.Problems["smtp_pass"], "CONFIG_ENCRYPTION_KEY") {
			t.Fatalf("foreign sealed secret: %v", err)
		}
	})
}

// clockPast waits until the database clock's microsecond moved past at, so
// a change made next is strictly later (no sleep of a guessed length).
func clockPast(at time.Time) {
	for !time.Now().UTC().Truncate(time.Microsecond).After(at) {
		time.Sleep(time.Microsecond)
	}
}

// TestRestore: by version (a new change, version rising, audited) and by
// time (every key back, keys created since removed, as one change set).
func TestRestore(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, s db.Settings) {
		ctx := context.Background()
		st, _ := newStore(t, dbtest.OpenSettings(t, s))
		who := config.Origin{Actor: "ada@example.com", RequestID: "req-restore"}
		set(t, st, map[string]string{"app_name": "first", "login_max_attempts": "7", "smtp_pass": "secret-one"})
		h, err := st.History(ctx, "app_name", 10)
		if err != nil || len(h) != 1 {
			t.Fatalf("history %v %v", h, err)
		}
		at := h[0].At
		clockPast(at)
		set(t, st, map[string]string{"app_name": "second", "log_level": "warn", "smtp_pass": "secret-two"})
		set(t, st, map[string]string{"app_name": "third"})

		// By version: app_name back to version 1, as version 4.
		plan, err := st.PlanRestoreVersion(ctx, "app_name", 1)
		if err != nil || len(plan.Changes) != 1 || *plan.Changes[0].New != "first" {
			t.Fatalf("plan %+v %v", plan, err)
		}
		res, err := st.Commit(ctx, plan, who)
		if err != nil || len(res.Applied) != 1 || res.Applied[0].Entry.Version != 4 {
			t.Fatalf("restore by version: %+v %v", res, err)
		}
		if e, _ := st.Get(ctx, "app_name"); e.Value != "first" || e.Version != 4 {
			t.Fatalf("app_name after restore %+v", e)
		}
		if h, _ := st.History(ctx, "app_name", 1); h[0].RequestID != "req-restore" || *h[0].NewValue != "first" {
			t.Fatalf("restore not audited: %+v", h[0])
		}
		if _, err := st.PlanRestoreVersion(ctx, "app_name", 99); !errors.Is(err, config.ErrNotFound) {
			t.Fatalf("unknown version: %v", err)
		}
		if _, err := st.PlanRestoreVersion(ctx, "smtp_pass", 1); !errors.Is(err, config.ErrInvalid) {
			t.Fatalf("secret restored from a masked history: %v", err)
		}

		// By time: back to the first change set. log_level did not exist
		// then; smtp_pass changed and cannot come back (skipped).
		set(t, st, map[string]string{"app_name": "fourth", "login_max_attempts": "9"})
		plan, err = st.PlanRestoreAt(ctx, at)
		if err != nil {
			t.Fatal(err)
		}
		if got := plan.String(); !strings.Contains(got, `~ app_name: "fourth" -> "first"`) || !strings.Contains(got, `~ login_max_attempts: "9" -> "7"`) ||
			!strings.Contains(got, `- log_level: "warn" (removed)`) || len(plan.Changes) != 3 {
			t.Fatalf("restore plan:\n%s", got)
		}
		if !strings.Contains(plan.Skipped["smtp_pass"], "sensitive") {
			t.Fatalf("skipped %v", plan.Skipped)
		}
		if _, err := st.Commit(ctx, plan, who); err != nil {
			t.Fatal(err)
		}
		for k, want := range map[string]string{"app_name": "first", "login_max_attempts": "7"} {
			if e, _ := st.Get(ctx, k); e.Value != want {
				t.Errorf("%s = %q after restore, want %q", k, e.Value, want)
			}
		}
		if _, err := st.Get(ctx, "log_level"); !errors.Is(err, config.ErrNotFound) {
			t.Errorf("log_level still stored: %v", err)
		}
		// Restoring again finds nothing to do; a plan made before a change
		// is refused rather than applied over it.
		if plan, _ := st.PlanRestoreAt(ctx, at); len(plan.Changes) != 0 {
			t.Fatalf("second restore planned %+v", plan.Changes)
		}
		stale, _ := st.PlanRestoreVersion(ctx, "app_name", 3)
		set(t, st, map[string]string{"login_max_attempts": "3"})
		if _, err := st.Commit(ctx, stale, who); !errors.Is(err, config.ErrConflict) {
			t.Fatalf("stale plan committed: %v", err)
		}
	})
}

// TestSchemaLimits: the schema carries the rules' limits as data.
func TestSchemaLimits(t *testing.T) {
	sc := config.Schema(config.MustRegistry(config.StandardKeys()...))
	if sc["$schema"] != config.JSONSchemaDialect {
		t.Fatalf("$schema %v", sc["$schema"])
	}
	props := sc["properties"].(map[string]any)["values"].(map[string]any)["properties"].(map[string]any)
	port := props["smtp_port"].(map[string]any)
	if *ptr(port["minimum"]) != 1 || *ptr(port["maximum"]) != 65535 || port["default"] != int64(587) {
		t.Errorf("smtp_port %v", port)
	}
	level := props["log_level"].(map[string]any)
	if enum := level["enum"].([]any); len(enum) != 5 || enum[0] != "debug" {
		t.Errorf("log_level %v", level)
	}
	pass := props["smtp_pass"].(map[string]any)
	if pass["writeOnly"] != true || pass["default"] != nil {
		t.Errorf("smtp_pass %v", pass)
	}
	if hook := props["config_webhook_url"].(map[string]any); hook["anyOf"] == nil {
		t.Errorf("config_webhook_url %v", hook)
	}
}

func ptr(v any) *int64 {
	n, _ := v.(int64)
	return &n
}

// TestParseDocumentJSON: JSON is read as JSON (tabs and all), numbers exact.
func TestParseDocumentJSON(t *testing.T) {
	doc, err := config.ParseDocument([]byte("{\n\t\"kind\": \"rookery/config\",\n\t\"values\": {\"smtp_port\": 2525, \"app_name\": \"a\"}\n}"))
	if err != nil {
		t.Fatal(err)
	}
	if n, ok := doc.Values["smtp_port"].(json.Number); !ok || n.String() != "2525" {
		t.Fatalf("smtp_port read as %T %v", doc.Values["smtp_port"], doc.Values["smtp_port"])
	}
	for _, bad := range []string{`{"values": {}} {}`, `{"values": {}, "extra": 1}`, `{"values": 3}`} {
		if _, err := config.ParseDocument([]byte(bad)); !errors.Is(err, config.ErrInvalid) {
			t.Errorf("document %s: %v", bad, err)
		}
	}
}

// TestPruneKeepsSecrets: an export leaves secrets out, so pruning with it
// must not delete them; a null in the file still removes one on purpose.
func TestPruneKeepsSecrets(t *testing.T) {
	d, _ := dbtest.Open(t, db.SQLite)
	store, _ := newStore(t, d)
	ctx := context.Background()
	for k, v := range map[string]string{"app_name": "shop", "smtp_pass": "s3cret-pass", "smtp_user": "mailer"} {
		if _, err := store.Set(ctx, k, v, config.AnyVersion, config.Origin{Actor: "t"}); err != nil {
			t.Fatal(err)
		}
	}
	doc, err := config.ParseDocument([]byte("kind: rookery/config\nschema_version: 1\nvalues:\n  app_name: shop\n"))
	if err != nil {
		t.Fatal(err)
	}
	plan, err := store.PlanDocument(ctx, doc, true)
	if err != nil {
		t.Fatal(err)
	}
	var removed []string
	for _, c := range plan.Changes {
		removed = append(removed, c.Key+":"+string(c.Action))
	}
	if strings.Join(removed, ",") != "smtp_user:remove" {
		t.Fatalf("prune plans %v; want only smtp_user removed, never the secret", removed)
	}
	doc, err = config.ParseDocument([]byte("kind: rookery/config\nschema_version: 1\nvalues:\n  smtp_pass: null\n"))
	if err != nil {
		t.Fatal(err)
	}
	if plan, err = store.PlanDocument(ctx, doc, false); err != nil || len(plan.Changes) != 1 || plan.Changes[0].Key != "smtp_pass" {
		t.Fatalf("explicit removal of a secret: %+v %v", plan.Changes, err)
	}
}
