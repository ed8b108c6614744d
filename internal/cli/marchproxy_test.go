package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"github.com/rookery/rookery/internal/app"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rookery/rookery/marchproxy"
	"github.com/rookery/rookery/marchproxy/marchproxytest"
)

const (
	mpTestUser     = "importer"
	mpTestPassword = "pass-word-1234"
	mpTestKey      = "cluster-key-secret-1"
)

// mpClearEnv keeps the caller's environment out of the tests; applyMarchProxyEnv
// ignores empty variables.
func mpClearEnv(t *testing.T) {
	for _, k := range []string{envMarchProxyAPI, envClusterAPIKey, envMarchProxyUsername, envMarchProxyPassword, envMarchProxyClusterID, envAppVersion} {
		t.Setenv(k, "")
	}
}

func mpFake(t *testing.T, opts ...marchproxytest.Option) *marchproxytest.Server {
	t.Helper()
	all := append([]marchproxytest.Option{
		marchproxytest.WithUser(mpTestUser, mpTestPassword),
		marchproxytest.WithTOTPUser("twofa", mpTestPassword, "112233"),
		marchproxytest.WithCluster(1, mpTestKey),
	}, opts...)
	f := marchproxytest.NewServer(all...)
	t.Cleanup(f.Close)
	return f
}

func mpLoader(s marchproxy.Settings, err error) func(context.Context) (mpConfig, error) {
	return func(context.Context) (mpConfig, error) { return mpConfig{Settings: s}, err }
}

func mpSettings(api string) marchproxy.Settings {
	return marchproxy.Settings{
		API: api, ClusterID: 1, Username: mpTestUser, Password: marchproxy.NewSecret(mpTestPassword), ClusterAPIKey: marchproxy.NewSecret(mpTestKey),
		App: marchproxy.AppSettings{AppName: "rookery"},
	}
}

type mpResult struct {
	stdout, stderr string
	err            error
}

func (r mpResult) code() int {
	if r.err == nil {
		return 0
	}
	var ec interface{ ExitCode() int }
	if errors.As(r.err, &ec) {
		return ec.ExitCode()
	}
	return 1
}

func mpRun(t *testing.T, load func(context.Context) (mpConfig, error), args ...string) mpResult {
	t.Helper()
	cmd := New("rookery", "test", app.Extension{}).newMarchProxyCmd(load)
	var out, errOut bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	cmd.SetArgs(args)
	err := cmd.ExecuteContext(context.Background())
	r := mpResult{stdout: out.String(), stderr: errOut.String(), err: err}
	for _, secret := range []string{mpTestPassword, mpTestKey} {
		if strings.Contains(r.stdout+r.stderr, secret) || (err != nil && strings.Contains(err.Error(), secret)) {
			t.Fatalf("secret %q printed by %v", secret, args)
		}
	}
	return r
}

func TestMarchProxyDiffExitCodes(t *testing.T) {
	mpClearEnv(t)
	f := mpFake(t)
	load := mpLoader(mpSettings(f.URL), nil)
	dir := t.TempDir()

	if r := mpRun(t, load, "generate", "--out", dir); r.code() != 0 {
		t.Fatalf("generate: %v %s", r.err, r.stderr)
	}

	r := mpRun(t, load, "diff", "--from", dir)
	if r.code() != 2 || !strings.Contains(r.stdout, "cluster 1: 2 to create, 0 to update") {
		t.Fatalf("diff before import: exit %d\n%s%s", r.code(), r.stdout, r.stderr)
	}
	if !strings.Contains(r.stdout, "mapping rookery-external-api: not importable: the server has no mappings API") {
		t.Errorf("mappings not reported:\n%s", r.stdout)
	}

	r = mpRun(t, load, "diff", "--from", dir, "--json")
	var plan marchproxy.ChangePlan
	if r.code() != 2 || json.Unmarshal([]byte(r.stdout), &plan) != nil || len(plan.Steps) != 2 || len(plan.NotImportable) != 2 {
		t.Fatalf("diff --json: exit %d\n%s", r.code(), r.stdout)
	}

	r = mpRun(t, load, "import", "--from", dir)
	if r.code() != 0 || !strings.Contains(r.stdout, "applied 2 of 2 steps") || !strings.Contains(r.stdout, "verified: the cluster 1 config lists all 2 services") {
		t.Fatalf("import: exit %d %v\n%s%s", r.code(), r.err, r.stdout, r.stderr)
	}

	r = mpRun(t, load, "diff", "--from", dir)
	if r.code() != 0 || !strings.Contains(r.stdout, "0 to create, 0 to update, 0 to reactivate, 0 to delete") {
		t.Fatalf("diff after import: exit %d\n%s", r.code(), r.stdout)
	}

	f.SetDown(true)
	if r := mpRun(t, load, "diff", "--from", dir); r.code() != 1 {
		t.Fatalf("diff with the server down: exit %d", r.code())
	}
	f.SetDown(false)

	bad := mpSettings(f.URL)
	bad.Password = marchproxy.NewSecret("wrong-password-99")
	if r := mpRun(t, mpLoader(bad, nil), "diff", "--from", dir); r.code() != 1 || !strings.Contains(r.err.Error(), "Incorrect username or password") {
		t.Fatalf("diff with a bad password: exit %d %v", r.code(), r.err)
	}
	if r := mpRun(t, mpLoader(marchproxy.Settings{}, errors.New("database is locked")), "diff"); r.code() != 1 || !strings.Contains(r.err.Error(), "database is locked") {
		t.Fatalf("diff when settings fail to load: exit %d %v", r.code(), r.err)
	}
	if r := mpRun(t, load, "diff", "--from", t.TempDir()); r.code() != 1 || !strings.Contains(r.err.Error(), "run `rookery marchproxy generate` first") {
		t.Fatalf("diff without files: exit %d %v", r.code(), r.err)
	}
}

