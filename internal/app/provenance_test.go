package app

import (
	"strings"
	"testing"

	"github.com/rookery/rookery/internal/db"
	"github.com/rookery/rookery/internal/dbtest"
)

// A value copied from the environment at first start is reported as coming
// from the environment; a variable changed before a restart is reported as
// ignored (never with its value) and logged; each item states its rule in
// structured form.
func TestConfigSourceAndConstraints(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, s db.Settings) { configSourceAndConstraints(t, s) })
}

func configSourceAndConstraints(t *testing.T, s db.Settings) {
	if s.DataDir == "" {
		s.DataDir = t.TempDir() // the second start must find the first one's encryption key
	}
	first := startApp(t, s, map[string]string{"SMTP_PORT": "2525", "SMTP_PASS": "first-secret", "LOG_LEVEL": "debug"})
	if err := first.Shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}
	ta := startApp(t, s, map[string]string{"SMTP_PORT": "2526", "SMTP_PASS": "second-secret", "LOG_LEVEL": "warn"})
	admin := ta.admin()

	port := ta.call("GET", "/api/v1/config/smtp_port", admin, nil).JSON(t)
	if port["source"] != "environment" || port["env_differs"] != true || port["value"] != "2525" {
		t.Errorf("smtp_port: %v", port)
	}
	c, _ := port["constraints"].(map[string]any)
	if c["min"] != 1.0 || c["max"] != 65535.0 || c["format"] != "port" {
		t.Errorf("smtp_port constraints: %v", port["constraints"])
	}
	pass := ta.call("GET", "/api/v1/config/smtp_pass", admin, nil)
	if p := pass.JSON(t); p["source"] != "environment" || p["env_differs"] != true {
		t.Errorf("smtp_pass: %s", pass.Body)
	}
	if user := ta.call("GET", "/api/v1/config/smtp_user", admin, nil).JSON(t); user["source"] != "default" || user["env_differs"] != false {
		t.Errorf("smtp_user: %v", user)
	}
	level := ta.call("GET", "/api/v1/config/log_level", admin, nil).JSON(t)
	if level["source"] != "environment" || level["env_differs"] != true || level["value"] != "debug" {
		t.Errorf("log_level: %v", level)
	}
	if c, _ := level["constraints"].(map[string]any); len(c["choices"].([]any)) != 4 {
		t.Errorf("log_level constraints: %v", level["constraints"])
	}
	list := ta.call("GET", "/api/v1/config", admin, nil)
	for _, b := range [][]byte{list.Body, pass.Body, []byte(ta.logs.String())} {
		if strings.Contains(string(b), "first-secret") || strings.Contains(string(b), "second-secret") {
			t.Fatalf("a secret is shown: %s", b)
		}
	}
	logs := ta.logs.String()
	for _, env := range []string{`"env":"SMTP_PORT"`, `"env":"SMTP_PASS"`} {
		if !strings.Contains(logs, env) {
			t.Errorf("no start-up warning with %s", env)
		}
	}

	// Saved through the API: the database is the source from then on.
	r := ta.call("PUT", "/api/v1/config/log_level", admin, map[string]any{"value": "warn"})
	if r.Status != 200 {
		t.Fatalf("save log_level: %d %s", r.Status, r.Body)
	}
	level = ta.call("GET", "/api/v1/config/log_level", admin, nil).JSON(t)
	if level["source"] != "database" || level["env_differs"] != false {
		t.Errorf("log_level after a save: %v", level)
	}
}
