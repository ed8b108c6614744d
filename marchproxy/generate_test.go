package marchproxy

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/ and config/marchproxy/")

func fullSettings() AppSettings {
	return AppSettings{
		AppName: "shop", APIHost: "shop-api", APIPort: 8443,
		WebUIHost: "shop-web", WebUIPort: 3000,
		GRPCHealthEnabled: true, GRPCHealthPort: 50051,
		TLSEnabled: true, Version: "1.4.2",
	}
}

func fullExtras(t testing.TB) Extras {
	data, err := os.ReadFile(filepath.Join("testdata", "extras.json"))
	if err != nil {
		t.Fatal(err)
	}
	ex, err := ParseExtras(data)
	if err != nil {
		t.Fatal(err)
	}
	return ex
}

func checkGolden(t *testing.T, dir string, g Generated) {
	t.Helper()
	if *update {
		if err := g.Write(dir); err != nil {
			t.Fatal(err)
		}
	}
	files, err := g.Files()
	if err != nil {
		t.Fatal(err)
	}
	for name, got := range files {
		want, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatalf("%v (run go test ./marchproxy -run Golden -update)", err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s/%s differs from the generator's output:\n--- got\n%s\n--- want\n%s", dir, name, got, want)
		}
	}
}

func TestGenerateGolden(t *testing.T) {
	tests := []struct {
		dir    string
		app    AppSettings
		extras Extras
	}{
		{filepath.Join("testdata", "default"), DefaultAppSettings("rookery"), Extras{}},
		{filepath.Join("testdata", "full"), fullSettings(), fullExtras(t)},
	}
	for _, tt := range tests {
		t.Run(filepath.Base(tt.dir), func(t *testing.T) {
			g, err := Generate(tt.app, tt.extras)
			if err != nil {
				t.Fatal(err)
			}
			checkGolden(t, tt.dir, g)
		})
	}
}

// The example files shipped for rookery itself must be what the generator
// makes from the default settings.
func TestGenerateGoldenShippedConfig(t *testing.T) {
	g, err := Generate(DefaultAppSettings("rookery"), Extras{})
	if err != nil {
		t.Fatal(err)
	}
	checkGolden(t, filepath.Join("..", "config", "marchproxy"), g)
}

func TestGenerateServices(t *testing.T) {
	g, err := Generate(fullSettings(), Extras{})
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]Service{}
	for _, s := range g.Services.Services {
		byName[s.Name] = s
	}
	api, web, grpc := byName["shop-api"], byName["shop-webui"], byName["shop-grpc-health"]
	if api.AuthType != AuthJWT || api.HealthCheckPath != "/healthz" || api.Protocol != "https" || !api.TLSEnabled || api.IPFQDN != "shop-api" || api.Port != 8443 {
		t.Errorf("api service = %+v", api)
	}
	if web.HealthCheckPath != "/" || web.AuthType != AuthNone || web.IPFQDN != "shop-web" || web.Port != 3000 {
		t.Errorf("webui service = %+v", web)
	}
	if grpc.Protocol != ProtocolGRPC || grpc.HealthCheckPath != "/grpc.health.v1.Health/Check" || grpc.Port != 50051 || grpc.HealthCheckInterval != 10 {
		t.Errorf("grpc service = %+v", grpc)
	}
	for _, s := range g.Services.Services {
		if s.Collection != "shop" || !s.HealthCheckEnabled {
			t.Errorf("%s: collection %q, health %v", s.Name, s.Collection, s.HealthCheckEnabled)
		}
	}
	if g.Import.Metadata != (Metadata{AppName: "shop", GeneratedBy: "rookery", Version: "1.4.2"}) {
		t.Errorf("metadata = %+v", g.Import.Metadata)
	}

	d, err := Generate(DefaultAppSettings("rookery"), Extras{})
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Services.Services) != 2 {
		t.Fatalf("default settings: want api and webui only, got %+v", d.Services.Services)
	}
	if w := d.Services.Services[1]; w.Name != "rookery-webui" || w.IPFQDN != "rookery" || w.Port != 8080 {
		t.Errorf("web UI served by the API process: %+v", w)
	}
	if d.Import.Metadata.Version != "0.0.0" {
		t.Errorf("default version = %q, want 0.0.0", d.Import.Metadata.Version)
	}
	if m := d.Mappings.Mappings; len(m) != 2 || m[0].PathPrefix != "/api/v1" || m[1].PathPrefix != "/" || m[0].SourceServices[0] != "external" {
		t.Errorf("default mappings = %+v", m)
	}
}

