package cli

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rookery/rookery/internal/app"
)

// run executes the CLI with args and stdin, returning stdout.
func run(t *testing.T, stdin string, args ...string) (string, error) {
	t.Helper()
	root := New("rookery", "test", app.Extension{}).Root()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&bytes.Buffer{})
	root.SetIn(strings.NewReader(stdin))
	root.SetArgs(args)
	err := root.ExecuteContext(context.Background())
	return out.String(), err
}

func TestConfigCommands(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("DATA_DIR", dir)
	t.Setenv("BCRYPT_COST", "4")

	out, err := run(t, "s3cret-smtp-password\n", "config", "set", "smtp_pass", "-")
	if err != nil || strings.Contains(out, "s3cret") || !strings.Contains(out, "***SENSITIVE***") {
		t.Fatalf("set secret: %q %v", out, err)
	}
	if _, err := run(t, "", "config", "set", "smtp_port", "banana"); err == nil || !strings.Contains(err.Error(), "whole number") {
		t.Fatalf("invalid value accepted: %v", err)
	}
	// smtp_port carries smtp_pass: the port alone is refused, naming the
	// secret and the command that sends it along; both together pass.
	if _, err := run(t, "", "config", "set", "smtp_port", "2525"); err == nil ||
		!strings.Contains(err.Error(), "smtp_pass") || !strings.Contains(err.Error(), "rookery config set smtp_port - smtp_pass -") {
		t.Fatalf("port changed without the password: %v", err)
	}
	if out, err := run(t, "2525\ns3cret-smtp-password\n", "config", "set", "smtp_port", "-", "smtp_pass", "-", "--actor", "ops"); err != nil ||
		!strings.Contains(out, "smtp_port = 2525") || !strings.Contains(out, "smtp_pass = ***SENSITIVE***") {
		t.Fatalf("set port and password together: %q %v", out, err)
	}
	out, _ = run(t, "", "config", "list", "--category", "email")
	if !strings.Contains(out, "2525") || strings.Contains(out, "s3cret") || !strings.Contains(out, "ops") {
		t.Fatalf("list: %s", out)
	}
	if out, _ := run(t, "", "config", "get", "smtp_pass"); strings.TrimSpace(out) != "***SENSITIVE***" {
		t.Fatalf("get secret: %q", out)
	}
	if out, _ := run(t, "", "config", "history", "smtp_port"); !strings.Contains(out, "create") || !strings.Contains(out, "ops") {
		t.Fatalf("history: %s", out)
	}
	if out, _ := run(t, "", "config", "keys"); !strings.Contains(out, "SMTP_PASS") || !strings.Contains(out, "WADDLEAI_API_KEY") {
		t.Fatalf("keys: %s", out)
	}

	// Rotation with the generated key file: new key in place, old kept aside,
	// the secret still reads back.
	oldKey, _ := os.ReadFile(filepath.Join(dir, "config.key"))
	out, err = run(t, "", "config", "rotate-key")
	if err != nil || !strings.Contains(out, "re-encrypted 1 sensitive value") {
		t.Fatalf("rotate: %q %v", out, err)
	}
	newKey, _ := os.ReadFile(filepath.Join(dir, "config.key"))
	kept, _ := os.ReadFile(filepath.Join(dir, "config.key.old"))
	if bytes.Equal(oldKey, newKey) || !bytes.Equal(oldKey, kept) {
		t.Fatal("key files not rotated as documented")
	}
	s, _ := app.SettingsFromEnv(os.Getenv)
	core, err := app.OpenCore(context.Background(), s, discardLog())
	if err != nil {
		t.Fatalf("open after rotation with only the new key: %v", err)
	}
	defer core.Close()
	if got := core.Config.Secret("smtp_pass").Reveal(); got != "s3cret-smtp-password" {
		t.Fatalf("secret after rotation = %q", got)
	}
}

