package marchproxy

import (
	"errors"
	"fmt"
	"net"
	"strings"
)

// ErrInvalid matches every *ValidationError with errors.Is.
var ErrInvalid = errors.New("invalid MarchProxy configuration")

// Problem is one thing wrong with a configuration, located by a path such as
// "services[1].port".
type Problem struct {
	Path    string `json:"path"`
	Message string `json:"message"`
}

func (p Problem) String() string { return p.Path + ": " + p.Message }

// ValidationError lists every problem found, in the order of the input.
type ValidationError struct {
	Problems []Problem
}

func (e *ValidationError) Error() string {
	var b strings.Builder
	n := len(e.Problems)
	if n == 1 {
		b.WriteString("invalid MarchProxy configuration: ")
	} else {
		fmt.Fprintf(&b, "invalid MarchProxy configuration (%d problems): ", n)
	}
	for i, p := range e.Problems {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(p.String())
	}
	return b.String()
}

// Is makes errors.Is(err, ErrInvalid) true.
func (e *ValidationError) Is(target error) bool { return target == ErrInvalid }

// problems collects Problems; err returns nil when there are none, so that a
// nil *ValidationError never hides inside a non-nil error.
type problems []Problem

func (ps *problems) add(path, format string, args ...any) {
	*ps = append(*ps, Problem{Path: path, Message: fmt.Sprintf(format, args...)})
}

func (ps problems) err() error {
	if len(ps) == 0 {
		return nil
	}
	return &ValidationError{Problems: ps}
}

// Validate checks services and mappings against the standards and the real
// server's limits and returns a *ValidationError naming every problem, or nil.
//
// appName enables the {app_name}-{service} naming rule; when it is empty the
// names only need the shape "<app>-<service>".
func Validate(appName string, services []Service, mappings []Mapping) error {
	var ps problems
	names := validateServices(&ps, appName, services)
	validateMappings(&ps, appName, names, mappings)
	return ps.err()
}

// ValidateMappings checks mappings alone, resolving their service references
// against known, the names of services defined elsewhere (for example in the
// services.json next to mappings.json).
func ValidateMappings(appName string, known []string, mappings []Mapping) error {
	names := make(map[string]bool, len(known))
	for _, n := range known {
		names[n] = true
	}
	var ps problems
	validateMappings(&ps, appName, names, mappings)
	return ps.err()
}

func validateServices(ps *problems, appName string, services []Service) map[string]bool {
	names := make(map[string]bool, len(services))
	first := make(map[string]int, len(services))
	for i, s := range services {
		p := fmt.Sprintf("services[%d]", i)
		checkName(ps, p+".name", appName, s.Name)
		if j, dup := first[s.Name]; dup && s.Name != "" {
			ps.add(p+".name", "duplicate name %q (also services[%d])", s.Name, j)
		} else if s.Name != "" {
			first[s.Name] = i
			names[s.Name] = true
		}
		checkHost(ps, p+".ip_fqdn", s.IPFQDN)
		checkPort(ps, p+".port", s.Port)
		checkProtocol(ps, p+".protocol", s.Protocol)
		if len(s.Collection) > 100 {
			ps.add(p+".collection", "is %d characters long; the server allows at most 100", len(s.Collection))
		}
		switch s.AuthType {
		case AuthNone, AuthJWT, AuthBase64:
		case "":
			ps.add(p+".auth_type", "required (one of none, jwt, base64)")
		default:
			ps.add(p+".auth_type", "%q is not a known auth type (want none, jwt or base64)", s.AuthType)
		}
		switch {
		case s.HealthCheckPath == "" && s.HealthCheckEnabled:
			ps.add(p+".health_check_path", "required when health checks are enabled")
		case s.HealthCheckPath != "" && !strings.HasPrefix(s.HealthCheckPath, "/"):
			ps.add(p+".health_check_path", "%q must start with \"/\"", s.HealthCheckPath)
		}
		// The server checks the interval even when health checks are off.
		if s.HealthCheckInterval < MinHealthCheckInterval {
			ps.add(p+".health_check_interval", "%d is below the server's minimum of %d seconds", s.HealthCheckInterval, MinHealthCheckInterval)
		}
	}
	return names
}

