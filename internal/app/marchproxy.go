package app

import (
	"context"
	"fmt"
	"net"
	"strconv"

	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/rookery/rookery/marchproxy"
)

// MarchProxySettings derives what the marchproxy commands and the
// integrations page need from the config snapshot and process settings.
func MarchProxySettings(k *Keys, s Settings) marchproxy.Settings {
	appName := k.AppName.Get()
	gen := marchproxy.DefaultAppSettings(appName)
	if s.AppHost != "" {
		gen.APIHost = s.AppHost
	}
	if _, port, err := net.SplitHostPort(s.HTTPAddr); err == nil {
		if n, err := strconv.Atoi(port); err == nil && n > 0 {
			gen.APIPort = n
		}
	}
	gen.GRPCHealthEnabled, gen.GRPCHealthPort = s.GRPCEnabled, s.GRPCPort
	gen.Version = s.AppVersion
	// The stored value passed the rule when it was saved; a value that no
	// longer parses (an older release's) generates without extras, and the
	// generation that uses it reports why.
	extras, _ := marchproxy.ParseExtras(k.MarchProxyExtras.Get())
	mp := k.MarchProxy
	return marchproxy.Settings{
		API:           mp.API.Get(),
		ClusterID:     int(mp.ClusterID.Get()),
		Username:      mp.Username.Get(),
		Password:      mp.Password.Get(),
		ClusterAPIKey: mp.ClusterAPIKey.Get(),
		App:           gen,
		Extras:        extras,
	}
}

// startGRPCHealth serves grpc.health.v1 on GRPC_PORT: SERVING while the
// process runs, NOT_SERVING once shutdown begins.
func (a *App) startGRPCHealth(ctx context.Context) error {
	l, err := net.Listen("tcp", net.JoinHostPort("", strconv.Itoa(a.Settings.GRPCPort)))
	if err != nil {
		return fmt.Errorf("listen for gRPC health on %d: %w", a.Settings.GRPCPort, err)
	}
	srv := grpc.NewServer()
	hs := health.NewServer()
	hs.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
	healthpb.RegisterHealthServer(srv, hs)
	a.grpcAddr = l.Addr().String()
	a.loops.Add(1)
	go func() {
		defer a.loops.Done()
		if err := srv.Serve(l); err != nil {
			a.Log.Error("gRPC health server stopped", "error", err.Error())
		}
	}()
	a.loops.Add(1)
	go func() {
		defer a.loops.Done()
		<-ctx.Done()
		hs.Shutdown()
		srv.GracefulStop()
	}()
	a.Log.Info("serving gRPC health", "addr", a.grpcAddr)
	return nil
}