func TestUserCommands(t *testing.T) {
	t.Setenv("DATA_DIR", t.TempDir())
	t.Setenv("BCRYPT_COST", "4")
	t.Setenv("ROOKERY_PASSWORD", "")
	if _, err := run(t, "short\n", "user", "create", "a@example.com"); err == nil || !strings.Contains(err.Error(), "at least") {
		t.Fatalf("short password accepted: %v", err)
	}
	if out, err := run(t, "long-enough-password\n", "user", "create", "a@example.com", "--role", "admin"); err != nil || !strings.Contains(out, "created a@example.com (admin)") {
		t.Fatalf("create: %q %v", out, err)
	}
	if _, err := run(t, "", "user", "set-role", "a@example.com", "viewer"); err == nil || !strings.Contains(err.Error(), "last admin") {
		t.Fatalf("last admin demoted: %v", err)
	}
	t.Setenv("ROOKERY_PASSWORD", "another-long-password")
	run(t, "", "user", "create", "b@example.com")
	if out, _ := run(t, "", "user", "list"); !strings.Contains(out, "b@example.com") || !strings.Contains(out, "viewer") {
		t.Fatalf("list: %s", out)
	}
	if _, err := run(t, "", "user", "set-role", "b@example.com", "owner"); err == nil {
		t.Fatal("unknown role accepted")
	}
}

func discardLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// The marchproxy_extras setting reaches `marchproxy generate`; --extra
// replaces it.
func TestMarchProxyGenerateUsesExtrasSetting(t *testing.T) {
	t.Setenv("DATA_DIR", t.TempDir())
	mpClearEnv(t)
	extras := `{"services":[{"name":"rookery-worker","ip_fqdn":"worker","port":9000,"auth_type":"none"}]}`
	if _, err := run(t, extras, "config", "set", "marchproxy_extras", "-"); err != nil {
		t.Fatalf("set extras: %v", err)
	}
	if _, err := run(t, "", "config", "set", "marchproxy_extras", `{"services":[{"name":"worker"}]}`); err == nil ||
		!strings.Contains(err.Error(), `services[0].name: "worker" does not follow`) {
		t.Fatalf("invalid extras: %v", err)
	}
	out := t.TempDir()
	if _, err := run(t, "", "marchproxy", "generate", "--out", out); err != nil {
		t.Fatalf("generate: %v", err)
	}
	b, _ := os.ReadFile(filepath.Join(out, "services.json"))
	if !strings.Contains(string(b), `"name": "rookery-worker"`) || !strings.Contains(string(b), `"name": "rookery-api"`) {
		t.Fatalf("services.json without the stored extras:\n%s", b)
	}

	file := filepath.Join(t.TempDir(), "extras.json")
	os.WriteFile(file, []byte(`{"services":[{"name":"rookery-cron","ip_fqdn":"cron","port":9100,"auth_type":"none"}]}`), 0o600)
	if _, err := run(t, "", "marchproxy", "generate", "--out", out, "--extra", file); err != nil {
		t.Fatalf("generate --extra: %v", err)
	}
	b, _ = os.ReadFile(filepath.Join(out, "services.json"))
	if !strings.Contains(string(b), `"rookery-cron"`) || strings.Contains(string(b), `"rookery-worker"`) {
		t.Fatalf("--extra should replace the setting:\n%s", b)
	}
}

// runErr is run that also returns what the command wrote to standard error.
func runErr(t *testing.T, stdin string, args ...string) (string, string, error) {
	t.Helper()
	root := New("rookery", "test", app.Extension{}).Root()
	var out, errOut bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&errOut)
	root.SetIn(strings.NewReader(stdin))
	root.SetArgs(args)
	err := root.ExecuteContext(context.Background())
	return out.String(), errOut.String(), err
}

