package marchproxy

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rookery/rookery/marchproxy/marchproxytest"
)

const (
	testUser    = "admin"
	clusterKey1 = "cluster-key-one"
)

var testPassword = NewSecret("correct-horse-battery")

type env struct {
	fake   *marchproxytest.Server
	clock  *marchproxytest.Clock
	client *Client
}

func newEnv(t *testing.T, opts ...marchproxytest.Option) *env {
	t.Helper()
	clock := marchproxytest.NewClock(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	all := append([]marchproxytest.Option{
		marchproxytest.WithClock(clock.Now),
		marchproxytest.WithUser(testUser, testPassword.Reveal()),
		marchproxytest.WithTOTPUser("secure", testPassword.Reveal(), "246810"),
		marchproxytest.WithCluster(1, clusterKey1),
		marchproxytest.WithCluster(2, "cluster-key-two"),
	}, opts...)
	fake := marchproxytest.NewServer(all...)
	t.Cleanup(fake.Close)
	c, err := NewClient(fake.URL, WithClock(clock.Now), WithHTTPClient(fake.Client()))
	if err != nil {
		t.Fatal(err)
	}
	return &env{fake: fake, clock: clock, client: c}
}

func (e *env) login(t *testing.T) {
	t.Helper()
	if _, err := e.client.Login(context.Background(), testUser, testPassword, ""); err != nil {
		t.Fatal(err)
	}
}

// trace renders the recorded requests as "METHOD path status" lines.
func trace(f *marchproxytest.Server) []string {
	var out []string
	for _, r := range f.Requests() {
		out = append(out, fmt.Sprintf("%s %s %d", r.Method, r.Path, r.Status))
	}
	return out
}

func wantTrace(t *testing.T, f *marchproxytest.Server, want ...string) {
	t.Helper()
	got := trace(f)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("requests:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}

func TestLogin(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	u, err := e.client.Login(ctx, testUser, testPassword, "")
	if err != nil {
		t.Fatal(err)
	}
	if u.Username != testUser || !u.IsAdmin || u.ID == 0 {
		t.Errorf("user = %+v", u)
	}

	_, err = e.client.Login(ctx, testUser, NewSecret("wrong-password-1"), "")
	var ae *APIError
	if !errors.As(err, &ae) || ae.StatusCode != 401 || ae.Detail != "Incorrect username or password" || !errors.Is(err, ErrUnauthorized) {
		t.Fatalf("bad password: %v", err)
	}
	if strings.Contains(err.Error(), "wrong-password-1") {
		t.Fatal("the password leaked into the error")
	}

	_, err = e.client.Login(ctx, "secure", testPassword, "")
	if !errors.Is(err, ErrTOTPRequired) {
		t.Fatalf("2FA without code: %v", err)
	}
	if _, err := e.client.Login(ctx, "secure", testPassword, "000000"); err == nil || !strings.Contains(err.Error(), "Invalid 2FA code") {
		t.Fatalf("2FA wrong code: %v", err)
	}
	if _, err := e.client.Login(ctx, "secure", testPassword, "246810"); err != nil {
		t.Fatalf("2FA right code: %v", err)
	}
	if _, err := e.client.Login(ctx, "", testPassword, ""); err == nil {
		t.Fatal("empty username accepted")
	}
}

func TestNotLoggedInSendsNothing(t *testing.T) {
	e := newEnv(t)
	_, err := e.client.ListServices(context.Background(), 1, true)
	if !errors.Is(err, ErrNotLoggedIn) {
		t.Fatalf("got %v", err)
	}
	if n := len(e.fake.Requests()); n != 0 {
		t.Fatalf("%d requests sent before login", n)
	}
}

// The login answer says expires_in 3600 but tokens die at 30 minutes; the
// client must renew before then and never send a dead token.
func TestRefreshesBeforeTheRealThirtyMinutes(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	e.login(t)
	e.fake.ResetRequests()

	e.clock.Advance(20 * time.Minute)
	if _, err := e.client.ListServices(ctx, 1, true); err != nil {
		t.Fatal(err)
	}
	wantTrace(t, e.fake, "GET /api/v1/services 200")

	e.fake.ResetRequests()
	e.clock.Advance(11 * time.Minute) // 31 minutes after login
	if _, err := e.client.ListServices(ctx, 1, true); err != nil {
		t.Fatal(err)
	}
	wantTrace(t, e.fake, "POST /api/v1/auth/refresh 200", "GET /api/v1/services 200")
}

func TestRefreshOn401(t *testing.T) {
	e := newEnv(t)
	e.login(t)
	e.fake.ExpireAccessTokens()
	e.fake.ResetRequests()
	if _, err := e.client.ListServices(context.Background(), 1, true); err != nil {
		t.Fatal(err)
	}
	wantTrace(t, e.fake, "GET /api/v1/services 401", "POST /api/v1/auth/refresh 200", "GET /api/v1/services 200")
}

func TestReloginWhenRefreshFails(t *testing.T) {
	e := newEnv(t)
	e.login(t)
	e.fake.ExpireTokens()
	e.fake.ResetRequests()
	if _, err := e.client.ListServices(context.Background(), 1, true); err != nil {
		t.Fatal(err)
	}
	wantTrace(t, e.fake, "GET /api/v1/services 401", "POST /api/v1/auth/refresh 401", "POST /api/v1/auth/login 200", "GET /api/v1/services 200")
}

func TestConcurrentCallsRenewOnce(t *testing.T) {
	e := newEnv(t)
	e.login(t)
	e.fake.ExpireAccessTokens()
	e.fake.ResetRequests()
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Go(func() {
			_, err := e.client.ListServices(context.Background(), 1, true)
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	refreshes := 0
	for _, line := range trace(e.fake) {
		if strings.HasPrefix(line, "POST /api/v1/auth/refresh") {
			refreshes++
		}
	}
	if refreshes != 1 {
		t.Fatalf("%d refreshes for one expiry:\n%s", refreshes, strings.Join(trace(e.fake), "\n"))
	}
}

func addRemote(f *marchproxytest.Server, cluster int, name string, active bool) marchproxytest.Service {
	return f.AddService(marchproxytest.Service{Name: name, IPFQDN: "h", Port: 80, Protocol: "http", AuthType: "jwt", ClusterID: cluster, IsActive: active, HealthCheckInterval: 30, JWTSecret: ptr("jwt-secret-value-" + name)})
}

func ptr[T any](v T) *T { return &v }

func TestListServicesPaginates(t *testing.T) {
	e := newEnv(t)
	e.client.pageSize = 2
	e.login(t)
	for i := range 5 {
		addRemote(e.fake, 1, fmt.Sprintf("app-s%d", i), true)
		e.clock.Advance(time.Second)
	}
	addRemote(e.fake, 1, "app-gone", false)
	addRemote(e.fake, 2, "other-x", true)
	e.fake.ResetRequests()

	all, err := e.client.ListServices(context.Background(), 1, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 6 {
		t.Fatalf("got %d services, want 6 (5 active + 1 soft-deleted of cluster 1)", len(all))
	}
	for i := 1; i < len(all); i++ {
		if all[i-1].ID >= all[i].ID {
			t.Fatal("result not sorted by id")
		}
	}
	reqs := e.fake.Requests()
	if len(reqs) != 3 {
		t.Fatalf("%d page requests, want 3", len(reqs))
	}
	for i, r := range reqs {
		if r.Query.Get("skip") != fmt.Sprint(i*2) || r.Query.Get("limit") != "2" || r.Query.Get("cluster_id") != "1" || r.Query.Get("active_only") != "false" {
			t.Errorf("page %d query = %v", i, r.Query)
		}
	}
	active, err := e.client.ListServices(context.Background(), 1, true)
	if err != nil || len(active) != 5 {
		t.Fatalf("active only: %d, %v", len(active), err)
	}
}

func TestServiceCRUD(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	e.login(t)
	created, err := e.client.CreateService(ctx, ServiceCreate{Name: "app-api", IPFQDN: "api", Port: 8080, ClusterID: 1, Protocol: "http", AuthType: "jwt", HealthCheckEnabled: true, HealthCheckPath: "/healthz", HealthCheckInterval: 30})
	if err != nil {
		t.Fatal(err)
	}
	if created.ID == 0 || !created.IsActive || created.ClusterID != 1 || !created.HealthCheckEnabled || created.JWTSecret.IsZero() {
		t.Fatalf("created = %+v", created)
	}
	// Empty collection goes out as null.
	last := e.fake.Requests()[len(e.fake.Requests())-1]
	if !bytes.Contains(last.Body, []byte(`"collection":null`)) || !bytes.Contains(last.Body, []byte(`"health_check_enabled":true`)) {
		t.Errorf("create body = %s", last.Body)
	}

	port := 9090
	patched, err := e.client.PatchService(ctx, created.ID, ServicePatch{Port: &port})
	if err != nil || patched.Port != 9090 {
		t.Fatalf("patch: %+v %v", patched, err)
	}
	last = e.fake.Requests()[len(e.fake.Requests())-1]
	if last.Method != http.MethodPatch || string(last.Body) != `{"port":9090}` {
		t.Errorf("patch sent %s %s", last.Method, last.Body)
	}

	got, err := e.client.GetService(ctx, created.ID)
	if err != nil || got.Port != 9090 {
		t.Fatalf("get: %+v %v", got, err)
	}
	if err := e.client.DeleteService(ctx, created.ID, false); err != nil {
		t.Fatal(err)
	}
	if s, _ := e.fake.ServiceByName("app-api"); s.IsActive {
		t.Fatal("soft delete left the service active")
	}
	if err := e.client.DeleteService(ctx, created.ID, true); err != nil {
		t.Fatal(err)
	}
	if _, ok := e.fake.ServiceByName("app-api"); ok {
		t.Fatal("permanent delete kept the service")
	}
	_, err = e.client.GetService(ctx, created.ID)
	if !errors.Is(err, ErrNotFound) {
		t.Fatalf("get after delete: %v", err)
	}
	for _, r := range e.fake.Requests() {
		if r.Method == http.MethodPut {
			t.Fatal("the client used PUT")
		}
	}
}

func TestAPIErrorShapes(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	e.login(t)

	_, err := e.client.CreateService(ctx, ServiceCreate{Name: "app-g", IPFQDN: "g", Port: 70000, ClusterID: 1, Protocol: "grpc", AuthType: "none", HealthCheckInterval: 30})
	var ae *APIError
	if !errors.As(err, &ae) || ae.StatusCode != 422 || len(ae.Fields) != 2 {
		t.Fatalf("422: %#v", err)
	}
	want := `create MarchProxy service "app-g": MarchProxy POST /api/v1/services: 422 Unprocessable Entity: port: Input should be less than or equal to 65535; protocol: Value error, protocol must be one of: tcp, udp, http, https`
	if err.Error() != want {
		t.Errorf("error =\n%s\nwant\n%s", err, want)
	}
	if ae.Fields[1].Loc[0] != "body" || ae.Fields[1].Loc[1] != "protocol" || ae.Fields[1].Type != "value_error" {
		t.Errorf("field = %+v", ae.Fields[1])
	}

	addRemote(e.fake, 2, "app-taken", false)
	_, err = e.client.CreateService(ctx, ServiceCreate{Name: "app-taken", IPFQDN: "g", Port: 1, ClusterID: 1, Protocol: "tcp", AuthType: "none", HealthCheckInterval: 30})
	if !errors.Is(err, ErrDuplicate) || !strings.Contains(err.Error(), "400 Bad Request: Service with name 'app-taken' already exists") {
		t.Fatalf("duplicate: %v", err)
	}

	e.fake.SetServiceLimit(1)
	_, err = e.client.CreateService(ctx, ServiceCreate{Name: "app-more", IPFQDN: "g", Port: 1, ClusterID: 1, Protocol: "tcp", AuthType: "none", HealthCheckInterval: 30})
	if !errors.Is(err, ErrLicenceLimit) {
		t.Fatalf("licence limit: %v", err)
	}

	e.fake.FailAfter(0)
	_, err = e.client.ListServices(ctx, 1, true)
	if !errors.As(err, &ae) || ae.StatusCode != 500 || ae.Detail != "Internal Server Error" {
		t.Fatalf("500: %v", err)
	}
	e.fake.FailAfter(-1)

	e.fake.SetDown(true)
	_, err = e.client.ListServices(ctx, 1, true)
	if err == nil || errors.As(err, &ae) {
		t.Fatalf("down: want a transport error, got %v", err)
	}
}

func TestClusterConfig(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	e.fake.AddService(marchproxytest.Service{Name: "app-b64", IPFQDN: "h", Port: 80, Protocol: "http", AuthType: "base64", ClusterID: 1, IsActive: true, HealthCheckEnabled: true, HealthCheckPath: ptr("/healthz"), HealthCheckInterval: 30, TokenBase64: ptr("base64-token-value")})
	addRemote(e.fake, 1, "app-jwt", true)

	cfg, err := e.client.ClusterConfig(ctx, 1, NewSecret(clusterKey1))
	if err != nil {
		t.Fatal(err)
	}
	last := e.fake.Requests()[0]
	if last.Header.Get("cluster-api-key") != clusterKey1 || last.Header.Get("Authorization") != "" {
		t.Fatalf("headers sent: %v", last.Header)
	}
	if len(cfg.Services) != 2 || cfg.Services[0].Auth.Type != "base64" || cfg.Services[0].HealthCheck == nil || cfg.Services[1].HealthCheck != nil {
		t.Fatalf("services = %+v", cfg.Services)
	}
	out, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{"base64-token-value", "jwt-secret-value-app-jwt", clusterKey1} {
		if bytes.Contains(out, []byte(secret)) || strings.Contains(fmt.Sprintf("%v %+v", cfg, cfg), secret) {
			t.Errorf("%q leaked: %s", secret, out)
		}
	}
	if !bytes.Contains(out, []byte(Masked)) || !bytes.Contains(out, []byte(`"name":"app-b64"`)) {
		t.Errorf("masked config = %s", out)
	}

	again, err := e.client.ClusterConfig(ctx, 1, NewSecret(clusterKey1))
	if err != nil {
		t.Fatal(err)
	}
	if again.ConfigVersion == cfg.ConfigVersion {
		t.Error("config_version did not change between requests; the fake should follow the real server")
	}

	var ae *APIError
	if _, err := e.client.ClusterConfig(ctx, 1, NewSecret("wrong")); !errors.As(err, &ae) || ae.StatusCode != 401 || ae.Detail != "Invalid cluster API key" {
		t.Fatalf("wrong key: %v", err)
	}
	if _, err := e.client.ClusterConfig(ctx, 1, NewSecret("cluster-key-two")); !errors.Is(err, ErrForbidden) || !strings.Contains(err.Error(), "Cluster ID does not match API key") {
		t.Fatalf("other cluster's key: %v", err)
	}
	if _, err := e.client.ClusterConfig(ctx, 1, Secret{}); err == nil {
		t.Fatal("empty key accepted")
	}
}

func TestImportServices(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	e.login(t)
	cfg := ImportConfig{Services: []Service{validService("api")}, Metadata: Metadata{AppName: "myapp", GeneratedBy: GeneratedBy, Version: "1"}}
	err := e.client.ImportServices(ctx, 1, cfg)
	if !errors.Is(err, ErrImportUnsupported) || !strings.Contains(err.Error(), "HTTP 405") {
		t.Fatalf("real server: %v", err)
	}
	e.fake.SetBulkImport(true)
	if err := e.client.ImportServices(ctx, 1, cfg); err != nil {
		t.Fatalf("bulk server: %v", err)
	}
	s, ok := e.fake.ServiceByName("myapp-api")
	if !ok || s.ClusterID != 1 || !s.HealthCheckEnabled {
		t.Fatalf("imported = %+v", s)
	}
}

func TestSecretsNeverPrinted(t *testing.T) {
	e := newEnv(t)
	e.login(t)
	e.fake.AddService(marchproxytest.Service{Name: "app-x", IPFQDN: "h", Port: 80, Protocol: "http", AuthType: "base64", ClusterID: 1, IsActive: true, HealthCheckInterval: 30, TokenBase64: ptr("tok-AAAA"), JWTSecret: ptr("jwt-BBBB")})
	list, err := e.client.ListServices(context.Background(), 1, true)
	if err != nil || len(list) != 1 {
		t.Fatal(list, err)
	}
	s := list[0]
	if s.TokenBase64.Reveal() != "tok-AAAA" || s.JWTSecret.Reveal() != "jwt-BBBB" {
		t.Fatal("secrets not decoded")
	}
	var logs bytes.Buffer
	slog.New(slog.NewJSONHandler(&logs, nil)).Info("svc", "service", s, "token", s.TokenBase64)
	js, _ := json.Marshal(s)
	outputs := []string{
		fmt.Sprintf("%v", s), fmt.Sprintf("%+v", s), fmt.Sprintf("%#v", s), s.String(),
		fmt.Sprintf("%+v", struct{ T, J Secret }{s.TokenBase64, s.JWTSecret}),
		fmt.Sprintf("%x %d %q", s.TokenBase64, s.TokenBase64, s.JWTSecret),
		string(js), logs.String(),
	}
	for _, out := range outputs {
		if strings.Contains(out, "AAAA") || strings.Contains(out, "BBBB") || strings.Contains(out, "746f6b") {
			t.Errorf("secret leaked: %s", out)
		}
	}
	if !strings.Contains(string(js), `"token_base64":"***SENSITIVE***"`) {
		t.Errorf("json = %s", js)
	}
}

func TestNewClientAddresses(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", "http://localhost:8000"},
		{"http://mp:8000", "http://mp:8000"},
		{"http://mp:8000/", "http://mp:8000"},
		{"https://mp.example.com/api/v1/", "https://mp.example.com"},
		{"http://mp/prefix/api/v1", "http://mp/prefix"},
	}
	for _, tt := range tests {
		c, err := NewClient(tt.in)
		if err != nil || c.BaseURL() != tt.want {
			t.Errorf("NewClient(%q) = %v, %v; want %s", tt.in, c, err, tt.want)
		}
	}
	for _, bad := range []string{"mp:8000", "ftp://mp", "http://", "http://user:pw@mp"} {
		if _, err := NewClient(bad); err == nil {
			t.Errorf("NewClient(%q) accepted", bad)
		} else if strings.Contains(err.Error(), "pw@") {
			t.Errorf("credentials echoed: %v", err)
		}
	}
}

func TestHealth(t *testing.T) {
	e := newEnv(t)
	h, err := e.client.Health(context.Background())
	if err != nil || h.Status != "healthy" {
		t.Fatalf("%+v %v", h, err)
	}
}

func TestListServicesStopsWhenServerIgnoresSkip(t *testing.T) {
	calls := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/api/v1/auth/login":
			_, _ = io.WriteString(w, `{"user_id":1,"username":"u","requires_2fa":false,"access_token":"a","refresh_token":"r","expires_in":3600}`)
		default:
			calls++
			_, _ = io.WriteString(w, `{"total":100000,"services":[{"id":1,"name":"app-a","cluster_id":1,"is_active":true}]}`)
		}
	}))
	defer srv.Close()
	c, err := NewClient(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Login(context.Background(), "u", NewSecret("password-1"), ""); err != nil {
		t.Fatal(err)
	}
	list, err := c.ListServices(context.Background(), 1, true)
	if err != nil || len(list) != 1 || calls != 2 {
		t.Fatalf("got %d services after %d calls, err %v", len(list), calls, err)
	}
}
