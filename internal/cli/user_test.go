package cli

import (
	"strings"
	"testing"
)

// TestUserLifeCycleCommands: disable, enable and delete from the CLI, with
// the last admin protected.
func TestUserLifeCycleCommands(t *testing.T) {
	t.Setenv("DATA_DIR", t.TempDir())
	t.Setenv("BCRYPT_COST", "4")
	if _, err := run(t, "a-long-enough-password\n", "user", "create", "root@example.com", "--role", "admin"); err != nil {
		t.Fatal(err)
	}
	if _, err := run(t, "a-long-enough-password\n", "user", "create", "ops@example.com"); err != nil {
		t.Fatal(err)
	}
	if out, err := run(t, "", "user", "disable", "ops@example.com"); err != nil || !strings.Contains(out, "ops@example.com is now disabled") {
		t.Fatalf("disable: %q %v", out, err)
	}
	out, _ := run(t, "", "user", "list")
	if !strings.Contains(out, "disabled") {
		t.Fatalf("list does not show the disabled user: %s", out)
	}
	if _, err := run(t, "", "user", "disable", "root@example.com"); err == nil || !strings.Contains(err.Error(), "last admin") {
		t.Fatalf("disabling the last admin: %v", err)
	}
	if _, err := run(t, "", "user", "delete", "root@example.com"); err == nil || !strings.Contains(err.Error(), "last admin") {
		t.Fatalf("deleting the last admin: %v", err)
	}
	if out, err := run(t, "", "user", "enable", "ops@example.com"); err != nil || !strings.Contains(out, "now enabled") {
		t.Fatalf("enable: %q %v", out, err)
	}
	if out, err := run(t, "", "user", "delete", "ops@example.com"); err != nil || !strings.Contains(out, "deleted ops@example.com") {
		t.Fatalf("delete: %q %v", out, err)
	}
	if _, err := run(t, "", "user", "delete", "ops@example.com"); err == nil || !strings.Contains(err.Error(), "not found") {
		t.Fatalf("delete twice: %v", err)
	}
}
