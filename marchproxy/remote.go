package marchproxy

import (
	"encoding/json"
	"fmt"
	"strings"
)

// RemoteService is a service as the real server returns it. TokenBase64 and
// JWTSecret are Secrets: they print and marshal as Masked.
type RemoteService struct {
	ID                  int     `json:"id"`
	Name                string  `json:"name"`
	IPFQDN              string  `json:"ip_fqdn"`
	Port                int     `json:"port"`
	Protocol            string  `json:"protocol"`
	Collection          *string `json:"collection"`
	ClusterID           int     `json:"cluster_id"`
	AuthType            string  `json:"auth_type"`
	TLSEnabled          bool    `json:"tls_enabled"`
	TLSVerify           bool    `json:"tls_verify"`
	HealthCheckEnabled  bool    `json:"health_check_enabled"`
	HealthCheckPath     *string `json:"health_check_path"`
	HealthCheckInterval int     `json:"health_check_interval"`
	JWTExpiry           int     `json:"jwt_expiry,omitempty"`
	JWTAlgorithm        string  `json:"jwt_algorithm,omitempty"`
	TokenBase64         Secret  `json:"token_base64,omitempty"`
	JWTSecret           Secret  `json:"jwt_secret,omitempty"`
	IsActive            bool    `json:"is_active"`
	CreatedAt           string  `json:"created_at,omitempty"`
	UpdatedAt           string  `json:"updated_at,omitempty"`
}

func (s RemoteService) String() string {
	state := "active"
	if !s.IsActive {
		state = "inactive"
	}
	return fmt.Sprintf("service %d %q (%s %s:%d, cluster %d, %s)", s.ID, s.Name, s.Protocol, s.IPFQDN, s.Port, s.ClusterID, state)
}

// ServiceCreate is the body of POST /api/v1/services. Empty Collection and
// HealthCheckPath are sent as null, which is how the server stores "none".
// The health-check fields are always sent because the server's defaults
// (health checks off) differ from the standards' (on).
type ServiceCreate struct {
	Name                string `json:"name"`
	IPFQDN              string `json:"ip_fqdn"`
	Port                int    `json:"port"`
	ClusterID           int    `json:"cluster_id"`
	Protocol            string `json:"protocol"`
	Collection          string `json:"collection"`
	AuthType            string `json:"auth_type"`
	TLSEnabled          bool   `json:"tls_enabled"`
	HealthCheckEnabled  bool   `json:"health_check_enabled"`
	HealthCheckPath     string `json:"health_check_path"`
	HealthCheckInterval int    `json:"health_check_interval"`
}

// MarshalJSON sends empty optional strings as null.
func (c ServiceCreate) MarshalJSON() ([]byte, error) {
	type wire ServiceCreate
	return json.Marshal(struct {
		wire
		Collection      *string `json:"collection"`
		HealthCheckPath *string `json:"health_check_path"`
	}{wire(c), nullIfEmpty(c.Collection), nullIfEmpty(c.HealthCheckPath)})
}

// ServicePatch is the body of PATCH /api/v1/services/{id}: only the non-nil
// fields are sent. A Collection or HealthCheckPath pointing at "" is sent as
// null, which clears it on the server.
type ServicePatch struct {
	Name                *string `json:"name,omitempty"`
	IPFQDN              *string `json:"ip_fqdn,omitempty"`
	Port                *int    `json:"port,omitempty"`
	Protocol            *string `json:"protocol,omitempty"`
	Collection          *string `json:"collection,omitempty"`
	AuthType            *string `json:"auth_type,omitempty"`
	TLSEnabled          *bool   `json:"tls_enabled,omitempty"`
	HealthCheckEnabled  *bool   `json:"health_check_enabled,omitempty"`
	HealthCheckPath     *string `json:"health_check_path,omitempty"`
	HealthCheckInterval *int    `json:"health_check_interval,omitempty"`
	IsActive            *bool   `json:"is_active,omitempty"`
}

// IsEmpty reports whether the patch changes nothing.
func (p ServicePatch) IsEmpty() bool { return p == ServicePatch{} }

// MarshalJSON writes only the set fields, with "" as null for the two
// nullable strings.
func (p ServicePatch) MarshalJSON() ([]byte, error) {
	type wire ServicePatch
	// A field of type any holding a typed nil pointer is not "empty" for
	// omitempty, so it is written as null; a nil interface is left out.
	var coll, path any
	if p.Collection != nil {
		coll = nullIfEmpty(*p.Collection)
	}
	if p.HealthCheckPath != nil {
		path = nullIfEmpty(*p.HealthCheckPath)
	}
	return json.Marshal(struct {
		wire
		Collection      any `json:"collection,omitempty"`
		HealthCheckPath any `json:"health_check_path,omitempty"`
	}{wire(p), coll, path})
}

