package marchproxy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
)

// ImportFile is what ParseImport found in one file: services.json,
// mappings.json, import-config.json or any mix of their keys.
type ImportFile struct {
	Services []Service
	Mappings []Mapping
	// Metadata is nil when the file has no "metadata" object.
	Metadata *Metadata
	// HasServices and HasMappings tell "absent" from "empty list".
	HasServices bool
	HasMappings bool
}

// Defaults the standards' Python generator gives a service field that is
// left out; ParseImport applies them so that a hand-written file means what
// it would have meant to the standards' tooling.
const (
	DefaultProtocol            = ProtocolHTTP
	DefaultAuthType            = AuthNone
	DefaultHealthCheckEnabled  = true
	DefaultHealthCheckPath     = "/healthz"
	DefaultHealthCheckInterval = 30
)

// rawService uses pointers so that a missing field can take its default
// while an explicit false or zero is kept.
type rawService struct {
	Name                *string `json:"name"`
	IPFQDN              *string `json:"ip_fqdn"`
	Port                *int    `json:"port"`
	Protocol            *string `json:"protocol"`
	Collection          *string `json:"collection"`
	AuthType            *string `json:"auth_type"`
	TLSEnabled          *bool   `json:"tls_enabled"`
	HealthCheckEnabled  *bool   `json:"health_check_enabled"`
	HealthCheckPath     *string `json:"health_check_path"`
	HealthCheckInterval *int    `json:"health_check_interval"`
}

type rawFile struct {
	Services []json.RawMessage `json:"services"`
	Mappings []json.RawMessage `json:"mappings"`
	Metadata json.RawMessage   `json:"metadata"`
}

// ParseImport reads any of the three generated file shapes (or an extras
// file with both services and mappings). Missing service fields take the
// standards' defaults. Unknown keys are ignored. Every type mismatch is
// reported at once as a *ValidationError; ParseImport does not check the
// rules, call Validate for that.
func ParseImport(data []byte) (ImportFile, error) {
	var out ImportFile
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 {
		return out, errors.New("parse MarchProxy file: the file is empty")
	}
	if trimmed[0] != '{' {
		return out, errors.New("parse MarchProxy file: want a JSON object with \"services\", \"mappings\" or \"metadata\"")
	}
	var keys map[string]json.RawMessage
	if err := json.Unmarshal(trimmed, &keys); err != nil {
		return out, fmt.Errorf("parse MarchProxy file: %w", describeJSONError(err))
	}
	var ps problems
	var raw rawFile
	for _, k := range []struct {
		name string
		dst  any
		has  *bool
	}{
		{"services", &raw.Services, &out.HasServices},
		{"mappings", &raw.Mappings, &out.HasMappings},
		{"metadata", &raw.Metadata, nil},
	} {
		v, ok := keys[k.name]
		if !ok || string(v) == "null" {
			continue
		}
		if k.has != nil {
			*k.has = true
		}
		if err := json.Unmarshal(v, k.dst); err != nil {
			ps.add(k.name, "%v", describeJSONError(err))
		}
	}
	if !out.HasServices && !out.HasMappings && raw.Metadata == nil && len(ps) == 0 {
		return out, errors.New("parse MarchProxy file: no \"services\" or \"mappings\" found")
	}

	for i, r := range raw.Services {
		var rs rawService
		if err := json.Unmarshal(r, &rs); err != nil {
			ps.add(fmt.Sprintf("services[%d]", i), "%v", describeJSONError(err))
			continue
		}
		out.Services = append(out.Services, rs.withDefaults())
	}
	for i, r := range raw.Mappings {
		var m Mapping
		if err := json.Unmarshal(r, &m); err != nil {
			ps.add(fmt.Sprintf("mappings[%d]", i), "%v", describeJSONError(err))
			continue
		}
		out.Mappings = append(out.Mappings, m)
	}
	if raw.Metadata != nil {
		var md Metadata
		if err := json.Unmarshal(raw.Metadata, &md); err != nil {
			ps.add("metadata", "%v", describeJSONError(err))
		} else {
			out.Metadata = &md
		}
	}
	if err := ps.err(); err != nil {
		return ImportFile{}, err
	}
	return out, nil
}

func (r rawService) withDefaults() Service {
	s := Service{
		Protocol:            DefaultProtocol,
		AuthType:            DefaultAuthType,
		HealthCheckEnabled:  DefaultHealthCheckEnabled,
		HealthCheckPath:     DefaultHealthCheckPath,
		HealthCheckInterval: DefaultHealthCheckInterval,
	}
	setIf(&s.Name, r.Name)
	setIf(&s.IPFQDN, r.IPFQDN)
	setIf(&s.Port, r.Port)
	setIf(&s.Protocol, r.Protocol)
	setIf(&s.Collection, r.Collection)
	setIf(&s.AuthType, r.AuthType)
	setIf(&s.TLSEnabled, r.TLSEnabled)
	setIf(&s.HealthCheckEnabled, r.HealthCheckEnabled)
	setIf(&s.HealthCheckPath, r.HealthCheckPath)
	setIf(&s.HealthCheckInterval, r.HealthCheckInterval)
	return s
}

func setIf[T any](dst *T, v *T) {
	if v != nil {
		*dst = *v
	}
}

// describeJSONError turns encoding/json errors into short sentences that
// name the field, without echoing the offending value.
func describeJSONError(err error) error {
	var te *json.UnmarshalTypeError
	var se *json.SyntaxError
	switch {
	case errors.As(err, &te):
		if te.Field != "" {
			return fmt.Errorf("%s: want %s, got %s", te.Field, jsonKind(te.Type.Kind().String()), te.Value)
		}
		return fmt.Errorf("want %s, got %s", jsonKind(te.Type.Kind().String()), te.Value)
	case errors.As(err, &se):
		return fmt.Errorf("invalid JSON at byte %d: %s", se.Offset, se.Error())
	}
	return err
}

func jsonKind(goKind string) string {
	switch goKind {
	case "int", "int64", "float64":
		return "a whole number"
	case "string":
		return "a string"
	case "bool":
		return "true or false"
	case "slice":
		return "a list"
	case "struct", "map":
		return "an object"
	case "ptr":
		return "a value of another type"
	}
	return goKind
}