// Issue 18 item 10: a tampered sealed row stops no command; list and get
// say so; delete needs --force and then clears it.
func TestConfigUnreadableRowCommands(t *testing.T) {
	t.Setenv("DATA_DIR", t.TempDir())
	t.Setenv("BCRYPT_COST", "4")
	t.Setenv("SMTP_PASS", "")
	const secret = "cli-stored-secret"
	if _, err := run(t, secret+"\n", "config", "set", "smtp_pass", "-"); err != nil {
		t.Fatal(err)
	}
	s, _ := app.SettingsFromEnv(os.Getenv)
	core, err := app.OpenCore(context.Background(), s, discardLog())
	if err != nil {
		t.Fatal(err)
	}
	var v string
	core.DB.QueryRow(`SELECT config_value FROM config WHERE config_key = 'smtp_pass'`).Scan(&v)
	i := len(v) - 10
	flip := "A"
	if v[i] == 'A' {
		flip = "B"
	}
	if _, err := core.DB.Exec(`UPDATE config SET config_value = ? WHERE config_key = 'smtp_pass'`, v[:i]+flip+v[i+1:]); err != nil {
		t.Fatal(err)
	}
	core.Close()

	out, err := run(t, "", "config", "list", "--category", "email")
	if err != nil || !strings.Contains(out, "unreadable") || !strings.Contains(out, "rookery config delete smtp_pass --force") || strings.Contains(out, secret) {
		t.Fatalf("list: %q %v", out, err)
	}
	out, _ = run(t, "", "config", "list", "--json")
	if !strings.Contains(out, `"unreadable":true`) {
		t.Errorf("list --json: %s", out)
	}
	out, stderr, err := runErr(t, "", "config", "get", "smtp_pass")
	if err != nil || strings.TrimSpace(out) != "" || !strings.Contains(stderr, "cannot be decrypted") || !strings.Contains(stderr, "--force") {
		t.Errorf("get: %q %q %v", out, stderr, err)
	}
	if _, err := run(t, "", "config", "delete", "smtp_pass"); err == nil || !strings.Contains(err.Error(), "--force") {
		t.Fatalf("delete without --force: %v", err)
	}
	if out, err := run(t, "", "config", "delete", "smtp_pass", "--force"); err != nil || !strings.Contains(out, "smtp_pass deleted") {
		t.Fatalf("delete --force: %q %v", out, err)
	}
	if out, _ := run(t, "", "config", "history", "smtp_pass"); !strings.Contains(out, "delete") || !strings.Contains(out, "(unreadable)") {
		t.Errorf("history: %s", out)
	}
	if out, _ := run(t, "", "config", "list", "--category", "email"); strings.Contains(out, "unreadable") {
		t.Errorf("still unreadable after delete: %s", out)
	}
}

// Several keys in one command, one transaction: a bad value anywhere
// writes nothing; --remove goes along.
func TestConfigSetSeveral(t *testing.T) {
	t.Setenv("DATA_DIR", t.TempDir())
	t.Setenv("BCRYPT_COST", "4")
	if _, err := run(t, "", "config", "set", "smtp_user", "ops", "log_level", "debug", "smtp_port", "banana"); err == nil ||
		!strings.Contains(err.Error(), "smtp_port") || !strings.Contains(err.Error(), "nothing was changed") {
		t.Fatalf("bad batch: %v", err)
	}
	if out, _ := run(t, "", "config", "get", "log_level"); strings.TrimSpace(out) != "info" {
		t.Fatalf("a refused batch wrote log_level: %q", out)
	}
	out, err := run(t, "", "config", "set", "smtp_user", "ops", "log_level", "debug")
	if err != nil || !strings.Contains(out, "smtp_user = ops") || !strings.Contains(out, "log_level = debug") {
		t.Fatalf("batch: %q %v", out, err)
	}
	if out, err := run(t, "", "config", "set", "log_level", "warn", "--remove", "smtp_user"); err != nil || !strings.Contains(out, "smtp_user removed") {
		t.Fatalf("batch with --remove: %q %v", out, err)
	}
	if _, err := run(t, "", "config", "set", "log_level"); err == nil {
		t.Error("odd argument count accepted")
	}
	// Changing or deleting a carrier while its secret is set names the
	// command that sends the secret along.
	if _, err := run(t, "pw\n", "config", "set", "smtp_port", "2525", "smtp_pass", "-"); err != nil {
		t.Fatal(err)
	}
	if _, err := run(t, "", "config", "set", "smtp_port", "25"); err == nil ||
		!strings.Contains(err.Error(), "rookery config set smtp_port - smtp_pass -") {
		t.Fatalf("carrier without its secret: %v", err)
	}
	if _, err := run(t, "", "config", "delete", "smtp_port"); err == nil ||
		!strings.Contains(err.Error(), "rookery config set smtp_pass - --remove smtp_port") {
		t.Fatalf("carrier deleted without its secret: %v", err)
	}
	if out, err := run(t, "pw\n", "config", "set", "smtp_pass", "-", "--remove", "smtp_port"); err != nil || !strings.Contains(out, "smtp_port removed") {
		t.Fatalf("the suggested command: %q %v", out, err)
	}
}
