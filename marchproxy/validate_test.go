package marchproxy

import (
	"errors"
	"strings"
	"testing"
)

func validService(suffix string) Service {
	return Service{
		Name: "myapp-" + suffix, IPFQDN: "backend", Port: 8080, Protocol: "http",
		Collection: "myapp", AuthType: "jwt", HealthCheckEnabled: true,
		HealthCheckPath: "/healthz", HealthCheckInterval: 30,
	}
}

func validMapping() Mapping {
	return Mapping{
		Name: "myapp-external-api", Description: "x",
		SourceServices: []string{"external"}, DestServices: []string{"myapp-api"},
		ListenPort: 443, Protocol: "https", PathPrefix: "/api/v1",
	}
}

func TestValidateRules(t *testing.T) {
	tests := []struct {
		name     string
		app      string
		service  func(*Service)
		mapping  func(*Mapping)
		wantPath string // "" means valid
		wantMsg  string
	}{
		{name: "valid", app: "myapp"},
		{name: "valid without app name", app: ""},
		{name: "name required", app: "myapp", service: func(s *Service) { s.Name = "" }, wantPath: "services[0].name", wantMsg: "required"},
		{name: "name without app prefix", app: "myapp", service: func(s *Service) { s.Name = "other-api" }, wantPath: "services[0].name", wantMsg: `"other-api" does not follow the {app_name}-{service} rule`},
		{name: "name is only the prefix", app: "myapp", service: func(s *Service) { s.Name = "myapp-" }, wantPath: "services[0].name", wantMsg: "{app_name}-{service}"},
		{name: "name upper case", app: "myapp", service: func(s *Service) { s.Name = "myapp-API" }, wantPath: "services[0].name", wantMsg: "lower-case"},
		{name: "name trailing hyphen", app: "myapp", service: func(s *Service) { s.Name = "myapp-api-" }, wantPath: "services[0].name"},
		{name: "name without hyphen and no app", app: "", service: func(s *Service) { s.Name = "api" }, wantPath: "services[0].name", wantMsg: `"<app>-<service>"`},
		{name: "name too long", app: "", service: func(s *Service) { s.Name = "a-" + strings.Repeat("b", 99) }, wantPath: "services[0].name", wantMsg: "at most 100"},
		{name: "host required", app: "myapp", service: func(s *Service) { s.IPFQDN = "" }, wantPath: "services[0].ip_fqdn", wantMsg: "required"},
		{name: "host with scheme", app: "myapp", service: func(s *Service) { s.IPFQDN = "http://backend" }, wantPath: "services[0].ip_fqdn", wantMsg: "not a host name or IP address"},
		{name: "host with space", app: "myapp", service: func(s *Service) { s.IPFQDN = "back end" }, wantPath: "services[0].ip_fqdn"},
		{name: "host ipv6", app: "myapp", service: func(s *Service) { s.IPFQDN = "::1" }},
		{name: "host ipv4", app: "myapp", service: func(s *Service) { s.IPFQDN = "10.0.0.7" }},
		{name: "host fqdn", app: "myapp", service: func(s *Service) { s.IPFQDN = "api.svc.cluster.local" }},
		{name: "host too long", app: "myapp", service: func(s *Service) { s.IPFQDN = strings.Repeat("a.", 130) }, wantPath: "services[0].ip_fqdn", wantMsg: "at most 255"},
		{name: "port too big", app: "myapp", service: func(s *Service) { s.Port = 70000 }, wantPath: "services[0].port", wantMsg: "70000 is not a port"},
		{name: "port zero", app: "myapp", service: func(s *Service) { s.Port = 0 }, wantPath: "services[0].port", wantMsg: "0 is not a port"},
		{name: "port negative", app: "myapp", service: func(s *Service) { s.Port = -1 }, wantPath: "services[0].port"},
		{name: "port max", app: "myapp", service: func(s *Service) { s.Port = 65535 }},
		{name: "protocol grpc", app: "myapp", service: func(s *Service) { s.Protocol = "grpc" }},
		{name: "protocol udp", app: "myapp", service: func(s *Service) { s.Protocol = "udp" }},
		{name: "protocol tcp", app: "myapp", service: func(s *Service) { s.Protocol = "tcp" }},
		{name: "protocol https", app: "myapp", service: func(s *Service) { s.Protocol = "https" }},
		{name: "protocol unknown", app: "myapp", service: func(s *Service) { s.Protocol = "ftp" }, wantPath: "services[0].protocol", wantMsg: `"ftp" is not a known protocol`},
		{name: "protocol upper case", app: "myapp", service: func(s *Service) { s.Protocol = "HTTP" }, wantPath: "services[0].protocol"},
		{name: "protocol empty", app: "myapp", service: func(s *Service) { s.Protocol = "" }, wantPath: "services[0].protocol", wantMsg: "required"},
		{name: "collection too long", app: "myapp", service: func(s *Service) { s.Collection = strings.Repeat("c", 101) }, wantPath: "services[0].collection"},
		{name: "collection empty", app: "myapp", service: func(s *Service) { s.Collection = "" }},
		{name: "auth none", app: "myapp", service: func(s *Service) { s.AuthType = "none" }},
		{name: "auth base64", app: "myapp", service: func(s *Service) { s.AuthType = "base64" }},
		{name: "auth unknown", app: "myapp", service: func(s *Service) { s.AuthType = "oauth" }, wantPath: "services[0].auth_type", wantMsg: `"oauth" is not a known auth type`},
		{name: "auth empty", app: "myapp", service: func(s *Service) { s.AuthType = "" }, wantPath: "services[0].auth_type", wantMsg: "required"},
		{name: "health path relative", app: "myapp", service: func(s *Service) { s.HealthCheckPath = "healthz" }, wantPath: "services[0].health_check_path", wantMsg: `must start with "/"`},
		{name: "health path missing while enabled", app: "myapp", service: func(s *Service) { s.HealthCheckPath = "" }, wantPath: "services[0].health_check_path", wantMsg: "required when health checks are enabled"},
		{name: "health path missing while disabled", app: "myapp", service: func(s *Service) { s.HealthCheckPath = ""; s.HealthCheckEnabled = false }},
		{name: "interval below minimum", app: "myapp", service: func(s *Service) { s.HealthCheckInterval = 4 }, wantPath: "services[0].health_check_interval", wantMsg: "4 is below the server's minimum of 5"},
		{name: "interval at minimum", app: "myapp", service: func(s *Service) { s.HealthCheckInterval = 5 }},
		{name: "interval checked when disabled", app: "myapp", service: func(s *Service) { s.HealthCheckEnabled = false; s.HealthCheckInterval = 0 }, wantPath: "services[0].health_check_interval"},
		{name: "mapping name rule", app: "myapp", mapping: func(m *Mapping) { m.Name = "route" }, wantPath: "mappings[0].name"},
		{name: "mapping unknown dest", app: "myapp", mapping: func(m *Mapping) { m.DestServices = []string{"myapp-nope"} }, wantPath: "mappings[0].dest_services[0]", wantMsg: `"myapp-nope" is not a service of this configuration`},
		{name: "mapping unknown source", app: "myapp", mapping: func(m *Mapping) { m.SourceServices = []string{"myapp-ghost"} }, wantPath: "mappings[0].source_services[0]"},
		{name: "mapping service as source", app: "myapp", mapping: func(m *Mapping) { m.SourceServices = []string{"myapp-api"} }},
		{name: "mapping external as dest", app: "myapp", mapping: func(m *Mapping) { m.DestServices = []string{"external"} }, wantPath: "mappings[0].dest_services[0]", wantMsg: "can only be a source"},
		{name: "mapping no sources", app: "myapp", mapping: func(m *Mapping) { m.SourceServices = nil }, wantPath: "mappings[0].source_services", wantMsg: "at least one"},
		{name: "mapping no dests", app: "myapp", mapping: func(m *Mapping) { m.DestServices = []string{} }, wantPath: "mappings[0].dest_services"},
		{name: "mapping repeated dest", app: "myapp", mapping: func(m *Mapping) { m.DestServices = []string{"myapp-api", "myapp-api"} }, wantPath: "mappings[0].dest_services[1]", wantMsg: "listed twice"},
		{name: "mapping listen port", app: "myapp", mapping: func(m *Mapping) { m.ListenPort = 65536 }, wantPath: "mappings[0].listen_port", wantMsg: "65536 is not a port"},
		{name: "mapping protocol", app: "myapp", mapping: func(m *Mapping) { m.Protocol = "quic" }, wantPath: "mappings[0].protocol"},
		{name: "mapping path prefix", app: "myapp", mapping: func(m *Mapping) { m.PathPrefix = "api" }, wantPath: "mappings[0].path_prefix"},
		{name: "mapping empty path prefix", app: "myapp", mapping: func(m *Mapping) { m.PathPrefix = "" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := validService("api")
			if tt.service != nil {
				tt.service(&s)
			}
			m := validMapping()
			if tt.mapping != nil {
				tt.mapping(&m)
			}
			err := Validate(tt.app, []Service{s}, []Mapping{m})
			if tt.wantPath == "" {
				if err != nil {
					t.Fatalf("want valid, got %v", err)
				}
				return
			}
			var ve *ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("want *ValidationError, got %v", err)
			}
			if !errors.Is(err, ErrInvalid) {
				t.Error("errors.Is(err, ErrInvalid) = false")
			}
			found := false
			for _, p := range ve.Problems {
				if p.Path == tt.wantPath && strings.Contains(p.Message, tt.wantMsg) {
					found = true
				}
			}
			if !found {
				t.Fatalf("want a problem at %s containing %q, got %v", tt.wantPath, tt.wantMsg, ve.Problems)
			}
		})
	}
}