func TestMarchProxyPortChangeAndPrune(t *testing.T) {
	mpClearEnv(t)
	f := mpFake(t)
	load := mpLoader(mpSettings(f.URL), nil)
	if r := mpRun(t, load, "import", "--generate"); r.code() != 0 {
		t.Fatalf("import: %v %s", r.err, r.stderr)
	}
	f.AddService(marchproxytest.Service{Name: "rookery-old", IPFQDN: "old", Port: 1, Protocol: "tcp", AuthType: "none", ClusterID: 1, IsActive: true, HealthCheckInterval: 30})

	moved := mpSettings(f.URL)
	moved.App.APIPort = 9090
	r := mpRun(t, mpLoader(moved, nil), "diff", "--generate")
	if r.code() != 2 || !strings.Contains(r.stdout, "~ update rookery-api") || !strings.Contains(r.stdout, "port 8080 -> 9090") || strings.Contains(r.stdout, "- delete") {
		t.Fatalf("diff: exit %d\n%s", r.code(), r.stdout)
	}
	r = mpRun(t, mpLoader(moved, nil), "diff", "--generate", "--prune")
	if r.code() != 2 || !strings.Contains(r.stdout, "- delete rookery-old") {
		t.Fatalf("diff --prune: exit %d\n%s", r.code(), r.stdout)
	}
	f.ResetRequests()
	if r := mpRun(t, mpLoader(moved, nil), "import", "--generate", "--dry-run", "--prune"); r.code() != 0 || !strings.Contains(r.stdout, "dry run: nothing was sent") {
		t.Fatalf("dry run: exit %d\n%s", r.code(), r.stdout)
	}
	for _, req := range f.Requests() {
		if req.Method != "GET" && !strings.HasPrefix(req.Path, "/api/v1/auth/") {
			t.Fatalf("dry run sent %s %s", req.Method, req.Path)
		}
	}
	if r := mpRun(t, mpLoader(moved, nil), "import", "--generate", "--prune"); r.code() != 0 {
		t.Fatalf("import --prune: %v", r.err)
	}
	if s, _ := f.ServiceByName("rookery-old"); s.IsActive {
		t.Error("prune left rookery-old active")
	}
	if s, _ := f.ServiceByName("rookery-api"); s.Port != 9090 {
		t.Errorf("port not updated: %+v", s)
	}
}

func TestMarchProxyBulk(t *testing.T) {
	mpClearEnv(t)
	f := mpFake(t)
	load := mpLoader(mpSettings(f.URL), nil)
	r := mpRun(t, load, "import", "--generate", "--bulk")
	if r.code() != 0 || !strings.Contains(r.stderr, "no bulk import endpoint; importing service by service") || !strings.Contains(r.stdout, "applied 2 of 2") {
		t.Fatalf("bulk on the real server: exit %d\n%s%s", r.code(), r.stdout, r.stderr)
	}

	g := mpFake(t, marchproxytest.WithBulkImport())
	r = mpRun(t, mpLoader(mpSettings(g.URL), nil), "import", "--generate", "--bulk")
	if r.code() != 0 || !strings.Contains(r.stdout, "bulk import accepted 2 services") {
		t.Fatalf("bulk on a server that has it: exit %d\n%s%s", r.code(), r.stdout, r.stderr)
	}
	posts := 0
	for _, req := range g.Requests() {
		if req.Method == "POST" && req.Path == "/api/v1/services" {
			posts++
		}
	}
	if posts != 0 || len(g.Services()) != 2 {
		t.Fatalf("bulk import fell back to %d single POSTs; %d services", posts, len(g.Services()))
	}
}

