package marchproxy

import "log/slog"

// Settings is what an application holds to bring a MarchProxy cluster in
// line with its configuration: where the API server is, who signs in, the
// cluster, and what to generate. The package reads no environment variables
// and no flags: filling Settings (from a config database, the environment,
// flags) is the application's concern.
type Settings struct {
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

// APIOrDefault returns API, or DefaultAPI when it is empty.
func (s Settings) APIOrDefault() string {
	if s.API == "" {
		return DefaultAPI
	}
	return s.API
}

// LogValue lets the settings be logged; the Secret fields mask themselves.
func (s Settings) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("api", s.APIOrDefault()),
		slog.Int("cluster_id", s.ClusterID),
		slog.String("username", s.Username),
		slog.Any("password", s.Password),
		slog.Any("cluster_api_key", s.ClusterAPIKey),
		slog.String("app_name", s.App.AppName),
	)
}
