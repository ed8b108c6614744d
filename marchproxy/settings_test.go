package marchproxy

import (
	"bytes"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

func TestCLISettingsApplyEnv(t *testing.T) {
	s := CLISettings{API: "http://db:8000", ClusterID: 1, Username: "db-user", Password: "db-pass", App: AppSettings{AppName: "rookery", Version: "1.0.0"}}
	env := map[string]string{
		EnvAPI: "http://env:8000", EnvClusterID: " 7 ", EnvUsername: "env-user",
		EnvPassword: "env-pass-secret", EnvClusterAPIKey: "env-key-secret", EnvAppVersion: "2.0.0",
	}
	if err := s.ApplyEnv(func(k string) string { return env[k] }); err != nil {
		t.Fatal(err)
	}
	if s.API != "http://env:8000" || s.ClusterID != 7 || s.Username != "env-user" || s.Password != "env-pass-secret" || s.ClusterAPIKey != "env-key-secret" || s.App.Version != "2.0.0" {
		t.Fatalf("settings = %#v", s)
	}

	unchanged := CLISettings{API: "http://db:8000", Password: "db-pass"}
	if err := unchanged.ApplyEnv(func(string) string { return "" }); err != nil || unchanged.API != "http://db:8000" || unchanged.Password != "db-pass" {
		t.Fatalf("empty variables changed settings: %v %v", unchanged, err)
	}
	for _, bad := range []string{"abc", "0", "-3", "1.5"} {
		err := (&CLISettings{}).ApplyEnv(func(k string) string {
			if k == EnvClusterID {
				return bad
			}
			return ""
		})
		if err == nil || !strings.Contains(err.Error(), EnvClusterID) {
			t.Errorf("MARCHPROXY_CLUSTER_ID=%q: %v", bad, err)
		}
	}

	var logs bytes.Buffer
	slog.New(slog.NewTextHandler(&logs, nil)).Info("settings", "marchproxy", s)
	for _, out := range []string{fmt.Sprintf("%v %+v %#v", s, s, s), logs.String()} {
		if strings.Contains(out, "env-pass-secret") || strings.Contains(out, "env-key-secret") {
			t.Fatalf("secret printed: %s", out)
		}
	}
	if !strings.Contains(logs.String(), "marchproxy.password=***SENSITIVE***") || !strings.Contains(logs.String(), "marchproxy.cluster_id=7") {
		t.Errorf("log = %s", logs.String())
	}
	if (CLISettings{}).APIOrDefault() != DefaultAPI {
		t.Error("APIOrDefault")
	}
}