func TestMarchProxyEnvAndFlagsOverride(t *testing.T) {
	mpClearEnv(t)
	f := mpFake(t)
	load := mpLoader(mpSettings("http://127.0.0.1:1"), nil)
	t.Setenv(envMarchProxyAPI, f.URL)
	if r := mpRun(t, load, "diff", "--generate"); r.code() != 2 {
		t.Fatalf("MARCHPROXY_API did not override the database: exit %d %v", r.code(), r.err)
	}
	if r := mpRun(t, load, "diff", "--generate", "--api", "http://127.0.0.1:1"); r.code() != 1 {
		t.Fatalf("--api did not override MARCHPROXY_API: exit %d", r.code())
	}
	t.Setenv(envMarchProxyClusterID, "abc")
	if r := mpRun(t, load, "diff", "--generate"); r.code() != 1 || !strings.Contains(r.err.Error(), "MARCHPROXY_CLUSTER_ID") {
		t.Fatalf("bad MARCHPROXY_CLUSTER_ID: exit %d %v", r.code(), r.err)
	}
	t.Setenv(envMarchProxyClusterID, "")
	noUser := mpSettings(f.URL)
	noUser.Username = ""
	if r := mpRun(t, mpLoader(noUser, nil), "diff", "--generate"); r.code() != 1 || !strings.Contains(r.err.Error(), "MARCHPROXY_USERNAME") {
		t.Fatalf("no user: exit %d %v", r.code(), r.err)
	}
	t.Setenv(envMarchProxyUsername, "twofa")
	if r := mpRun(t, load, "diff", "--generate"); r.code() != 1 || !strings.Contains(r.err.Error(), "--totp") {
		t.Fatalf("2FA account without a code: exit %d %v", r.code(), r.err)
	}
	if r := mpRun(t, load, "diff", "--generate", "--totp", "112233"); r.code() != 2 {
		t.Fatalf("2FA account with a code: exit %d %v", r.code(), r.err)
	}
}