func (p ServicePatch) String() string {
	b, err := json.Marshal(p)
	if err != nil {
		return "{}"
	}
	return string(b)
}

func nullIfEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// User is who Login authenticated.
type User struct {
	ID       int    `json:"user_id"`
	Username string `json:"username"`
	Email    string `json:"email"`
	IsAdmin  bool   `json:"is_admin"`
}

// Health is the answer of GET /healthz.
type Health struct {
	Status  string `json:"status"`
	Version string `json:"version"`
	Service string `json:"service"`
}

// ClusterConfig is what a proxy fetches from GET /api/v1/config/{cluster_id}.
// Its JSON form and String are masked: service auth tokens, JWT secrets and
// certificate keys never leave it.
type ClusterConfig struct {
	ConfigVersion string
	GeneratedAt   string
	Services      []ConfigService
	// masked is the whole document with secrets replaced by Masked.
	masked map[string]any
}

// ConfigService is one entry of the cluster config's services.
type ConfigService struct {
	ID          int                `json:"id"`
	Name        string             `json:"name"`
	IPFQDN      string             `json:"ip_fqdn"`
	Port        int                `json:"port"`
	Protocol    string             `json:"protocol"`
	Collection  *string            `json:"collection"`
	Auth        ConfigAuth         `json:"auth"`
	TLS         ConfigTLS          `json:"tls"`
	HealthCheck *ConfigHealthCheck `json:"health_check"`
}

// ConfigAuth keeps only the auth type; the tokens beside it are dropped.
type ConfigAuth struct {
	Type string `json:"type"`
}

// ConfigTLS is a service's TLS settings in the cluster config.
type ConfigTLS struct {
	Enabled bool `json:"enabled"`
	Verify  bool `json:"verify"`
}

// ConfigHealthCheck is a service's health check in the cluster config.
type ConfigHealthCheck struct {
	Enabled  bool   `json:"enabled"`
	Path     string `json:"path"`
	Interval int    `json:"interval"`
}

// MarshalJSON writes the masked document.
func (c ClusterConfig) MarshalJSON() ([]byte, error) {
	if c.masked == nil {
		return json.Marshal(struct {
			Services      []ConfigService `json:"services"`
			GeneratedAt   string          `json:"generated_at"`
			ConfigVersion string          `json:"config_version"`
		}{c.Services, c.GeneratedAt, c.ConfigVersion})
	}
	return json.Marshal(c.masked)
}

func (c ClusterConfig) String() string {
	return fmt.Sprintf("cluster config %s generated at %s with %d services", c.ConfigVersion, c.GeneratedAt, len(c.Services))
}

func parseClusterConfig(body []byte) (ClusterConfig, error) {
	var typed struct {
		Services      []ConfigService `json:"services"`
		GeneratedAt   any             `json:"generated_at"`
		ConfigVersion string          `json:"config_version"`
	}
	if err := json.Unmarshal(body, &typed); err != nil {
		return ClusterConfig{}, fmt.Errorf("decode cluster config: %w", describeJSONError(err))
	}
	var doc map[string]any
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.UseNumber()
	if err := dec.Decode(&doc); err != nil {
		return ClusterConfig{}, fmt.Errorf("decode cluster config: %w", err)
	}
	gen := ""
	if typed.GeneratedAt != nil {
		gen = fmt.Sprint(typed.GeneratedAt)
	}
	return ClusterConfig{
		ConfigVersion: typed.ConfigVersion,
		GeneratedAt:   gen,
		Services:      typed.Services,
		masked:        maskTree(doc).(map[string]any),
	}, nil
}

// sensitiveKey decides from a JSON key alone whether its value is a secret;
// the cluster config nests tokens, JWT secrets and private keys under keys
// that name them.
func sensitiveKey(k string) bool {
	k = strings.ToLower(k)
	for _, word := range []string{"secret", "token", "password", "passwd", "private", "api_key", "apikey", "credential"} {
		if strings.Contains(k, word) {
			return true
		}
	}
	return k == "key" || strings.HasSuffix(k, "_key")
}

func maskTree(v any) any {
	switch t := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, val := range t {
			if sensitiveKey(k) && val != nil && val != "" {
				out[k] = Masked
				continue
			}
			out[k] = maskTree(val)
		}
		return out
	case []any:
		out := make([]any, len(t))
		for i, val := range t {
			out[i] = maskTree(val)
		}
		return out
	}
	return v
}