func TestValidateNamesEveryProblemAtOnce(t *testing.T) {
	a := validService("api")
	b := validService("worker")
	b.Port = 70000
	b.Protocol = "ftp"
	c := validService("api") // duplicate of a
	m := validMapping()
	m.DestServices = []string{"myapp-missing"}
	m2 := validMapping() // duplicate mapping name
	err := Validate("myapp", []Service{a, b, c}, []Mapping{m, m2})
	var ve *ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("want *ValidationError, got %v", err)
	}
	want := []string{
		"services[1].port: 70000 is not a port",
		`services[1].protocol: "ftp" is not a known protocol (want http, https, grpc, tcp or udp)`,
		`services[2].name: duplicate name "myapp-api" (also services[0])`,
		`mappings[0].dest_services[0]: "myapp-missing" is not a service of this configuration`,
		`mappings[1].name: duplicate name "myapp-external-api" (also mappings[0])`,
	}
	if len(ve.Problems) != len(want) {
		t.Fatalf("got %d problems, want %d: %v", len(ve.Problems), len(want), ve.Problems)
	}
	for i, w := range want {
		if got := ve.Problems[i].String(); got != w {
			t.Errorf("problem %d = %q, want %q", i, got, w)
		}
	}
	msg := err.Error()
	if !strings.HasPrefix(msg, "invalid MarchProxy configuration (5 problems): services[1].port: 70000 is not a port; ") {
		t.Errorf("Error() = %q", msg)
	}
}

