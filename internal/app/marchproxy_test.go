package app

import (
	"context"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/rookery/rookery/marchproxy"
)

// The path the generated MarchProxy configuration advertises for the gRPC
// service must really answer.
func TestGRPCHealthAnswersTheAdvertisedPath(t *testing.T) {
	ta := newSQLiteApp(t, map[string]string{"GRPC_ENABLED": "true", "GRPC_PORT": "0"})
	// The port was chosen by the system; advertise the one bound.
	st := ta.Settings
	_, port, _ := net.SplitHostPort(ta.grpcAddr)
	st.GRPCPort, _ = strconv.Atoi(port)
	gen, err := marchproxy.Generate(MarchProxySettings(ta.Keys, st).App, marchproxy.Extras{})
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, s := range gen.Import.Services {
		if s.Protocol == "grpc" && s.HealthCheckPath == "/grpc.health.v1.Health/Check" {
			found = true
		}
	}
	if !found {
		t.Fatalf("generated services advertise no gRPC health check: %+v", gen.Import.Services)
	}
	conn, err := grpc.NewClient(ta.grpcAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var resp healthpb.HealthCheckResponse
	if err := conn.Invoke(ctx, "/grpc.health.v1.Health/Check", &healthpb.HealthCheckRequest{}, &resp); err != nil {
		t.Fatalf("health check: %v", err)
	}
	if resp.Status != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("status %v", resp.Status)
	}
}

// marchproxy_extras is a JSON setting: a value marchproxy would refuse is
// refused at the API with every problem named and nothing stored; a good
// one reaches the generated configuration without a restart.
func TestMarchProxyExtrasSetting(t *testing.T) {
	ta := newSQLiteApp(t, nil)
	admin := ta.admin()

	for _, bad := range []struct{ name, value, want string }{
		{"not JSON", `{"services":[`, "valid JSON"},
		{"wrong shape", `[1,2]`, "want a JSON object"},
		{"bad fields", `{"services":[{"name":"worker","ip_fqdn":"worker","port":70000}],` +
			`"mappings":[{"name":"rookery-jobs","source_services":["external"],"dest_services":["rookery-nope"],"listen_port":443,"protocol":"https","path_prefix":"jobs"}]}`,
			`services[0].port: 70000 is not a port`},
	} {
		r := ta.call("PUT", "/api/v1/config/marchproxy_extras", admin, map[string]any{"value": bad.value})
		if r.Status != http.StatusBadRequest || !strings.Contains(string(r.Body), bad.want) {
			t.Errorf("%s: %d %s, want 400 naming %q", bad.name, r.Status, r.Body, bad.want)
		}
	}
	r := ta.call("PUT", "/api/v1/config/marchproxy_extras", admin, map[string]any{"value": `{"services":[{"name":"worker"}]}`})
	for _, want := range []string{`services[0].name: \"worker\" does not follow`, `services[0].ip_fqdn`, `services[0].port`} {
		if !strings.Contains(string(r.Body), want) {
			t.Errorf("every problem should be named; missing %q in %s", want, r.Body)
		}
	}
	if got := ta.call("GET", "/api/v1/config/marchproxy_extras", admin, nil).JSON(t); got["source"] != "default" {
		t.Fatalf("a refused value was stored: %v", got)
	}

	// A mapping may point at a service rookery generates itself.
	good := `{"services":[{"name":"rookery-worker","ip_fqdn":"worker","port":9000,"auth_type":"none","health_check_path":"/healthz"}],` +
		`"mappings":[{"name":"rookery-worker-to-api","source_services":["rookery-worker"],"dest_services":["rookery-api"],"listen_port":8080,"protocol":"http"}]}`
	if r := ta.call("PUT", "/api/v1/config/marchproxy_extras", admin, map[string]any{"value": good}); r.Status != http.StatusOK {
		t.Fatalf("set extras: %d %s", r.Status, r.Body)
	}
	r = ta.call("GET", "/api/v1/integrations", admin, nil)
	for _, want := range []string{`"name":"rookery-worker"`, `"name":"rookery-worker-to-api"`, `"name":"rookery-api"`} {
		if !strings.Contains(string(r.Body), want) {
			t.Errorf("integrations report lacks %s: %s", want, r.Body)
		}
	}

	// Renaming the application leaves the stored extras behind the rule;
	// the report says so instead of failing.
	if r := ta.call("PUT", "/api/v1/config/app_name", admin, map[string]any{"value": "shop"}); r.Status != http.StatusOK {
		t.Fatalf("set app_name: %d %s", r.Status, r.Body)
	}
	r = ta.call("GET", "/api/v1/integrations", admin, nil)
	mp, _ := r.JSON(t)["marchproxy"].(map[string]any)
	if msg, _ := mp["error"].(string); !strings.Contains(msg, `"rookery-worker" does not follow the {app_name}-{service} rule`) {
		t.Errorf("report after renaming: %d %s", r.Status, r.Body)
	}
}
