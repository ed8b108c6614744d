package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rookery/rookery/config"
	"github.com/rookery/rookery/internal/db"
	"github.com/rookery/rookery/internal/dbtest"
)

// TestConfigAsCodeCommands: export from database A, apply to a fresh B
// (dry run exits 2 and writes nothing, the real run applies, a second run
// has nothing to do), an invalid file exits 1 naming every problem, and
// restore by version and by time.
func TestConfigAsCodeCommands(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, s db.Settings) {
		dir := t.TempDir()
		t.Setenv("DATA_DIR", dir)
		t.Setenv("BCRYPT_COST", "4")
		t.Setenv("DATABASE_URL", s.URL)
		// One key for both databases, as two installs that share secrets.
		key, _ := config.NewKey()
		t.Setenv("CONFIG_ENCRYPTION_KEY", config.EncodeKey(key))
		if _, err := run(t, "", "config", "set", "app_name", "shop", "log_level", "debug", "login_max_attempts", "9"); err != nil {
			t.Fatal(err)
		}
		file := filepath.Join(dir, "config.yaml")
		if _, err := run(t, "", "config", "export", "-o", file); err != nil {
			t.Fatal(err)
		}
		exported, _ := os.ReadFile(file)
		if fi, _ := os.Stat(file); fi.Mode().Perm() != 0o600 || !strings.Contains(string(exported), "login_max_attempts: 9") {
			t.Fatalf("export file %v:\n%s", fi.Mode(), exported)
		}

		// B: another database with the same encryption key.
		_, dialect, _, _ := s.Target()
		t.Setenv("DATABASE_URL", dbtest.Fresh(t, dialect).URL)
		if _, err := run(t, "", "config", "set", "smtp_user", "stale"); err != nil {
			t.Fatal(err)
		}
		out, err := run(t, "", "config", "apply", "-f", file, "--prune", "--dry-run")
		if exitCode(err) != 2 || !strings.Contains(out, `+ app_name: "shop"`) || !strings.Contains(out, `- smtp_user: "stale" (removed)`) {
			t.Fatalf("dry run: exit %d %v\n%s", exitCode(err), err, out)
		}
		if out, _ := run(t, "", "config", "get", "app_name"); strings.TrimSpace(out) != "rookery" {
			t.Fatalf("the dry run wrote: %s", out)
		}
		if out, err := run(t, "", "config", "apply", "-f", file, "--prune"); err != nil || !strings.Contains(out, "applied 4 change(s)") {
			t.Fatalf("apply: %v\n%s", err, out)
		}
		if out, err := run(t, "", "config", "export"); err != nil || out != string(exported) {
			t.Fatalf("export of B differs: %v\n%s\n---\n%s", err, out, exported)
		}
		if out, err := run(t, "", "config", "apply", "-f", file, "--prune", "--dry-run"); err != nil || out != "no changes\n" {
			t.Fatalf("second apply: %v %q", err, out)
		}

		bad := "values:\n  app_name: Bad Name\n  smtp_port: nope\n  unknown_key: 1\n"
		out, err = run(t, bad, "config", "apply", "-f", "-")
		if exitCode(err) != 1 || !strings.Contains(err.Error(), "3 setting(s) refused") || !strings.Contains(err.Error(), "unknown_key: is not a known setting") {
			t.Fatalf("invalid file: exit %d %v\n%s", exitCode(err), err, out)
		}
		if out, _ := run(t, "", "config", "get", "app_name"); strings.TrimSpace(out) != "shop" {
			t.Fatalf("an invalid file wrote: %s", out)
		}

		// Restore by version: app_name was created at version 1.
		if h, _ := run(t, "", "config", "history", "app_name"); !strings.Contains(h, "chg-") {
			t.Fatalf("the apply's audit records carry no change id:\n%s", h)
		}
		at := time.Now().UTC()
		for !time.Now().UTC().Truncate(time.Microsecond).After(at) {
			time.Sleep(time.Microsecond)
		}
		if _, err := run(t, "", "config", "set", "app_name", "other", "log_level", "warn"); err != nil {
			t.Fatal(err)
		}
		if out, err := run(t, "", "config", "restore", "app_name", "--version", "1"); err != nil || !strings.Contains(out, `~ app_name: "other" -> "shop"`) {
			t.Fatalf("restore by version: %v\n%s", err, out)
		}
		out, err = run(t, "", "config", "restore", "--at", at.Format(time.RFC3339Nano), "--dry-run")
		if exitCode(err) != 2 || out != "~ log_level: \"warn\" -> \"debug\"\n" {
			t.Fatalf("restore --at --dry-run: exit %d %q", exitCode(err), out)
		}
		if _, err := run(t, "", "config", "restore", "--at", at.Format(time.RFC3339Nano)); err != nil {
			t.Fatal(err)
		}
		if out, _ := run(t, "", "config", "get", "log_level"); strings.TrimSpace(out) != "debug" {
			t.Fatalf("log_level after restore: %s", out)
		}
		for _, args := range [][]string{{"config", "restore", "app_name"}, {"config", "restore", "--at", "noon"}, {"config", "restore", "app_name", "--version", "99"}} {
			if _, err := run(t, "", args...); exitCode(err) != 1 {
				t.Errorf("%v: exit %d %v", args, exitCode(err), err)
			}
		}

		// The schema prints and names the keys.
		if out, err := run(t, "", "config", "schema"); err != nil || !strings.Contains(out, config.JSONSchemaDialect) || !strings.Contains(out, `"config_webhook_secret"`) {
			t.Fatalf("schema: %v %.200s", err, out)
		}
	})
}
