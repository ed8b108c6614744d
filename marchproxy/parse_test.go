package marchproxy

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestParseImportShapes(t *testing.T) {
	tests := []struct {
		name         string
		in           string
		wantServices int
		wantMappings int
		wantMeta     bool
	}{
		{"services.json", `{"services":[{"name":"a-b","ip_fqdn":"h","port":1}]}`, 1, 0, false},
		{"mappings.json", `{"mappings":[{"name":"a-m","source_services":["external"],"dest_services":["a-b"],"listen_port":443,"protocol":"https","path_prefix":"/"}]}`, 0, 1, false},
		{"import-config.json", `{"services":[],"metadata":{"app_name":"a","generated_by":"x","version":"1"}}`, 0, 0, true},
		{"extras", `{"services":[{"name":"a-b"}],"mappings":[{"name":"a-m"}]}`, 1, 1, false},
		{"unknown keys ignored", `{"services":[{"name":"a-b","weight":3}],"comment":"hi"}`, 1, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := ParseImport([]byte(tt.in))
			if err != nil {
				t.Fatalf("ParseImport: %v", err)
			}
			if len(f.Services) != tt.wantServices || len(f.Mappings) != tt.wantMappings || (f.Metadata != nil) != tt.wantMeta {
				t.Fatalf("got %d services, %d mappings, metadata %v", len(f.Services), len(f.Mappings), f.Metadata)
			}
		})
	}
}

func TestParseImportAppliesStandardsDefaults(t *testing.T) {
	f, err := ParseImport([]byte(`{"services":[
		{"name":"myapp-webui","ip_fqdn":"webui","port":80,"protocol":"http","collection":"myapp","health_check_enabled":true,"health_check_path":"/"},
		{"name":"myapp-raw","ip_fqdn":"raw","port":9000,"health_check_enabled":false,"health_check_interval":10}
	]}`))
	if err != nil {
		t.Fatal(err)
	}
	want := []Service{
		{Name: "myapp-webui", IPFQDN: "webui", Port: 80, Protocol: "http", Collection: "myapp", AuthType: "none", HealthCheckEnabled: true, HealthCheckPath: "/", HealthCheckInterval: 30},
		{Name: "myapp-raw", IPFQDN: "raw", Port: 9000, Protocol: "http", AuthType: "none", HealthCheckEnabled: false, HealthCheckPath: "/healthz", HealthCheckInterval: 10},
	}
	if !reflect.DeepEqual(f.Services, want) {
		t.Fatalf("got  %+v\nwant %+v", f.Services, want)
	}
	if !f.HasServices || f.HasMappings {
		t.Errorf("HasServices=%v HasMappings=%v", f.HasServices, f.HasMappings)
	}
}

func TestParseImportErrors(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []string
	}{
		{"empty", "", []string{"the file is empty"}},
		{"array", `[1,2]`, []string{"want a JSON object"}},
		{"not json", `{"services":`, []string{"invalid JSON"}},
		{"no known keys", `{"foo":1}`, []string{`no "services" or "mappings"`}},
		{"services not a list", `{"services":"x"}`, []string{"services: want a list, got string"}},
		{"every bad field", `{"services":[{"name":"a-b","port":"80"},{"name":1}],"mappings":[{"listen_port":true}]}`,
			[]string{"services[0]: port: want a whole number, got string", "services[1]: name: want a string, got number", "mappings[0]: listen_port: want a whole number, got bool"}},
		{"fractional port", `{"services":[{"port":80.5}]}`, []string{"services[0]: port: want a whole number"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseImport([]byte(tt.in))
			if err == nil {
				t.Fatal("want an error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestParseImportReadsGeneratedFiles(t *testing.T) {
	for _, name := range []string{ServicesFileName, MappingsFileName, ImportFileName} {
		data, err := os.ReadFile(filepath.Join("testdata", "full", name))
		if err != nil {
			t.Fatal(err)
		}
		f, err := ParseImport(data)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if name != MappingsFileName {
			if err := Validate("shop", f.Services, nil); err != nil {
				t.Errorf("%s: %v", name, err)
			}
		}
	}
}

// FuzzParseImport checks that no input makes the reader panic and that
// whatever it accepts can be validated, encoded and read back the same.
func FuzzParseImport(f *testing.F) {
	for _, seed := range []string{
		``, `{}`, `null`, `[]`, `"x"`, `{"services":null}`,
		`{"services":[{}]}`, `{"services":[null]}`, `{"services":[1]}`,
		`{"services":[{"name":"a-b","ip_fqdn":"h","port":70000,"protocol":"grpc"}],"metadata":{"app_name":"a"}}`,
		`{"mappings":[{"name":"a-m","source_services":["external"],"dest_services":["a-b"],"listen_port":443}]}`,
		`{"mappings":[{"source_services":"external"}]}`,
		`{"services":[{"port":1e400}]}`, `{"services":[{"port":-0}]}`, `{"metadata":[]}`,
		`{"services":[{"name":"\u0000\ud800"}]}`, `{"SERVICES":[{"NAME":"a-b"}]}`,
	} {
		f.Add([]byte(seed))
	}
	for _, name := range []string{ServicesFileName, MappingsFileName, ImportFileName} {
		if data, err := os.ReadFile(filepath.Join("testdata", "full", name)); err == nil {
			f.Add(data)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := ParseImport(data)
		if err != nil {
			if got.Services != nil || got.Mappings != nil {
				t.Fatalf("error %v came with data", err)
			}
			return
		}
		_ = Validate("", got.Services, got.Mappings)
		enc, err := Encode(struct {
			Services []Service `json:"services"`
			Mappings []Mapping `json:"mappings"`
		}{nilToEmpty(got.Services), nilMappingsToEmpty(got.Mappings)})
		if err != nil {
			t.Fatalf("encode accepted input: %v", err)
		}
		again, err := ParseImport(enc)
		if err != nil {
			t.Fatalf("re-read of encoded input failed: %v\n%s", err, enc)
		}
		if !reflect.DeepEqual(nilToEmpty(again.Services), nilToEmpty(got.Services)) {
			t.Fatalf("round trip changed services:\n%+v\n%+v", got.Services, again.Services)
		}
	})
}

func nilMappingsToEmpty(m []Mapping) []Mapping {
	if m == nil {
		return []Mapping{}
	}
	return m
}

func nilToEmpty(s []Service) []Service {
	if s == nil {
		return []Service{}
	}
	return s
}

func TestParseExtrasWrapsErrors(t *testing.T) {
	_, err := ParseExtras([]byte(`{"services":"nope"}`))
	if err == nil || !strings.HasPrefix(err.Error(), "parse extras: ") || !errors.Is(err, ErrInvalid) {
		t.Fatalf("got %v", err)
	}
}
