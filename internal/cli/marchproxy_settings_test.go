package cli

import (
	"strings"
	"testing"

	"github.com/rookery/rookery/marchproxy"
)

func TestMarchProxyApplyEnv(t *testing.T) {
	fromDB := marchproxy.Settings{API: "http://db:8000", ClusterID: 1, Username: "db-user", Password: marchproxy.NewSecret("db-pass"), ClusterAPIKey: marchproxy.NewSecret("db-key"), App: marchproxy.AppSettings{AppName: "rookery", Version: "1.0.0"}}
	tests := []struct {
		name    string
		env     map[string]string
		want    marchproxy.Settings
		wantErr string // "" means no error
	}{
		{name: "no variables keep the database's values", env: nil, want: fromDB},
		{name: "empty variables keep the database's values", env: map[string]string{envMarchProxyAPI: "", envMarchProxyPassword: "", envMarchProxyClusterID: ""}, want: fromDB},
		{
			name: "every variable overrides",
			env: map[string]string{
				envMarchProxyAPI: "http://env:8000", envMarchProxyClusterID: " 7 ", envMarchProxyUsername: "env-user",
				envMarchProxyPassword: "env-pass", envClusterAPIKey: "env-key", envAppVersion: "2.0.0",
			},
			want: marchproxy.Settings{API: "http://env:8000", ClusterID: 7, Username: "env-user", Password: marchproxy.NewSecret("env-pass"), ClusterAPIKey: marchproxy.NewSecret("env-key"), App: marchproxy.AppSettings{AppName: "rookery", Version: "2.0.0"}},
		},
		{name: "cluster id not a number", env: map[string]string{envMarchProxyClusterID: "abc"}, wantErr: `MARCHPROXY_CLUSTER_ID: "abc" is not a cluster id`},
		{name: "cluster id zero", env: map[string]string{envMarchProxyClusterID: "0"}, wantErr: "MARCHPROXY_CLUSTER_ID"},
		{name: "cluster id negative", env: map[string]string{envMarchProxyClusterID: "-3"}, wantErr: "MARCHPROXY_CLUSTER_ID"},
		{name: "cluster id fraction", env: map[string]string{envMarchProxyClusterID: "1.5"}, wantErr: "want a positive integer"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := fromDB
			err := applyMarchProxyEnv(&s, func(k string) string { return tt.env[k] })
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if s.API != tt.want.API || s.ClusterID != tt.want.ClusterID || s.Username != tt.want.Username ||
				s.Password != tt.want.Password || s.ClusterAPIKey != tt.want.ClusterAPIKey || s.App != tt.want.App {
				t.Fatalf("settings = %#v, want %#v", s, tt.want)
			}
		})
	}
}
