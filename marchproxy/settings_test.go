package marchproxy

import (
	"bytes"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

func TestSettingsMaskSecrets(t *testing.T) {
	s := Settings{API: "http://mp:8000", ClusterID: 7, Username: "importer", Password: NewSecret("pass-secret-1"), ClusterAPIKey: NewSecret("key-secret-1"), App: AppSettings{AppName: "shop"}}
	var logs bytes.Buffer
	slog.New(slog.NewTextHandler(&logs, nil)).Info("settings", "marchproxy", s)
	for _, out := range []string{fmt.Sprintf("%v %+v %#v", s, s, s), logs.String()} {
		if strings.Contains(out, "pass-secret-1") || strings.Contains(out, "key-secret-1") {
			t.Fatalf("secret printed: %s", out)
		}
	}
	for _, want := range []string{"marchproxy.password=***SENSITIVE***", "marchproxy.cluster_id=7", "marchproxy.api=http://mp:8000", "marchproxy.app_name=shop"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log lacks %q: %s", want, logs.String())
		}
	}
}

func TestSettingsAPIOrDefault(t *testing.T) {
	for _, tt := range []struct{ api, want string }{
		{"", DefaultAPI},
		{"http://mp:8000", "http://mp:8000"},
	} {
		if got := (Settings{API: tt.api}).APIOrDefault(); got != tt.want {
			t.Errorf("APIOrDefault(%q) = %q, want %q", tt.api, got, tt.want)
		}
	}
}
