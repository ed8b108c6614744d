package httpapi

import (
	"github.com/rookery/rookery/internal/telemetry"
	"github.com/rookery/rookery/killkrill"
	"github.com/rookery/rookery/marchproxy"
)

// Integrations is GET /api/v1/integrations: the state of every outside
// service rookery talks to. A part that adds a service adds its field
// here, so the answer and the API document stay one declaration.
type Integrations struct {
	KillKrill     KillKrillReport  `json:"killkrill"`
	OpenTelemetry telemetry.Status `json:"opentelemetry"`
	WaddleAI      ServiceCheck     `json:"waddleai"`
	LicenseServer ServiceCheck     `json:"license_server"`
	MarchProxy    MarchProxyReport `json:"marchproxy"`
	Email         EmailReport      `json:"email"`
}

// ServiceCheck says whether an outside service answered at its URL.
type ServiceCheck struct {
	URL       string `json:"url"`
	Reachable bool   `json:"reachable"`
	// Error is why it could not be reached.
	Error string `json:"error,omitempty"`
}

// KillKrillReport is GET /api/v1/integrations/killkrill: the shipper's
// settings, counters and the receiver's health.
type KillKrillReport struct {
	Enabled bool `json:"enabled"`
	// Note explains a process that has no shipper at all.
	Note        string           `json:"note,omitempty"`
	Mode        killkrill.Mode   `json:"mode,omitempty"`
	LogURL      string           `json:"log_url,omitempty"`
	MetricsURL  string           `json:"metrics_url,omitempty"`
	Stats       *killkrill.Stats `json:"stats,omitempty"`
	Healthy     bool             `json:"healthy"`
	HealthError string           `json:"health_error,omitempty"`
}

// MarchProxyReport is the MarchProxy part of GET /api/v1/integrations: the
// API it imports into and what would be generated for it now.
type MarchProxyReport struct {
	API       string               `json:"api"`
	ClusterID int                  `json:"cluster_id"`
	Services  []marchproxy.Service `json:"services,omitempty"`
	Mappings  []marchproxy.Mapping `json:"mappings,omitempty"`
	// Error is why the files cannot be generated from the settings.
	Error string `json:"error,omitempty"`
}
