package marchproxy

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// Small hand-written files in the three shapes, named for the app "shop".
const (
	shopServices = `{"services":[{"name":"shop-api","ip_fqdn":"api","port":8080},{"name":"shop-web","ip_fqdn":"web","port":3000}]}`
	shopImport   = `{"services":[{"name":"shop-api","ip_fqdn":"api","port":8080}],"metadata":{"app_name":"shop","generated_by":"rookery","version":"2.0.0"}}`
	shopMappings = `{"mappings":[{"name":"shop-external-api","source_services":["external"],"dest_services":["shop-api"],"listen_port":443,"protocol":"https"}]}`
	// shopWebMapping refers to shop-web, which shopImport lacks.
	shopWebMapping = `{"mappings":[{"name":"shop-web-access","source_services":["external"],"dest_services":["shop-web"],"listen_port":443,"protocol":"https"}]}`
)

// writeDir writes the files (name -> content) into a new directory. A
// content of "<dir>" makes a directory of that name instead, which cannot be
// read as a file.
func writeDir(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if content == "<dir>" {
			if err := os.Mkdir(p, 0o755); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func serviceNames(ss []Service) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = s.Name
	}
	return out
}

func TestReadFile(t *testing.T) {
	dir := writeDir(t, map[string]string{"services.json": shopServices, "bad.json": `{"services":[{"port":"x"}]}`, "empty.json": ""})
	tests := []struct {
		name      string
		file      string
		wantErr   string // "" means success
		wantIs    error
		wantNames []string
	}{
		{name: "services file", file: "services.json", wantNames: []string{"shop-api", "shop-web"}},
		{name: "missing file", file: "missing.json", wantErr: "missing.json: open ", wantIs: fs.ErrNotExist},
		{name: "type mismatch names the field", file: "bad.json", wantErr: "bad.json: invalid MarchProxy configuration: services[0]: port: want a whole number", wantIs: ErrInvalid},
		{name: "empty file", file: "empty.json", wantErr: "empty.json: parse MarchProxy file: the file is empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(dir, tt.file)
			f, err := ReadFile(path)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				if f.Path != path || !slices.Equal(serviceNames(f.Services), tt.wantNames) || !f.HasServices {
					t.Fatalf("file = %+v", f)
				}
				return
			}
			var fe *FileError
			if !errors.As(err, &fe) || fe.Path != path {
				t.Fatalf("err = %#v, want a *FileError for %s", err, path)
			}
			if !strings.HasPrefix(err.Error(), path+": ") || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("err = %q, want %q", err, tt.wantErr)
			}
			if tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
				t.Errorf("errors.Is(%v, %v) = false", err, tt.wantIs)
			}
		})
	}
}

