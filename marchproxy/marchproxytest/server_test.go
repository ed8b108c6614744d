package marchproxytest

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

const (
	testUser = "admin"
	password = "correct-horse"
)

func newFake(t *testing.T, opts ...Option) (*Server, *Clock) {
	t.Helper()
	clock := NewClock(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	all := append([]Option{WithClock(clock.Now), WithUser(testUser, password), WithTOTPUser("secure", "correct-horse", "123456"), WithCluster(1, "key-one"), WithCluster(2, "key-two")}, opts...)
	s := NewServer(all...)
	t.Cleanup(s.Close)
	return s, clock
}

type call struct {
	method, path, body string
	header             map[string]string
}

func do(t *testing.T, s *Server, c call) (int, string) {
	t.Helper()
	var rd io.Reader
	if c.body != "" {
		rd = strings.NewReader(c.body)
	}
	req, err := http.NewRequest(c.method, s.URL+c.path, rd)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range c.header {
		req.Header.Set(k, v)
	}
	resp, err := s.Client().Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", c.method, c.path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func login(t *testing.T, s *Server) (access, refresh string) {
	t.Helper()
	code, body := do(t, s, call{method: "POST", path: "/api/v1/auth/login", body: `{"username":"admin","password":"correct-horse"}`})
	if code != 200 {
		t.Fatalf("login: %d %s", code, body)
	}
	var lr struct {
		AccessToken  string `json:"access_token"`
		RefreshToken string `json:"refresh_token"`
		ExpiresIn    int    `json:"expires_in"`
	}
	if err := json.Unmarshal([]byte(body), &lr); err != nil {
		t.Fatal(err)
	}
	if lr.ExpiresIn != 3600 {
		t.Errorf("expires_in = %d, want the real server's (wrong) 3600", lr.ExpiresIn)
	}
	return lr.AccessToken, lr.RefreshToken
}

const createBody = `{"name":"app-api","ip_fqdn":"api","port":8080,"cluster_id":1,"protocol":"http"}`

// TestContract walks the contract's routes and quirks as a table of
// requests and expected answers.
func TestContract(t *testing.T) {
	s, _ := newFake(t)
	tok, _ := login(t, s)
	auth := map[string]string{"Authorization": "Bearer " + tok}
	s.AddService(Service{Name: "app-old", IPFQDN: "old", Port: 1, Protocol: "tcp", AuthType: "none", ClusterID: 1, IsActive: false, HealthCheckInterval: 30})

	tests := []struct {
		name       string
		call       call
		wantStatus int
		wantBody   []string
	}{
		{"healthz", call{method: "GET", path: "/healthz"}, 200, []string{`"status":"healthy"`}},
		{"login bad password", call{method: "POST", path: "/api/v1/auth/login", body: `{"username":"admin","password":"wrong-password"}`}, 401, []string{`{"detail":"Incorrect username or password"}`}},
		{"login short password is a 422", call{method: "POST", path: "/api/v1/auth/login", body: `{"username":"admin","password":"short"}`}, 422, []string{`"type":"string_too_short"`, `"loc":["body","password"]`}},
		{"login 2FA without code", call{method: "POST", path: "/api/v1/auth/login", body: `{"username":"secure","password":"correct-horse"}`}, 200, []string{`"requires_2fa":true`, `"access_token":null`, `"refresh_token":null`}},
		{"login 2FA wrong code", call{method: "POST", path: "/api/v1/auth/login", body: `{"username":"secure","password":"correct-horse","totp_code":"654321"}`}, 401, []string{`Invalid 2FA code`}},
		{"login 2FA right code", call{method: "POST", path: "/api/v1/auth/login", body: `{"username":"secure","password":"correct-horse","totp_code":"123456"}`}, 200, []string{`"requires_2fa":false`, `"expires_in":3600`}},
		{"refresh bad token", call{method: "POST", path: "/api/v1/auth/refresh", body: `{"refresh_token":"nope"}`}, 401, []string{`Invalid or expired refresh token`}},
		{"refresh with access token", call{method: "POST", path: "/api/v1/auth/refresh", body: `{"refresh_token":"` + tok + `"}`}, 401, []string{`Invalid token type`}},
		{"no auth header", call{method: "GET", path: "/api/v1/services"}, 403, []string{`{"detail":"Not authenticated"}`}},
		{"cluster key is not a bearer token", call{method: "GET", path: "/api/v1/services", header: map[string]string{"Authorization": "Bearer key-one"}}, 401, []string{`{"detail":"Could not validate credentials"}`}},
		{"create without cluster_id", call{method: "POST", path: "/api/v1/services", body: `{"name":"app-x","ip_fqdn":"x","port":1}`, header: auth}, 422, []string{`"type":"missing"`, `"loc":["body","cluster_id"]`, `"msg":"Field required"`}},
		{"create grpc", call{method: "POST", path: "/api/v1/services", body: `{"name":"app-x","ip_fqdn":"x","port":1,"cluster_id":1,"protocol":"grpc"}`, header: auth}, 422, []string{`"loc":["body","protocol"]`, `protocol must be one of: tcp, udp, http, https`}},
		{"create bad port", call{method: "POST", path: "/api/v1/services", body: `{"name":"app-x","ip_fqdn":"x","port":70000,"cluster_id":1,"health_check_interval":2}`, header: auth}, 422, []string{`less than or equal to 65535`, `"loc":["body","health_check_interval"]`}},
		{"create not json", call{method: "POST", path: "/api/v1/services", body: `{`, header: auth}, 422, []string{`json_invalid`}},
		{"create", call{method: "POST", path: "/api/v1/services", body: createBody, header: auth}, 201, []string{`"name":"app-api"`, `"health_check_enabled":false`, `"is_active":true`, `"protocol":"http"`}},
		{"create duplicate", call{method: "POST", path: "/api/v1/services", body: createBody, header: auth}, 400, []string{`{"detail":"Service with name 'app-api' already exists"}`}},
		{"create duplicate of soft-deleted", call{method: "POST", path: "/api/v1/services", body: `{"name":"app-old","ip_fqdn":"x","port":1,"cluster_id":1}`, header: auth}, 400, []string{`Service with name 'app-old' already exists`}},
		{"create in unknown cluster", call{method: "POST", path: "/api/v1/services", body: `{"name":"app-y","ip_fqdn":"x","port":1,"cluster_id":9}`, header: auth}, 404, []string{`Cluster not found`}},
		{"put is not allowed", call{method: "PUT", path: "/api/v1/services/2", body: `{}`, header: auth}, 405, []string{`{"detail":"Method Not Allowed"}`}},
		{"bulk import is not there", call{method: "POST", path: "/api/v1/services/import", body: `{"services":[]}`, header: auth}, 405, []string{`Method Not Allowed`}},
		{"get by non-integer id", call{method: "GET", path: "/api/v1/services/abc", header: auth}, 422, []string{`"loc":["path","service_id"]`}},
		{"get unknown", call{method: "GET", path: "/api/v1/services/999", header: auth}, 404, []string{`Service not found`}},
		{"patch", call{method: "PATCH", path: "/api/v1/services/2", body: `{"port":9090,"unknown":"dropped"}`, header: auth}, 200, []string{`"port":9090`, `"ip_fqdn":"api"`}},
		{"patch reactivates", call{method: "PATCH", path: "/api/v1/services/1", body: `{"is_active":true}`, header: auth}, 200, []string{`"is_active":true`}},
		{"list defaults to active only", call{method: "GET", path: "/api/v1/services", header: auth}, 200, []string{`"total":2`}},
		{"list limit above 1000", call{method: "GET", path: "/api/v1/services?limit=1001", header: auth}, 422, []string{`"loc":["query","limit"]`}},
		{"soft delete", call{method: "DELETE", path: "/api/v1/services/2", header: auth}, 204, nil},
		{"list hides soft-deleted", call{method: "GET", path: "/api/v1/services?cluster_id=1", header: auth}, 200, []string{`"total":1`}},
		{"list shows soft-deleted on request", call{method: "GET", path: "/api/v1/services?cluster_id=1&active_only=false", header: auth}, 200, []string{`"total":2`}},
		{"permanent delete", call{method: "DELETE", path: "/api/v1/services/2?permanent=true", header: auth}, 204, nil},
		{"gone after permanent delete", call{method: "GET", path: "/api/v1/services/2", header: auth}, 404, nil},
		{"config without key header", call{method: "GET", path: "/api/v1/config/1"}, 422, []string{`"loc":["header","cluster-api-key"]`}},
		{"config with key as bearer", call{method: "GET", path: "/api/v1/config/1", header: map[string]string{"Authorization": "Bearer key-one"}}, 422, nil},
		{"config with X- header", call{method: "GET", path: "/api/v1/config/1", header: map[string]string{"X-Cluster-API-Key": "key-one"}}, 422, nil},
		{"config wrong key", call{method: "GET", path: "/api/v1/config/1", header: map[string]string{"cluster-api-key": "nope"}}, 401, []string{`{"detail":"Invalid cluster API key"}`}},
		{"config other cluster's key", call{method: "GET", path: "/api/v1/config/1", header: map[string]string{"cluster-api-key": "key-two"}}, 403, []string{`{"detail":"Cluster ID does not match API key"}`}},
		{"config", call{method: "GET", path: "/api/v1/config/1", header: map[string]string{"cluster-api-key": "key-one"}}, 200, []string{`"config_version":"`, `"name":"app-old"`, `"mappings":[]`}},
		{"config version", call{method: "GET", path: "/api/v1/config/version/1", header: map[string]string{"cluster-api-key": "key-one"}}, 200, []string{`"config_version"`}},
		{"unknown route", call{method: "GET", path: "/api/v1/mappings", header: auth}, 404, []string{`{"detail":"Not Found"}`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, body := do(t, s, tt.call)
			if code != tt.wantStatus {
				t.Fatalf("status %d, want %d; body %s", code, tt.wantStatus, body)
			}
			for _, w := range tt.wantBody {
				if !strings.Contains(body, w) {
					t.Errorf("body %s does not contain %s", body, w)
				}
			}
		})
	}
}

func TestAccessTokenLivesThirtyMinutes(t *testing.T) {
	s, clock := newFake(t)
	tok, refresh := login(t, s)
	h := map[string]string{"Authorization": "Bearer " + tok}
	clock.Advance(29*time.Minute + 59*time.Second)
	if code, _ := do(t, s, call{method: "GET", path: "/api/v1/services", header: h}); code != 200 {
		t.Fatalf("at 29m59s: %d", code)
	}
	clock.Advance(time.Second)
	if code, _ := do(t, s, call{method: "GET", path: "/api/v1/services", header: h}); code != 401 {
		t.Fatalf("at 30m: %d, want 401", code)
	}
	code, body := do(t, s, call{method: "POST", path: "/api/v1/auth/refresh", body: `{"refresh_token":"` + refresh + `"}`})
	if code != 200 || !strings.Contains(body, `"expires_in":3600`) {
		t.Fatalf("refresh: %d %s", code, body)
	}
}

func TestSwitches(t *testing.T) {
	s, _ := newFake(t)
	tok, refresh := login(t, s)
	h := map[string]string{"Authorization": "Bearer " + tok}

	s.ExpireAccessTokens()
	if code, _ := do(t, s, call{method: "GET", path: "/api/v1/services", header: h}); code != 401 {
		t.Fatalf("after ExpireAccessTokens: %d", code)
	}
	if code, _ := do(t, s, call{method: "POST", path: "/api/v1/auth/refresh", body: `{"refresh_token":"` + refresh + `"}`}); code != 200 {
		t.Fatalf("refresh after ExpireAccessTokens: %d", code)
	}
	s.ExpireTokens()
	if code, _ := do(t, s, call{method: "POST", path: "/api/v1/auth/refresh", body: `{"refresh_token":"` + refresh + `"}`}); code != 401 {
		t.Fatalf("refresh after ExpireTokens: %d", code)
	}

	tok, _ = login(t, s)
	h = map[string]string{"Authorization": "Bearer " + tok}
	s.FailAfter(1)
	if code, _ := do(t, s, call{method: "GET", path: "/healthz"}); code != 200 {
		t.Fatalf("first request after FailAfter(1): %d", code)
	}
	code, body := do(t, s, call{method: "GET", path: "/healthz"})
	if code != 500 || body != "Internal Server Error" {
		t.Fatalf("second request: %d %q", code, body)
	}
	s.FailAfter(-1)

	s.SetDown(true)
	req, _ := http.NewRequest("GET", s.URL+"/healthz", nil)
	if resp, err := s.Client().Do(req); err == nil {
		resp.Body.Close()
		t.Fatal("want a connection error while down")
	}
	s.SetDown(false)

	s.SetBulkImport(true)
	code, body = do(t, s, call{method: "POST", path: "/api/v1/services/import", header: h,
		body: `{"services":[{"name":"app-a","ip_fqdn":"a","port":1,"cluster_id":1}],"metadata":{"app_name":"app"}}`})
	if code != 200 || !strings.Contains(body, `"created":1`) {
		t.Fatalf("bulk import: %d %s", code, body)
	}
	code, body = do(t, s, call{method: "POST", path: "/api/v1/services/import", header: h,
		body: `{"services":[{"name":"app-a","ip_fqdn":"a","port":2,"cluster_id":1,"protocol":"grpc"}]}`})
	if code != 422 || !strings.Contains(body, `"loc":["body","services",0,"protocol"]`) {
		t.Fatalf("bulk import with grpc: %d %s", code, body)
	}

	s.SetServiceLimit(1)
	if code, body := do(t, s, call{method: "POST", path: "/api/v1/services", header: h, body: createBody}); code != 402 {
		t.Fatalf("over the limit: %d %s", code, body)
	}

	reqs := s.Requests()
	if len(reqs) == 0 || reqs[len(reqs)-1].Status != 402 || reqs[len(reqs)-1].Method != "POST" {
		t.Fatalf("last recorded request = %+v", reqs[len(reqs)-1])
	}
	s.ResetRequests()
	if len(s.Requests()) != 0 {
		t.Fatal("ResetRequests kept requests")
	}
}

func TestConfigVersionChangesEveryRequest(t *testing.T) {
	s, _ := newFake(t)
	h := map[string]string{"cluster-api-key": "key-one"}
	_, a := do(t, s, call{method: "GET", path: "/api/v1/config/1", header: h})
	_, b := do(t, s, call{method: "GET", path: "/api/v1/config/1", header: h})
	var da, db struct {
		ConfigVersion string `json:"config_version"`
	}
	_ = json.Unmarshal([]byte(a), &da)
	_ = json.Unmarshal([]byte(b), &db)
	if da.ConfigVersion == "" || da.ConfigVersion == db.ConfigVersion {
		t.Fatalf("config_version %q then %q: want a new value on each request", da.ConfigVersion, db.ConfigVersion)
	}
}

func TestPaginationNewestFirst(t *testing.T) {
	s, clock := newFake(t)
	tok, _ := login(t, s)
	for _, n := range []string{"app-a", "app-b", "app-c"} {
		s.AddService(Service{Name: n, IPFQDN: "h", Port: 1, Protocol: "tcp", AuthType: "none", ClusterID: 1, IsActive: true, HealthCheckInterval: 30})
		clock.Advance(time.Second)
	}
	h := map[string]string{"Authorization": "Bearer " + tok}
	_, body := do(t, s, call{method: "GET", path: "/api/v1/services?skip=1&limit=1", header: h})
	if !strings.Contains(body, `"total":3`) || !strings.Contains(body, `"name":"app-b"`) || strings.Contains(body, "app-c") {
		t.Fatalf("page = %s", body)
	}
}
