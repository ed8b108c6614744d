package app

import (
	"context"
	"fmt"
	"net"
	"strconv"

	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/rookery/rookery/config"
	"github.com/rookery/rookery/marchproxy"
)

// marchProxyExtrasKey holds, as JSON in the extras file's shape, the
// application's services and mappings that rookery cannot derive from its
// own settings (workers, databases, other front ends). It is a setting
// rather than only a file so that every replica and the integrations page
// generate the same configuration.
var marchProxyExtrasKey = config.Key{
	Name: "marchproxy_extras", Type: config.TypeJSON, Category: config.Integration,
	Default:     `{"services":[],"mappings":[]}`,
	Description: `The application's other MarchProxy services and mappings ({"services":[...],"mappings":[...]}), added to the generated configuration`,
	Rule:        extrasRule{},
}

// extrasRule refuses extras that marchproxy would refuse, naming each
// problem with its path (services[0].port: ...).
type extrasRule struct{}

func (extrasRule) Describe() string {
	return "MarchProxy services and mappings"
}

func (extrasRule) Check(v string) error {
	e, err := marchproxy.ParseExtras([]byte(v))
	if err != nil {
		return err
	}
	return marchproxy.ValidateExtras(e)
}

// MarchProxySettings derives what the marchproxy commands and the
// integrations page need from the config snapshot and process settings.
func MarchProxySettings(c *config.Config, s Settings) marchproxy.Settings {
	appName := c.String("app_name")
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
	extras, _ := marchproxy.ParseExtras([]byte(c.String(marchProxyExtrasKey.Name)))
	return marchproxy.Settings{
		API:           c.String("marchproxy_api"),
		ClusterID:     int(c.Int("marchproxy_cluster_id")),
		Username:      c.String("marchproxy_username"),
		Password:      c.Secret("marchproxy_password"),
		ClusterAPIKey: c.Secret("cluster_api_key"),
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