func TestLoadDir(t *testing.T) {
	tests := []struct {
		name         string
		files        map[string]string
		wantServices []string
		wantMappings int
		wantFrom     string // the services file's name
		wantMapsFrom string // "" when there is no mappings.json
		wantApp      string // Metadata.AppName; "" when no metadata
		wantErr      string // "" means success; "DIR" stands for the directory
		wantIs       error
	}{
		{name: "generated directory prefers import-config.json", files: map[string]string{"import-config.json": shopImport, "services.json": shopServices, "mappings.json": shopMappings},
			wantServices: []string{"shop-api"}, wantMappings: 1, wantFrom: ImportFileName, wantMapsFrom: MappingsFileName, wantApp: "shop"},
		{name: "services.json when there is no import-config.json", files: map[string]string{"services.json": shopServices, "mappings.json": shopMappings},
			wantServices: []string{"shop-api", "shop-web"}, wantMappings: 1, wantFrom: ServicesFileName, wantMapsFrom: MappingsFileName},
		{name: "mappings.json is optional", files: map[string]string{"services.json": shopServices},
			wantServices: []string{"shop-api", "shop-web"}, wantFrom: ServicesFileName},
		{name: "no services file", files: map[string]string{"mappings.json": shopMappings},
			wantErr: "no import-config.json or services.json in DIR", wantIs: ErrNoServicesFile},
		{name: "empty directory", files: map[string]string{},
			wantErr: "no import-config.json or services.json in DIR", wantIs: ErrNoServicesFile},
		{name: "broken import-config.json is not skipped", files: map[string]string{"import-config.json": `{"services":`, "services.json": shopServices},
			wantErr: "DIR/import-config.json: parse MarchProxy file: invalid JSON"},
		{name: "broken mappings.json", files: map[string]string{"services.json": shopServices, "mappings.json": `{"mappings":[{"listen_port":"x"}]}`},
			wantErr: "DIR/mappings.json: invalid MarchProxy configuration: mappings[0]: listen_port", wantIs: ErrInvalid},
		{name: "unreadable services file", files: map[string]string{"import-config.json": "<dir>"},
			wantErr: "DIR/import-config.json: is a directory"},
		{name: "unreadable mappings file", files: map[string]string{"services.json": shopServices, "mappings.json": "<dir>"},
			wantErr: "DIR/mappings.json: is a directory"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := writeDir(t, tt.files)
			got, err := LoadDir(dir)
			if tt.wantErr != "" {
				want := strings.ReplaceAll(tt.wantErr, "DIR", dir)
				if err == nil || !strings.Contains(err.Error(), want) {
					t.Fatalf("err = %v, want %q", err, want)
				}
				if tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
					t.Errorf("errors.Is(%v, %v) = false", err, tt.wantIs)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.Dir != dir || got.ServicesPath != filepath.Join(dir, tt.wantFrom) {
				t.Errorf("dir %q, services from %q", got.Dir, got.ServicesPath)
			}
			wantMapsPath := ""
			if tt.wantMapsFrom != "" {
				wantMapsPath = filepath.Join(dir, tt.wantMapsFrom)
			}
			if got.MappingsPath != wantMapsPath {
				t.Errorf("mappings from %q, want %q", got.MappingsPath, wantMapsPath)
			}
			if !slices.Equal(serviceNames(got.Services), tt.wantServices) || len(got.Mappings) != tt.wantMappings {
				t.Errorf("services %v, %d mappings", serviceNames(got.Services), len(got.Mappings))
			}
			if (tt.wantApp == "") != (got.Metadata == nil) || (got.Metadata != nil && got.Metadata.AppName != tt.wantApp) {
				t.Errorf("metadata = %+v, want app %q", got.Metadata, tt.wantApp)
			}
		})
	}
}

func TestLoadDirGenerated(t *testing.T) {
	// What Write writes, LoadDir reads back unchanged.
	g, err := Generate(fullSettings(), fullExtras(t))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := g.Write(dir); err != nil {
		t.Fatal(err)
	}
	files, err := LoadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	d := files.Desired(AppSettings{AppName: "ignored", Version: "9.9.9"})
	want := g.Desired()
	if d.AppName != "shop" || d.Metadata != want.Metadata || !slices.Equal(d.Services, want.Services) || len(d.Mappings) != len(want.Mappings) {
		t.Fatalf("read back %+v\nwant %+v", d, want)
	}
	if err := d.Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestFilesDesired(t *testing.T) {
	app := AppSettings{AppName: "rookery", Version: "1.2.3"}
	tests := []struct {
		name     string
		metadata *Metadata
		wantApp  string
		wantMeta Metadata
	}{
		{name: "no metadata: the app's name and version", metadata: nil,
			wantApp: "rookery", wantMeta: Metadata{AppName: "rookery", GeneratedBy: GeneratedBy, Version: "1.2.3"}},
		{name: "metadata names the app", metadata: &Metadata{AppName: "shop", GeneratedBy: "other", Version: "2.0.0"},
			wantApp: "shop", wantMeta: Metadata{AppName: "shop", GeneratedBy: "other", Version: "2.0.0"}},
		{name: "metadata without an app name keeps the app's name", metadata: &Metadata{Version: "2.0.0"},
			wantApp: "rookery", wantMeta: Metadata{Version: "2.0.0"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := Files{Services: []Service{validService("api")}, Mappings: []Mapping{validMapping()}, Metadata: tt.metadata}
			d := f.Desired(app)
			if d.AppName != tt.wantApp || d.Metadata != tt.wantMeta || len(d.Services) != 1 || len(d.Mappings) != 1 {
				t.Fatalf("desired = %+v", d)
			}
		})
	}
}

func TestDesiredPlanAndImport(t *testing.T) {
	grpc := validService("grpc-health")
	grpc.Protocol = ProtocolGRPC
	d := Desired{AppName: "myapp", Services: []Service{validService("api"), grpc}, Mappings: []Mapping{validMapping()},
		Metadata: Metadata{AppName: "myapp", GeneratedBy: GeneratedBy, Version: "1.0.0"}}

	if err := d.Validate(); err != nil {
		t.Fatal(err)
	}
	bad := d
	bad.AppName = "other"
	if err := bad.Validate(); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), `want "other-<service>"`) {
		t.Errorf("Validate with another app name: %v", err)
	}

	opts := d.PlanOptions(3, true)
	if opts.ClusterID != 3 || !opts.Prune || opts.AppName != "myapp" || len(opts.Mappings) != 1 {
		t.Errorf("PlanOptions = %+v", opts)
	}

	cfg := d.ImportConfig()
	if cfg.Metadata != d.Metadata || len(cfg.Services) != 2 || cfg.Services[1].Protocol != ProtocolTCP {
		t.Errorf("ImportConfig = %+v", cfg)
	}
	if d.Services[1].Protocol != ProtocolGRPC {
		t.Error("ImportConfig changed the desired services")
	}
}

