package cli

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/rookery/rookery/internal/app"
	"github.com/rookery/rookery/marchproxy"
)

// Environment variables that override the config database for the
// marchproxy commands (see applyMarchProxyEnv). The names are the
// integration standards'.
const (
	envMarchProxyAPI       = "MARCHPROXY_API"
	envClusterAPIKey       = "CLUSTER_API_KEY"
	envMarchProxyUsername  = "MARCHPROXY_USERNAME"
	envMarchProxyPassword  = "MARCHPROXY_PASSWORD"
	envMarchProxyClusterID = "MARCHPROXY_CLUSTER_ID"
	envAppVersion          = "APP_VERSION"
)

// loadMarchProxySettings reads the marchproxy_* keys, app_name and the
// OTLP endpoint from the config database.
func (cl *CLI) loadMarchProxySettings(ctx context.Context) (mpConfig, error) {
	core, err := cl.openCore(ctx)
	if err != nil {
		return mpConfig{}, err
	}
	defer core.Close()
	s, err := app.SettingsFromEnv(os.Getenv)
	if err != nil {
		return mpConfig{}, err
	}
	return mpConfig{Settings: app.MarchProxySettings(core.Keys, s), OTLPEndpoint: core.Keys.KillKrill.OTLPEndpoint.Get()}, nil
}

// applyMarchProxyEnv overrides s with the environment variables that are
// set and not empty: an empty variable is how a deployment leaves a value
// to the database. getenv is usually os.Getenv.
func applyMarchProxyEnv(s *marchproxy.Settings, getenv func(string) string) error {
	if v := getenv(envMarchProxyAPI); v != "" {
		s.API = v
	}
	if v := getenv(envClusterAPIKey); v != "" {
		s.ClusterAPIKey = marchproxy.NewSecret(v)
	}
	if v := getenv(envMarchProxyUsername); v != "" {
		s.Username = v
	}
	if v := getenv(envMarchProxyPassword); v != "" {
		s.Password = marchproxy.NewSecret(v)
	}
	if v := getenv(envMarchProxyClusterID); v != "" {
		id, err := parseClusterID(v)
		if err != nil {
			return fmt.Errorf("%s: %w", envMarchProxyClusterID, err)
		}
		s.ClusterID = id
	}
	if v := getenv(envAppVersion); v != "" {
		s.App.Version = v
	}
	return nil
}

// parseClusterID reads a cluster id, a positive integer; surrounding
// spaces, common in hand-edited env files, are ignored.
func parseClusterID(v string) (int, error) {
	id, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil || id < 1 {
		return 0, fmt.Errorf("%q is not a cluster id (want a positive integer)", v)
	}
	return id, nil
}
