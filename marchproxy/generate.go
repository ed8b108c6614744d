package marchproxy

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
)

// GeneratedBy is written into import-config.json's metadata.
const GeneratedBy = "rookery"

// DefaultOutputDir is where the standards keep the generated files.
const DefaultOutputDir = "config/marchproxy"

// File names inside the output directory.
const (
	ServicesFileName = "services.json"
	MappingsFileName = "mappings.json"
	ImportFileName   = "import-config.json"
)

// AppSettings is what generation needs to know about the application.
type AppSettings struct {
	// AppName prefixes every service and mapping name and is the collection.
	AppName string
	// APIHost and APIPort are where the proxy reaches the HTTP API.
	APIHost string
	APIPort int
	// WebUIServedByAPI means the web UI comes from the API process itself;
	// WebUIHost and WebUIPort are then ignored.
	WebUIServedByAPI bool
	WebUIHost        string
	WebUIPort        int
	// GRPCHealthEnabled adds the gRPC health service on APIHost:GRPCHealthPort.
	GRPCHealthEnabled bool
	GRPCHealthPort    int
	// TLSEnabled means the application itself serves TLS.
	TLSEnabled bool
	// Version goes into the metadata; empty means "0.0.0" as in the
	// standards (whose source is APP_VERSION).
	Version string
}

// DefaultAppSettings are the settings of an application that serves its API
// and web UI from one process on port 8080 of a host named after the app,
// without TLS or a gRPC health port.
func DefaultAppSettings(appName string) AppSettings {
	return AppSettings{
		AppName:          appName,
		APIHost:          appName,
		APIPort:          8080,
		WebUIServedByAPI: true,
		GRPCHealthPort:   50051,
	}
}

// WithDefaults fills what is unset the way DefaultAppSettings would: the API
// on port 8080 of a host named after the app, the web UI served by the API
// process unless a web UI host or port is given, gRPC health on 50051 when
// enabled. The version is left alone (Generate turns "" into "0.0.0").
func (a AppSettings) WithDefaults() AppSettings {
	d := DefaultAppSettings(a.AppName)
	if a.APIHost == "" {
		a.APIHost = d.APIHost
	}
	if a.APIPort == 0 {
		a.APIPort = d.APIPort
	}
	if !a.WebUIServedByAPI && a.WebUIHost == "" && a.WebUIPort == 0 {
		a.WebUIServedByAPI = true
	}
	if a.GRPCHealthPort == 0 {
		a.GRPCHealthPort = d.GRPCHealthPort
	}
	return a
}

// Extras is the optional declarative file that adds the application's other
// services and mappings (same keys as services.json and mappings.json). An
// entry named like a generated one replaces it.
type Extras struct {
	Services []Service
	Mappings []Mapping
}

// ParseExtras reads an extras file. Services without a collection join the
// application's collection when generated.
func ParseExtras(data []byte) (Extras, error) {
	f, err := ParseImport(data)
	if err != nil {
		return Extras{}, fmt.Errorf("parse extras: %w", err)
	}
	return Extras{Services: f.Services, Mappings: f.Mappings}, nil
}

// ValidateExtras checks extras on their own, before any application
// settings are known: every service and mapping rule that Generate applies,
// except the {app_name} prefix (only the "<app>-<service>" shape is
// checked) and references to the services Generate adds itself, which are
// accepted when they are well-formed names. Generate checks the rest.
func ValidateExtras(e Extras) error {
	var ps problems
	names := validateServices(&ps, "", e.Services)
	for _, m := range e.Mappings {
		for _, r := range slices.Concat(m.SourceServices, m.DestServices) {
			if r == "" || r == SourceExternal || names[r] {
				continue
			}
			var shape problems
			checkName(&shape, "", "", r)
			if len(shape) == 0 {
				names[r] = true
			}
		}
	}
	validateMappings(&ps, "", names, e.Mappings)
	return ps.err()
}

// Generated holds the three files' contents.
type Generated struct {
	Services ServicesFile
	Mappings MappingsFile
	Import   ImportConfig
}

// Service-name suffixes of the generated services.
const (
	SuffixAPI        = "api"
	SuffixWebUI      = "webui"
	SuffixGRPCHealth = "grpc-health"
)

