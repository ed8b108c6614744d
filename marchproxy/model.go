package marchproxy

// Service is one backend as the PenguinTech integration standards describe it
// in services.json and import-config.json. The JSON keys and their order
// follow the standards' files.
type Service struct {
	Name                string `json:"name"`
	IPFQDN              string `json:"ip_fqdn"`
	Port                int    `json:"port"`
	Protocol            string `json:"protocol"`
	Collection          string `json:"collection"`
	AuthType            string `json:"auth_type"`
	TLSEnabled          bool   `json:"tls_enabled"`
	HealthCheckEnabled  bool   `json:"health_check_enabled"`
	HealthCheckPath     string `json:"health_check_path"`
	HealthCheckInterval int    `json:"health_check_interval"`
}

// Mapping is one route of mappings.json as the standards describe it. The
// real server has no API for mappings; see ChangePlan.NotImportable.
type Mapping struct {
	Name           string   `json:"name"`
	Description    string   `json:"description"`
	SourceServices []string `json:"source_services"`
	DestServices   []string `json:"dest_services"`
	ListenPort     int      `json:"listen_port"`
	Protocol       string   `json:"protocol"`
	PathPrefix     string   `json:"path_prefix"`
}

// ServicesFile is the shape of services.json.
type ServicesFile struct {
	Services []Service `json:"services"`
}

// MappingsFile is the shape of mappings.json.
type MappingsFile struct {
	Mappings []Mapping `json:"mappings"`
}

// ImportConfig is the shape of import-config.json, the body the standards
// POST to /api/v1/services/import.
type ImportConfig struct {
	Services []Service `json:"services"`
	Metadata Metadata  `json:"metadata"`
}

// Metadata describes who generated an ImportConfig.
type Metadata struct {
	AppName     string `json:"app_name"`
	GeneratedBy string `json:"generated_by"`
	Version     string `json:"version"`
}

// Protocols and auth types known to the standards and to the real server.
const (
	ProtocolHTTP  = "http"
	ProtocolHTTPS = "https"
	ProtocolGRPC  = "grpc" // standards only: the real server refuses it
	ProtocolTCP   = "tcp"
	ProtocolUDP   = "udp" // real server only: the standards do not name it

	AuthNone   = "none"
	AuthJWT    = "jwt"
	AuthBase64 = "base64"

	// SourceExternal is the standards' name for traffic from outside the
	// cluster; it may only appear in a mapping's source_services.
	SourceExternal = "external"

	// MinHealthCheckInterval is the real server's lower bound, in seconds.
	MinHealthCheckInterval = 5
)