func validateMappings(ps *problems, appName string, services map[string]bool, mappings []Mapping) {
	first := make(map[string]int, len(mappings))
	for i, m := range mappings {
		p := fmt.Sprintf("mappings[%d]", i)
		checkName(ps, p+".name", appName, m.Name)
		if j, dup := first[m.Name]; dup && m.Name != "" {
			ps.add(p+".name", "duplicate name %q (also mappings[%d])", m.Name, j)
		} else if m.Name != "" {
			first[m.Name] = i
		}
		checkRefs(ps, p+".source_services", m.SourceServices, services, true)
		checkRefs(ps, p+".dest_services", m.DestServices, services, false)
		checkPort(ps, p+".listen_port", m.ListenPort)
		checkProtocol(ps, p+".protocol", m.Protocol)
		if m.PathPrefix != "" && !strings.HasPrefix(m.PathPrefix, "/") {
			ps.add(p+".path_prefix", "%q must start with \"/\"", m.PathPrefix)
		}
	}
}

func checkRefs(ps *problems, path string, refs []string, services map[string]bool, source bool) {
	if len(refs) == 0 {
		ps.add(path, "at least one service is required")
		return
	}
	seen := make(map[string]bool, len(refs))
	for i, r := range refs {
		p := fmt.Sprintf("%s[%d]", path, i)
		switch {
		case r == SourceExternal && source:
		case r == SourceExternal:
			ps.add(p, "%q can only be a source", r)
		case r == "":
			ps.add(p, "empty service name")
		case !services[r]:
			ps.add(p, "%q is not a service of this configuration", r)
		}
		if seen[r] {
			ps.add(p, "%q is listed twice", r)
		}
		seen[r] = true
	}
}

// checkName applies the standards' {app_name}-{service} rule. Names are
// limited to lower-case letters, digits and inner hyphens so that they filter
// and sort predictably; the server itself allows 1-100 characters.
func checkName(ps *problems, path, appName, name string) {
	switch {
	case name == "":
		ps.add(path, "required")
		return
	case len(name) > 100:
		ps.add(path, "is %d characters long; the server allows at most 100", len(name))
		return
	}
	if appName != "" {
		svc, ok := strings.CutPrefix(name, appName+"-")
		if !ok || !isSlug(svc) {
			ps.add(path, "%q does not follow the {app_name}-{service} rule (want \"%s-<service>\" in lower-case letters, digits and hyphens)", name, appName)
		}
		return
	}
	app, svc, ok := strings.Cut(name, "-")
	if !ok || !isSlug(app) || !isSlug(svc) {
		ps.add(path, "%q does not follow the {app_name}-{service} rule (want \"<app>-<service>\" in lower-case letters, digits and hyphens)", name)
	}
}

// isSlug reports whether s is lower-case letters, digits and hyphens, neither
// starting nor ending with a hyphen.
func isSlug(s string) bool {
	if s == "" || s[0] == '-' || s[len(s)-1] == '-' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '-' {
			return false
		}
	}
	return true
}

// ValidAppName reports whether name can prefix service names.
func ValidAppName(name string) bool { return isSlug(name) && len(name) < 100 }

func checkHost(ps *problems, path, host string) {
	switch {
	case host == "":
		ps.add(path, "required")
	case len(host) > 255:
		ps.add(path, "is %d characters long; the server allows at most 255", len(host))
	case !validHost(host):
		ps.add(path, "%q is not a host name or IP address", host)
	}
}

func validHost(h string) bool {
	if net.ParseIP(h) != nil {
		return true
	}
	for _, label := range strings.Split(strings.TrimSuffix(h, "."), ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return false
			}
		}
	}
	return true
}

func checkPort(ps *problems, path string, port int) {
	if port < 1 || port > 65535 {
		ps.add(path, "%d is not a port", port)
	}
}

func checkProtocol(ps *problems, path, protocol string) {
	switch protocol {
	case ProtocolHTTP, ProtocolHTTPS, ProtocolGRPC, ProtocolTCP, ProtocolUDP:
	case "":
		ps.add(path, "required (one of http, https, grpc, tcp, udp)")
	default:
		ps.add(path, "%q is not a known protocol (want http, https, grpc, tcp or udp)", protocol)
	}
}