// Generate builds the application's services and mappings the way the
// standards' generate_marchproxy_config does, then adds extras. The result is
// validated; services and mappings are sorted by name so that the same input
// always gives the same files.
func Generate(app AppSettings, extras Extras) (Generated, error) {
	if err := app.validate(); err != nil {
		return Generated{}, fmt.Errorf("generate MarchProxy config: %w", err)
	}
	proto := ProtocolHTTP
	if app.TLSEnabled {
		proto = ProtocolHTTPS
	}
	name := func(suffix string) string { return app.AppName + "-" + suffix }

	services := []Service{{
		Name:                name(SuffixAPI),
		IPFQDN:              app.APIHost,
		Port:                app.APIPort,
		Protocol:            proto,
		Collection:          app.AppName,
		AuthType:            AuthJWT,
		TLSEnabled:          app.TLSEnabled,
		HealthCheckEnabled:  true,
		HealthCheckPath:     "/healthz",
		HealthCheckInterval: 30,
	}}
	webHost, webPort := app.WebUIHost, app.WebUIPort
	if app.WebUIServedByAPI {
		webHost, webPort = app.APIHost, app.APIPort
	}
	services = append(services, Service{
		Name:                name(SuffixWebUI),
		IPFQDN:              webHost,
		Port:                webPort,
		Protocol:            proto,
		Collection:          app.AppName,
		AuthType:            AuthNone,
		TLSEnabled:          app.TLSEnabled,
		HealthCheckEnabled:  true,
		HealthCheckPath:     "/",
		HealthCheckInterval: 30,
	})
	if app.GRPCHealthEnabled {
		services = append(services, Service{
			Name:                name(SuffixGRPCHealth),
			IPFQDN:              app.APIHost,
			Port:                app.GRPCHealthPort,
			Protocol:            ProtocolGRPC,
			Collection:          app.AppName,
			AuthType:            AuthNone,
			TLSEnabled:          app.TLSEnabled,
			HealthCheckEnabled:  true,
			HealthCheckPath:     "/grpc.health.v1.Health/Check",
			HealthCheckInterval: 10,
		})
	}
	mappings := []Mapping{
		{
			Name:           name("external-api"),
			Description:    "External REST API access",
			SourceServices: []string{SourceExternal},
			DestServices:   []string{name(SuffixAPI)},
			ListenPort:     443,
			Protocol:       ProtocolHTTPS,
			PathPrefix:     "/api/v1",
		},
		{
			Name:           name("webui-access"),
			Description:    "WebUI frontend access",
			SourceServices: []string{SourceExternal},
			DestServices:   []string{name(SuffixWebUI)},
			ListenPort:     443,
			Protocol:       ProtocolHTTPS,
			PathPrefix:     "/",
		},
	}

	for _, s := range extras.Services {
		if s.Collection == "" {
			s.Collection = app.AppName
		}
		services = replaceOrAppend(services, s, func(s Service) string { return s.Name })
	}
	for _, m := range extras.Mappings {
		mappings = replaceOrAppend(mappings, m, func(m Mapping) string { return m.Name })
	}
	slices.SortStableFunc(services, func(a, b Service) int { return cmp.Compare(a.Name, b.Name) })
	slices.SortStableFunc(mappings, func(a, b Mapping) int { return cmp.Compare(a.Name, b.Name) })
	if err := Validate(app.AppName, services, mappings); err != nil {
		return Generated{}, fmt.Errorf("generate MarchProxy config: %w", err)
	}

	version := app.Version
	if version == "" {
		version = "0.0.0"
	}
	return Generated{
		Services: ServicesFile{Services: services},
		Mappings: MappingsFile{Mappings: mappings},
		Import: ImportConfig{
			Services: services,
			Metadata: Metadata{AppName: app.AppName, GeneratedBy: GeneratedBy, Version: version},
		},
	}, nil
}

func replaceOrAppend[T any](list []T, v T, key func(T) string) []T {
	for i := range list {
		if key(list[i]) == key(v) {
			list[i] = v
			return list
		}
	}
	return append(list, v)
}

func (a AppSettings) validate() error {
	var ps problems
	if !ValidAppName(a.AppName) {
		ps.add("app.app_name", "%q must be lower-case letters, digits and inner hyphens", a.AppName)
	}
	checkHost(&ps, "app.api_host", a.APIHost)
	checkPort(&ps, "app.api_port", a.APIPort)
	if !a.WebUIServedByAPI {
		checkHost(&ps, "app.webui_host", a.WebUIHost)
		checkPort(&ps, "app.webui_port", a.WebUIPort)
	}
	if a.GRPCHealthEnabled {
		checkPort(&ps, "app.grpc_health_port", a.GRPCHealthPort)
	}
	return ps.err()
}

// Files returns the encoded contents keyed by file name.
func (g Generated) Files() (map[string][]byte, error) {
	out := make(map[string][]byte, 3)
	for name, v := range map[string]any{
		ServicesFileName: nonNilServices(g.Services),
		MappingsFileName: nonNilMappings(g.Mappings),
		ImportFileName:   ImportConfig{Services: nonNilServices(ServicesFile{g.Import.Services}).Services, Metadata: g.Import.Metadata},
	} {
		b, err := Encode(v)
		if err != nil {
			return nil, fmt.Errorf("encode %s: %w", name, err)
		}
		out[name] = b
	}
	return out, nil
}

// an empty list must be written as [] rather than null.
func nonNilServices(f ServicesFile) ServicesFile {
	if f.Services == nil {
		f.Services = []Service{}
	}
	return f
}

func nonNilMappings(f MappingsFile) MappingsFile {
	if f.Mappings == nil {
		f.Mappings = []Mapping{}
	}
	f.Mappings = slices.Clone(f.Mappings)
	for i, m := range f.Mappings {
		if m.SourceServices == nil {
			f.Mappings[i].SourceServices = []string{}
		}
		if m.DestServices == nil {
			f.Mappings[i].DestServices = []string{}
		}
	}
	return f
}

// Encode writes v the way every generated file is written: two-space
// indentation, no HTML escaping, a trailing newline.
func Encode(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// Write writes the three files into dir (created if missing). Each file is
// replaced atomically, so a reader never sees a half-written file.
func (g Generated) Write(dir string) error {
	files, err := g.Files()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	for _, name := range []string{ServicesFileName, MappingsFileName, ImportFileName} {
		if err := WriteFileAtomic(filepath.Join(dir, name), files[name]); err != nil {
			return err
		}
	}
	return nil
}

// WriteFileAtomic writes data to a temporary file next to path, syncs it and
// renames it over path.
func WriteFileAtomic(path string, data []byte) (err error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			_ = tmp.Close()
			_ = os.Remove(tmp.Name())
		}
	}()
	if _, err = tmp.Write(data); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err = tmp.Chmod(0o644); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err = tmp.Sync(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err = tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err = os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
