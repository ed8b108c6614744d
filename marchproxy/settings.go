package marchproxy

import (
	"fmt"
	"log/slog"
	"strconv"
	"strings"
)

// Environment variables that override CLISettings (see ApplyEnv).
const (
	EnvAPI           = "MARCHPROXY_API"
	EnvClusterAPIKey = "CLUSTER_API_KEY"
	EnvUsername      = "MARCHPROXY_USERNAME"
	EnvPassword      = "MARCHPROXY_PASSWORD"
	EnvClusterID     = "MARCHPROXY_CLUSTER_ID"
	EnvAppVersion    = "APP_VERSION"
)

// CLISettings is everything the marchproxy commands need. The rookery server
// fills it from its config database (keys marchproxy_api,
// marchproxy_cluster_id, marchproxy_username, marchproxy_password,
// cluster_api_key, app_name and the generation settings); environment
// variables and then flags override it.
type CLISettings struct {
	API           string
	ClusterID     int
	Username      string
	Password      Secret
	ClusterAPIKey Secret
	App           AppSettings
	// Extras are the application's other services and mappings, added to
	// the generated configuration.
	Extras Extras
}

// ApplyEnv overrides the settings with the environment variables that are
// set and not empty. getenv is usually os.Getenv.
func (s *CLISettings) ApplyEnv(getenv func(string) string) error {
	if v := getenv(EnvAPI); v != "" {
		s.API = v
	}
	if v := getenv(EnvClusterAPIKey); v != "" {
		s.ClusterAPIKey = Secret(v)
	}
	if v := getenv(EnvUsername); v != "" {
		s.Username = v
	}
	if v := getenv(EnvPassword); v != "" {
		s.Password = Secret(v)
	}
	if v := getenv(EnvClusterID); v != "" {
		id, err := ParseClusterID(v)
		if err != nil {
			return fmt.Errorf("%s: %w", EnvClusterID, err)
		}
		s.ClusterID = id
	}
	if v := getenv(EnvAppVersion); v != "" {
		s.App.Version = v
	}
	return nil
}

// ParseClusterID reads a cluster id, a positive integer.
func ParseClusterID(v string) (int, error) {
	id, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil || id < 1 {
		return 0, fmt.Errorf("%q is not a cluster id (want a positive integer)", v)
	}
	return id, nil
}

// APIOrDefault returns API, or DefaultAPI when it is empty.
func (s CLISettings) APIOrDefault() string {
	if s.API == "" {
		return DefaultAPI
	}
	return s.API
}

// LogValue lets the settings be logged; the Secret fields mask themselves.
func (s CLISettings) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("api", s.APIOrDefault()),
		slog.Int("cluster_id", s.ClusterID),
		slog.String("username", s.Username),
		slog.Any("password", s.Password),
		slog.Any("cluster_api_key", s.ClusterAPIKey),
		slog.String("app_name", s.App.AppName),
	)
}