func TestClusterConfigMissingServices(t *testing.T) {
	cfg := ClusterConfig{Services: []ConfigService{{Name: "myapp-api"}, {Name: "other-api"}}}
	tests := []struct {
		name    string
		desired []Service
		want    []string
	}{
		{name: "all listed", desired: []Service{validService("api")}, want: nil},
		{name: "none desired", desired: nil, want: nil},
		{name: "missing in order", desired: []Service{validService("webui"), validService("api"), validService("worker")}, want: []string{"myapp-webui", "myapp-worker"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := cfg.MissingServices(tt.desired); !slices.Equal(got, tt.want) {
				t.Fatalf("MissingServices = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestGenerateFrom(t *testing.T) {
	dir := writeDir(t, map[string]string{
		"extras.json": `{"services":[{"name":"shop-worker","ip_fqdn":"worker","port":9000}]}`,
		"bad.json":    `{"services":[{"name":"shop-worker","port":"x"}]}`,
	})
	app := fullSettings()
	setting := Extras{Services: []Service{{Name: "shop-cache", IPFQDN: "cache", Port: 6379, Protocol: ProtocolTCP, AuthType: AuthNone, HealthCheckInterval: 30}}}
	tests := []struct {
		name     string
		file     string
		want     string // a service that must be there
		wantNot  string // a service that must not be there
		wantErr  string
		wantProb bool // the error is a *ValidationError
	}{
		{name: "the setting's extras without a file", want: "shop-cache"},
		{name: "a file replaces the setting's extras", file: "extras.json", want: "shop-worker", wantNot: "shop-cache"},
		{name: "missing file", file: "missing.json", wantErr: "read extras: open "},
		{name: "bad file names the file and the field", file: "bad.json", wantErr: "bad.json: parse extras: invalid MarchProxy configuration: services[0]: port", wantProb: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			file := ""
			if tt.file != "" {
				file = filepath.Join(dir, tt.file)
			}
			g, err := GenerateFrom(app, setting, file)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				var ve *ValidationError
				if errors.As(err, &ve) != tt.wantProb {
					t.Errorf("errors.As(*ValidationError) = %v", !tt.wantProb)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			names := serviceNames(g.Services.Services)
			if !slices.Contains(names, tt.want) || (tt.wantNot != "" && slices.Contains(names, tt.wantNot)) {
				t.Fatalf("services %v", names)
			}
		})
	}
}

func TestSourceDesired(t *testing.T) {
	app := AppSettings{AppName: "shop", Version: "1.0.0"}.WithDefaults()
	good := writeDir(t, map[string]string{"services.json": shopServices, "mappings.json": shopMappings})
	// The files are well-formed but break the rules: the mapping names a
	// service the files do not define.
	broken := writeDir(t, map[string]string{"import-config.json": shopImport, "mappings.json": shopWebMapping})
	tests := []struct {
		name      string
		src       Source
		app       AppSettings
		wantNames []string
		wantApp   string
		wantErr   string
		wantIs    error
	}{
		{name: "files", src: Source{Dir: good}, app: app, wantNames: []string{"shop-api", "shop-web"}, wantApp: "shop"},
		{name: "generated", src: Source{Dir: "unused", Generate: true}, app: app, wantNames: []string{"shop-api", "shop-webui"}, wantApp: "shop"},
		{name: "files checked against the configured app name", src: Source{Dir: good}, app: AppSettings{AppName: "rookery"},
			wantErr: `services[0].name: "shop-api" does not follow the {app_name}-{service} rule`, wantIs: ErrInvalid},
		{name: "files that break the rules", src: Source{Dir: broken}, app: app,
			wantErr: `mappings[0].dest_services[0]: "shop-web" is not a service of this configuration`, wantIs: ErrInvalid},
		{name: "no files", src: Source{Dir: t.TempDir()}, app: app, wantErr: "no import-config.json or services.json in", wantIs: ErrNoServicesFile},
		{name: "generated from bad settings", src: Source{Generate: true}, app: AppSettings{AppName: "Bad Name", APIHost: "x", APIPort: 1},
			wantErr: "app.app_name", wantIs: ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := tt.src.Desired(tt.app, Extras{})
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				if !errors.Is(err, tt.wantIs) {
					t.Errorf("errors.Is(%v, %v) = false", err, tt.wantIs)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(serviceNames(d.Services), tt.wantNames) || d.AppName != tt.wantApp {
				t.Fatalf("desired %v for %q", serviceNames(d.Services), d.AppName)
			}
		})
	}
}

func TestValidateFiles(t *testing.T) {
	dir := writeDir(t, map[string]string{
		"services.json":      shopServices,
		"import-config.json": shopImport,
		"mappings.json":      shopMappings,
		"web-mappings.json":  shopWebMapping,
		"meta-only.json":     `{"metadata":{"app_name":"shop"}}`,
		"both.json":          `{"services":[{"name":"shop-api","ip_fqdn":"api","port":70000}],"mappings":[{"name":"shop-x","source_services":["external"],"dest_services":["shop-nope"],"listen_port":443,"protocol":"https"}]}`,
	})
	// A mappings file alone, with import-config.json (no services.json) beside it.
	importOnly := writeDir(t, map[string]string{"import-config.json": shopImport, "mappings.json": shopMappings, "web-mappings.json": shopWebMapping})
	// A mappings file alone, with no services file beside it.
	lone := writeDir(t, map[string]string{"mappings.json": shopMappings})
	// A mappings file alone, with a broken services.json beside it.
	brokenSibling := writeDir(t, map[string]string{"services.json": `{"services":`, "mappings.json": shopMappings})

	in := func(d string, names ...string) []string {
		out := make([]string, len(names))
		for i, n := range names {
			out[i] = filepath.Join(d, n)
		}
		return out
	}
	type bad struct {
		file string // base name of the file
		msg  string // in its error
		is   error
	}
	tests := []struct {
		name  string
		paths []string
		opts  ValidateOptions
		want  []bad // nil: all valid
	}{
		{name: "services and mappings together", paths: in(dir, "services.json", "mappings.json")},
		{name: "a lone mappings file finds services.json beside it", paths: in(dir, "mappings.json")},
		{name: "a lone mappings file finds import-config.json beside it", paths: in(importOnly, "mappings.json")},
		{name: "references resolve against every file given", paths: in(dir, "import-config.json", "services.json", "web-mappings.json")},
		{name: "references resolve against the files given, not the directory", paths: in(dir, "import-config.json", "web-mappings.json"),
			want: []bad{{"web-mappings.json", `mappings[0].dest_services[0]: "shop-web" is not a service of this configuration`, ErrInvalid}}},
		{name: "a lone mappings file checks against the sibling import-config.json", paths: in(importOnly, "web-mappings.json"),
			want: []bad{{"web-mappings.json", `"shop-web" is not a service of this configuration`, ErrInvalid}}},
		{name: "a lone mappings file without services beside it", paths: in(lone, "mappings.json"),
			want: []bad{{"mappings.json", "cannot check the service references: give the services file too", ErrNoSiblingServices}}},
		{name: "a broken sibling services file", paths: in(brokenSibling, "mappings.json"),
			want: []bad{{"mappings.json", "services.json: parse MarchProxy file: invalid JSON", nil}}},
		{name: "a file with services checks its own mappings only against its own services", paths: in(dir, "both.json", "services.json"),
			want: []bad{{"both.json", "services[0].port: 70000 is not a port; mappings[0].dest_services[0]: \"shop-nope\"", ErrInvalid}}},
		{name: "metadata alone is valid", paths: in(dir, "meta-only.json")},
		{name: "AppName wins over the metadata", paths: in(dir, "import-config.json"), opts: ValidateOptions{AppName: "rookery"},
			want: []bad{{"import-config.json", `want "rookery-<service>"`, ErrInvalid}}},
		{name: "the metadata wins over DefaultAppName", paths: in(dir, "import-config.json"), opts: ValidateOptions{DefaultAppName: "rookery"}},
		{name: "DefaultAppName applies without metadata", paths: in(dir, "services.json"), opts: ValidateOptions{DefaultAppName: "rookery"},
			want: []bad{{"services.json", `services[0].name: "shop-api" does not follow the {app_name}-{service} rule (want "rookery-<service>"`, ErrInvalid}}},
		{name: "every invalid file, in order", paths: in(dir, "services.json", "both.json", "import-config.json"), opts: ValidateOptions{AppName: "rookery"},
			want: []bad{{"services.json", "services[1].name", ErrInvalid}, {"both.json", "services[0].port", ErrInvalid}, {"import-config.json", "services[0].name", ErrInvalid}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var files []File
			for _, p := range tt.paths {
				f, err := ReadFile(p)
				if err != nil {
					t.Fatal(err)
				}
				files = append(files, f)
			}
			err := ValidateFiles(tt.opts, files...)
			errs := CheckFiles(tt.opts, files...)
			if len(errs) != len(files) {
				t.Fatalf("CheckFiles gave %d results for %d files", len(errs), len(files))
			}
			if tt.want == nil {
				if err != nil {
					t.Fatalf("ValidateFiles: %v", err)
				}
				for i, e := range errs {
					if e != nil {
						t.Errorf("CheckFiles[%d]: %v", i, e)
					}
				}
				return
			}
			var fe *FilesError
			if !errors.As(err, &fe) || fe.Total != len(files) || len(fe.Files) != len(tt.want) {
				t.Fatalf("ValidateFiles = %v, want %d invalid files", err, len(tt.want))
			}
			for i, w := range tt.want {
				got := fe.Files[i]
				if filepath.Base(got.Path) != w.file || !strings.Contains(got.Error(), w.msg) {
					t.Errorf("file %d: %v, want %s with %q", i, got, w.file, w.msg)
				}
				if w.is != nil && !errors.Is(got, w.is) {
					t.Errorf("file %d: errors.Is(%v, %v) = false", i, got, w.is)
				}
				if !strings.Contains(err.Error(), got.Error()) {
					t.Errorf("ValidateFiles error %q does not name %q", err, got)
				}
			}
			// CheckFiles reports the same files at their own positions.
			n := 0
			for i, e := range errs {
				if e == nil {
					continue
				}
				if n >= len(fe.Files) || e.(*FileError).Path != fe.Files[n].Path || e.(*FileError).Path != files[i].Path {
					t.Fatalf("CheckFiles[%d] = %v does not match ValidateFiles", i, e)
				}
				n++
			}
			if n != len(fe.Files) {
				t.Fatalf("CheckFiles found %d invalid files, ValidateFiles %d", n, len(fe.Files))
			}
			wantInvalid := slices.ContainsFunc(tt.want, func(b bad) bool { return b.is == ErrInvalid })
			if errors.Is(err, ErrInvalid) != wantInvalid {
				t.Errorf("errors.Is(err, ErrInvalid) = %v, want %v", !wantInvalid, wantInvalid)
			}
		})
	}
}

func TestValidateFilesNone(t *testing.T) {
	if err := ValidateFiles(ValidateOptions{}); err != nil {
		t.Fatalf("no files: %v", err)
	}
}

func TestFilesErrorMessage(t *testing.T) {
	err := &FilesError{Total: 3, Files: []*FileError{
		{Path: "a.json", Err: &ValidationError{Problems: []Problem{{Path: "services[0].port", Message: "0 is not a port"}}}},
		{Path: "b.json", Err: ErrNoSiblingServices},
	}}
	want := "2 of 3 MarchProxy files are not valid: a.json: invalid MarchProxy configuration: services[0].port: 0 is not a port; b.json: " + ErrNoSiblingServices.Error()
	if err.Error() != want {
		t.Fatalf("Error() = %q\nwant      %q", err.Error(), want)
	}
}

func TestFileErrorWithoutCause(t *testing.T) {
	// A FileError built by a caller without a cause still prints.
	if got := (&FileError{Path: "a.json"}).Error(); got != "a.json: invalid" {
		t.Fatalf("Error() = %q", got)
	}
}