func TestGenerateExtrasReplaceByName(t *testing.T) {
	api := DefaultAppSettings("rookery")
	ex := Extras{
		Services: []Service{{Name: "rookery-api", IPFQDN: "elsewhere", Port: 9999, Protocol: "http", AuthType: "jwt", HealthCheckEnabled: true, HealthCheckPath: "/healthz", HealthCheckInterval: 15}},
		Mappings: []Mapping{{Name: "rookery-external-api", SourceServices: []string{"external"}, DestServices: []string{"rookery-api"}, ListenPort: 8443, Protocol: "https", PathPrefix: "/api"}},
	}
	g, err := Generate(api, ex)
	if err != nil {
		t.Fatal(err)
	}
	if len(g.Services.Services) != 2 || g.Services.Services[0].IPFQDN != "elsewhere" || g.Services.Services[0].Collection != "rookery" {
		t.Errorf("services = %+v", g.Services.Services)
	}
	if len(g.Mappings.Mappings) != 2 || g.Mappings.Mappings[0].ListenPort != 8443 {
		t.Errorf("mappings = %+v", g.Mappings.Mappings)
	}
}

func TestGenerateRejectsBadInput(t *testing.T) {
	bad := DefaultAppSettings("Rookery!")
	bad.APIPort = 0
	_, err := Generate(bad, Extras{})
	if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "app.app_name") || !strings.Contains(err.Error(), "app.api_port: 0 is not a port") {
		t.Fatalf("got %v", err)
	}
	_, err = Generate(DefaultAppSettings("rookery"), Extras{Services: []Service{{Name: "other-x"}}})
	if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), `"other-x" does not follow`) {
		t.Fatalf("got %v", err)
	}
}

func TestGenerateDeterministic(t *testing.T) {
	ex := fullExtras(t)
	first, err := Generate(fullSettings(), ex)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := first.Files()
	// Reversing the extras must not change a byte.
	for i, j := 0, len(ex.Services)-1; i < j; i, j = i+1, j-1 {
		ex.Services[i], ex.Services[j] = ex.Services[j], ex.Services[i]
	}
	second, err := Generate(fullSettings(), ex)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := second.Files()
	for name := range a {
		if !bytes.Equal(a[name], b[name]) {
			t.Errorf("%s differs between runs", name)
		}
		if !bytes.HasSuffix(a[name], []byte("}\n")) || !bytes.Contains(a[name], []byte("\n  \"")) {
			t.Errorf("%s: want two-space indent and a trailing newline", name)
		}
	}
}

func TestWriteIsAtomicAndLeavesNoTemporaries(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "out")
	g, err := Generate(DefaultAppSettings("rookery"), Extras{})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, ServicesFileName), []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := g.Write(dir); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(dir)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if strings.Join(names, ",") != "import-config.json,mappings.json,services.json" {
		t.Fatalf("directory holds %v", names)
	}
	data, _ := os.ReadFile(filepath.Join(dir, ServicesFileName))
	if !bytes.HasPrefix(data, []byte("{\n  \"services\": [")) {
		t.Fatalf("services.json = %s", data)
	}
	// A directory in the way of a file makes Write fail cleanly.
	bad := t.TempDir()
	if err := os.Mkdir(filepath.Join(bad, MappingsFileName), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := g.Write(bad); err == nil {
		t.Fatal("want an error when a directory is in the way")
	}
	left, _ := filepath.Glob(filepath.Join(bad, ".*.tmp"))
	if len(left) != 0 {
		t.Fatalf("temporary files left behind: %v", left)
	}
}

func TestEmptyListsAreWrittenAsLists(t *testing.T) {
	files, err := Generated{}.Files()
	if err != nil {
		t.Fatal(err)
	}
	if got := string(files[ServicesFileName]); got != "{\n  \"services\": []\n}\n" {
		t.Errorf("services.json = %q", got)
	}
	if got := string(files[MappingsFileName]); got != "{\n  \"mappings\": []\n}\n" {
		t.Errorf("mappings.json = %q", got)
	}
}

func BenchmarkGenerate(b *testing.B) {
	ex := fullExtras(b)
	app := fullSettings()
	b.ReportAllocs()
	for b.Loop() {
		g, err := Generate(app, ex)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := g.Files(); err != nil {
			b.Fatal(err)
		}
	}
}

func TestAppSettingsWithDefaults(t *testing.T) {
	got := AppSettings{AppName: "rookery", Version: "2.0.0"}.WithDefaults()
	want := DefaultAppSettings("rookery")
	want.Version = "2.0.0"
	if got != want {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	kept := AppSettings{AppName: "a", APIHost: "h", APIPort: 1, WebUIPort: 3000, GRPCHealthPort: 7}.WithDefaults()
	if kept.APIHost != "h" || kept.APIPort != 1 || kept.WebUIServedByAPI || kept.WebUIHost != "" || kept.GRPCHealthPort != 7 {
		t.Fatalf("explicit values changed: %+v", kept)
	}
}