func TestMarchProxyValidate(t *testing.T) {
	mpClearEnv(t)
	load := mpLoader(mpSettings("http://unused"), nil)
	dir := t.TempDir()
	if r := mpRun(t, load, "generate", "--out", dir); r.code() != 0 {
		t.Fatal(r.err)
	}
	files := []string{filepath.Join(dir, "services.json"), filepath.Join(dir, "mappings.json"), filepath.Join(dir, "import-config.json")}
	r := mpRun(t, load, append([]string{"validate"}, files...)...)
	if r.code() != 0 || strings.Count(r.stdout, ": ok (") != 3 {
		t.Fatalf("validate generated files: exit %d\n%s", r.code(), r.stdout)
	}
	// A lone mappings file finds services.json beside it.
	if r := mpRun(t, load, "validate", files[1]); r.code() != 0 {
		t.Fatalf("validate mappings.json alone: exit %d\n%s", r.code(), r.stdout)
	}

	bad := filepath.Join(t.TempDir(), "services.json")
	if err := os.WriteFile(bad, []byte(`{"services":[
		{"name":"rookery-api","ip_fqdn":"api","port":70000,"protocol":"grpc","auth_type":"jwt"},
		{"name":"other-thing","ip_fqdn":"x","port":80,"health_check_path":"healthz","health_check_interval":1}]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	r = mpRun(t, load, "validate", bad, filepath.Join(dir, "missing.json"))
	if r.code() != 1 {
		t.Fatalf("validate bad files: exit %d", r.code())
	}
	for _, want := range []string{
		"services[0].port: 70000 is not a port",
		`services[1].name: "other-thing" does not follow the {app_name}-{service} rule`,
		`services[1].health_check_path: "healthz" must start with "/"`,
		"services[1].health_check_interval: 1 is below the server's minimum of 5 seconds",
		"missing.json: open",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, r.stdout)
		}
	}
	if !strings.Contains(r.err.Error(), "2 of 2 files are not valid") {
		t.Errorf("err = %v", r.err)
	}
}

func TestMarchProxyGenerateReportsEveryProblem(t *testing.T) {
	mpClearEnv(t)
	s := mpSettings("http://unused")
	s.App = marchproxy.AppSettings{AppName: "Bad Name", APIPort: 70000}
	r := mpRun(t, mpLoader(s, nil), "generate", "--out", t.TempDir())
	if r.code() != 1 || !strings.Contains(r.stderr, "app.app_name") || !strings.Contains(r.stderr, "app.api_port: 70000 is not a port") {
		t.Fatalf("exit %d\n%s", r.code(), r.stderr)
	}
	t.Setenv(envAppVersion, "3.1.4")
	dir := t.TempDir()
	if r := mpRun(t, mpLoader(mpSettings("http://unused"), nil), "generate", "--out", dir); r.code() != 0 {
		t.Fatal(r.err)
	}
	data, _ := os.ReadFile(filepath.Join(dir, "import-config.json"))
	if !strings.Contains(string(data), `"version": "3.1.4"`) || !strings.Contains(string(data), `"generated_by": "rookery"`) {
		t.Fatalf("APP_VERSION not used:\n%s", data)
	}
}

func TestMarchProxyConfigMasked(t *testing.T) {
	mpClearEnv(t)
	f := mpFake(t)
	tok := "service-token-do-not-print"
	f.AddService(marchproxytest.Service{Name: "rookery-api", IPFQDN: "api", Port: 8080, Protocol: "http", AuthType: "base64", ClusterID: 1, IsActive: true, HealthCheckInterval: 30, TokenBase64: &tok})
	load := mpLoader(mpSettings(f.URL), nil)
	r := mpRun(t, load, "config")
	if r.code() != 0 || !strings.Contains(r.stdout, `"name": "rookery-api"`) || !strings.Contains(r.stdout, marchproxy.Masked) || strings.Contains(r.stdout, tok) {
		t.Fatalf("config: exit %d %v\n%s", r.code(), r.err, r.stdout)
	}
	req := f.Requests()[0]
	if req.Header.Get("cluster-api-key") != mpTestKey || req.Header.Get("Authorization") != "" {
		t.Fatalf("config sent headers %v", req.Header)
	}
	noKey := mpSettings(f.URL)
	noKey.ClusterAPIKey = marchproxy.Secret{}
	if r := mpRun(t, mpLoader(noKey, nil), "config"); r.code() != 1 || !strings.Contains(r.err.Error(), "CLUSTER_API_KEY") {
		t.Fatalf("config without a key: exit %d %v", r.code(), r.err)
	}
	t.Setenv(envClusterAPIKey, "not-the-key")
	if r := mpRun(t, load, "config"); r.code() != 1 || !strings.Contains(r.err.Error(), "Invalid cluster API key") {
		t.Fatalf("config with a wrong key: exit %d %v", r.code(), r.err)
	}
}

// --- scripts/marchproxy-import.sh ---

func mpScript(t *testing.T) string {
	t.Helper()
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("bash not installed")
	}
	p, err := filepath.Abs(filepath.Join("..", "..", "scripts", "marchproxy-import.sh"))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func mpRunScript(t *testing.T, env []string, args ...string) (string, int) {
	t.Helper()
	cmd := exec.Command("bash", append([]string{mpScript(t)}, args...)...)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}, env...)
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		return string(out), ee.ExitCode()
	case err != nil:
		t.Fatal(err)
	}
	return string(out), 0
}

func TestMarchProxyScriptNeedsClusterKey(t *testing.T) {
	out, code := mpRunScript(t, nil)
	if code != 1 || out != "Error: CLUSTER_API_KEY environment variable required\n" {
		t.Fatalf("exit %d, output %q", code, out)
	}
	out, code = mpRunScript(t, []string{"CLUSTER_API_KEY="})
	if code != 1 || !strings.HasPrefix(out, "Error: CLUSTER_API_KEY environment variable required") {
		t.Fatalf("empty key: exit %d, output %q", code, out)
	}
}

func TestMarchProxyScriptCallsRookery(t *testing.T) {
	dir := t.TempDir()
	argsFile := filepath.Join(dir, "args")
	stub := filepath.Join(dir, "rookery-stub")
	// The stub records its arguments and environment, then exits with $STUB_EXIT.
	script := "#!/bin/bash\necho \"$@\" > " + argsFile + "\necho \"$MARCHPROXY_API\" >> " + argsFile + "\nexit ${STUB_EXIT:-0}\n"
	if err := os.WriteFile(stub, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	out, code := mpRunScript(t, []string{"CLUSTER_API_KEY=k", "ROOKERY=" + stub}, "--dry-run")
	if code != 0 || out != "MarchProxy configuration imported\n" {
		t.Fatalf("success: exit %d, output %q", code, out)
	}
	got, _ := os.ReadFile(argsFile)
	if string(got) != "marchproxy import --from config/marchproxy --dry-run\nhttp://localhost:8000\n" {
		t.Fatalf("stub called with %q", got)
	}
	out, code = mpRunScript(t, []string{"CLUSTER_API_KEY=k", "ROOKERY=" + stub, "STUB_EXIT=2", "MARCHPROXY_API=http://mp:8000"})
	if code != 2 || strings.Contains(out, "imported") {
		t.Fatalf("failure: exit %d, output %q", code, out)
	}
	got, _ = os.ReadFile(argsFile)
	if !strings.HasSuffix(string(got), "http://mp:8000\n") {
		t.Fatalf("MARCHPROXY_API not passed on: %q", got)
	}
}

func TestMarchProxyValidateWithoutDatabase(t *testing.T) {
	mpClearEnv(t)
	path := filepath.Join(t.TempDir(), "services.json")
	if err := os.WriteFile(path, []byte(`{"services":[{"name":"shop-api","ip_fqdn":"api","port":8080}]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	load := mpLoader(marchproxy.Settings{}, errors.New("no database"))
	r := mpRun(t, load, "validate", path)
	if r.code() != 0 || !strings.Contains(r.stderr, "generic <app>-<service> rule") {
		t.Fatalf("exit %d\n%s%s", r.code(), r.stdout, r.stderr)
	}
	if r := mpRun(t, load, "validate", "--app", "rookery", path); r.code() != 1 || !strings.Contains(r.stdout, `want "rookery-<service>"`) {
		t.Fatalf("--app: exit %d\n%s", r.code(), r.stdout)
	}
}

// TestMarchProxyFileMessages pins the exact output of the file handling
// that lives in the marchproxy package: the CLI prints what it returns.
func TestMarchProxyFileMessages(t *testing.T) {
	mpClearEnv(t)
	load := mpLoader(mpSettings("http://unused"), nil)
	empty := t.TempDir()
	lone := t.TempDir()
	mappings := filepath.Join(lone, "mappings.json")
	if err := os.WriteFile(mappings, []byte(`{"mappings":[{"name":"rookery-x","source_services":["external"],"dest_services":["rookery-api"],"listen_port":443,"protocol":"https"}]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	broken := t.TempDir()
	if err := os.WriteFile(filepath.Join(broken, "services.json"), []byte(`{"services":[{"name":"rookery-api","port":"x"}]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	missingExtra := filepath.Join(empty, "extras.json")

	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantErr    string // the whole error message
		wantStdout string // the whole standard output; "-" means not checked
		wantStderr string // the whole standard error; "-" means not checked
	}{
		{name: "diff without files", args: []string{"diff", "--from", empty}, wantCode: 1,
			wantErr:    "no import-config.json or services.json in " + empty + ": run `rookery marchproxy generate` first, or use --generate",
			wantStdout: "", wantStderr: ""},
		{name: "import from a broken services file", args: []string{"import", "--from", broken}, wantCode: 1,
			wantErr:    "1 problems in the MarchProxy configuration",
			wantStdout: "", wantStderr: "  services[0]: port: want a whole number, got string\n"},
		{name: "generate with a missing extras file", args: []string{"generate", "--out", t.TempDir(), "--extra", missingExtra}, wantCode: 1,
			wantErr: "read extras: open " + missingExtra + ": no such file or directory", wantStdout: "", wantStderr: ""},
		{name: "a lone mappings file without services", args: []string{"validate", mappings}, wantCode: 1,
			wantErr:    "1 of 1 files are not valid",
			wantStdout: mappings + ": invalid\n  cannot check the service references: give the services file too (validate services.json mappings.json)\n", wantStderr: ""},
		{name: "a missing file and a valid one", args: []string{"validate", filepath.Join(empty, "nope.json"), filepath.Join(broken, "services.json")}, wantCode: 1,
			wantErr: "2 of 2 files are not valid",
			wantStdout: filepath.Join(empty, "nope.json") + ": open " + filepath.Join(empty, "nope.json") + ": no such file or directory\n" +
				filepath.Join(broken, "services.json") + ": invalid MarchProxy configuration: services[0]: port: want a whole number, got string\n",
			wantStderr: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := mpRun(t, load, tt.args...)
			if r.code() != tt.wantCode || r.err == nil || r.err.Error() != tt.wantErr {
				t.Fatalf("exit %d, err %v\nwant exit %d, err %s", r.code(), r.err, tt.wantCode, tt.wantErr)
			}
			if tt.wantStdout != "-" && r.stdout != tt.wantStdout {
				t.Errorf("stdout %q\nwant   %q", r.stdout, tt.wantStdout)
			}
			if tt.wantStderr != "-" && r.stderr != tt.wantStderr {
				t.Errorf("stderr %q\nwant   %q", r.stderr, tt.wantStderr)
			}
		})
	}
}