func TestValidateMappingsAgainstKnownServices(t *testing.T) {
	m := validMapping()
	if err := ValidateMappings("myapp", []string{"myapp-api"}, []Mapping{m}); err != nil {
		t.Fatalf("valid mapping rejected: %v", err)
	}
	err := ValidateMappings("myapp", []string{"myapp-webui"}, []Mapping{m})
	if err == nil || !strings.Contains(err.Error(), `mappings[0].dest_services[0]: "myapp-api" is not a service`) {
		t.Fatalf("want unknown service problem, got %v", err)
	}
}

func TestValidAppName(t *testing.T) {
	for name, want := range map[string]bool{"rookery": true, "my-app": true, "app2": true, "": false, "-app": false, "App": false, "my_app": false} {
		if got := ValidAppName(name); got != want {
			t.Errorf("ValidAppName(%q) = %v, want %v", name, got, want)
		}
	}
}

func TestValidateExtras(t *testing.T) {
	ok := Extras{
		Services: []Service{{Name: "shop-worker", IPFQDN: "worker", Port: 9000, Protocol: "http", AuthType: "none", HealthCheckInterval: 30}},
		// shop-api is generated later; a well-formed name is accepted here.
		Mappings: []Mapping{{Name: "shop-worker-api", SourceServices: []string{"shop-worker"}, DestServices: []string{"shop-api"}, ListenPort: 80, Protocol: "http"}},
	}
	if err := ValidateExtras(ok); err != nil {
		t.Fatalf("valid extras refused: %v", err)
	}
	if err := ValidateExtras(Extras{}); err != nil {
		t.Fatalf("empty extras refused: %v", err)
	}
	bad := Extras{
		Services: []Service{{Name: "worker", IPFQDN: "worker", Port: 70000, Protocol: "http", AuthType: "none", HealthCheckInterval: 30}},
		Mappings: []Mapping{{Name: "shop-m", SourceServices: []string{"Not A Name"}, DestServices: []string{"external"}, ListenPort: 80, Protocol: "http"}},
	}
	err := ValidateExtras(bad)
	if !errors.Is(err, ErrInvalid) {
		t.Fatalf("got %v, want ErrInvalid", err)
	}
	for _, want := range []string{
		`services[0].name: "worker" does not follow`,
		`services[0].port: 70000 is not a port`,
		`mappings[0].source_services[0]: "Not A Name" is not a service of this configuration`,
		`mappings[0].dest_services[0]: "external" can only be a source`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
}
