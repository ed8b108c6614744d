package app

import (
	"context"
	"net"
	"strconv"
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
	gen, err := marchproxy.Generate(MarchProxySettings(ta.Config, st).App, marchproxy.Extras{})
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
