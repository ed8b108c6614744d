package app

import (
	"context"
	"net/http"
	"path/filepath"
	"strconv"
	"time"

	"github.com/rookery/rookery/internal/httpapi"
	"github.com/rookery/rookery/killkrill"
	"github.com/rookery/rookery/marchproxy"
)

// KillKrillConfig turns the killkrill_* settings into shipper settings, on
// top of base (which carries what the keys do not name: fallback,
// buffer...). The service name is app_name unless base names one.
func KillKrillConfig(k *Keys, base killkrill.Config) killkrill.Config {
	kk := k.KillKrill
	cfg := base
	cfg.Enabled = kk.Enabled.Get()
	cfg.LogURL = kk.APIURL.Get()
	cfg.MetricsURL = kk.MetricsURL.Get()
	cfg.GRPCURL = kk.GRPCURL.Get()
	cfg.ClientID = kk.ClientID.Get()
	cfg.ClientSecret = kk.ClientSecret.Get()
	cfg.Mode = killkrill.Mode(kk.Mode.Get())
	cfg.FlushInterval = kk.FlushInterval.Get()
	cfg.SpoolMaxBytes = kk.SpoolMaxMB.Get() << 20
	if cfg.ServiceName == "" {
		cfg.ServiceName = k.AppName.Get()
	}
	return cfg
}

// followKillKrill applies the killkrill_* keys now and on every change, so
// shipping can be switched on, off or moved without a restart.
func (a *App) followKillKrill() {
	sh := a.Shipper
	if sh == nil {
		return
	}
	// base is what the process gave the shipper; the settings go on top
	// of it each time, so a service name left empty follows app_name.
	base := sh.Config()
	if base.SpoolDir == "" && a.Settings.DataDir != "" {
		// Undelivered entries wait on disk next to the database file and
		// the licence cache, and survive a restart.
		base.SpoolDir = filepath.Join(a.Settings.DataDir, "killkrill-spool")
	}
	a.cancels = append(a.cancels, a.Config.Follow(func() {
		if err := sh.Reconfigure(KillKrillConfig(a.Keys, base)); err != nil {
			a.Log.Warn("KillKrill settings refused; keeping the previous ones", "error", err.Error())
		}
		// Sampled query durations go to KillKrill only while shipping is
		// on: switched off, they would all land in the local log.
		if sh.Config().Enabled {
			a.telemetry().metrics.SetShipper(sh)
		} else {
			a.telemetry().metrics.SetShipper(nil)
		}
	}))
}

// shipRequest records the standards' API metrics for one request.
func (a *App) shipRequest(rec httpapi.RequestRecord) {
	a.telemetry().metrics.SeeUser(rec.User)
	if a.Shipper == nil {
		return
	}
	// The method is bounded again here because RequestRecord is exported:
	// a record from anywhere must not grow KillKrill's series without end.
	labels := map[string]string{"method": httpapi.MethodLabel(rec.Method), "route": rec.Route, "status": strconv.Itoa(rec.Status)}
	_ = a.Shipper.Counter(killkrill.MetricHTTPRequestsTotal, 1, labels)
	_ = a.Shipper.Histogram(killkrill.MetricHTTPRequestDuration, float64(rec.Duration.Microseconds())/1000, labels)
	if rec.RequestSize > 0 {
		_ = a.Shipper.Histogram(killkrill.MetricHTTPRequestSize, float64(rec.RequestSize), labels)
	}
}

// businessMetrics reports the standards' business and system gauges once a
// minute while shipping is on.
func (a *App) businessMetrics(ctx context.Context) {
	t := time.NewTicker(time.Minute)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if a.Shipper == nil || !a.Shipper.Stats().Enabled {
			continue
		}
		// users.active, features.used and the cache counters.
		a.telemetry().metrics.Ship(a.Shipper)
		if n, err := a.Teams.Count(ctx); err == nil {
			_ = a.Shipper.Gauge(killkrill.MetricTeamsTotal, float64(n), nil)
		}
		_ = a.Shipper.Gauge(killkrill.MetricDBPoolUsed, float64(a.DB.Stats().InUse), nil)
	}
}

// killkrillReport is GET /api/v1/integrations/killkrill.
func (a *App) killkrillReport(ctx context.Context) httpapi.KillKrillReport {
	if a.Shipper == nil {
		return httpapi.KillKrillReport{Note: "this process logs locally only"}
	}
	st := a.Shipper.Stats()
	cfg := a.Shipper.Config()
	out := httpapi.KillKrillReport{Enabled: st.Enabled, Mode: st.Mode, LogURL: cfg.LogURL,
		MetricsURL: metricsURL(cfg), Stats: &st, Healthy: st.Healthy}
	if st.Enabled {
		hctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		defer cancel()
		if err := a.Shipper.Health(hctx); err != nil {
			out.Healthy, out.HealthError = false, err.Error()
		}
	}
	return out
}

func metricsURL(c killkrill.Config) string {
	if c.MetricsURL != "" {
		return c.MetricsURL
	}
	return killkrill.DefaultMetricsURL(c.LogURL)
}

// integrations is GET /api/v1/integrations: the state of every outside
// service rookery talks to.
func (a *App) integrations(ctx context.Context) httpapi.Integrations {
	out := httpapi.Integrations{KillKrill: a.killkrillReport(ctx), OpenTelemetry: a.otelReport(), Email: a.emailReport(ctx)}
	out.WaddleAI = httpapi.ServiceCheck{URL: a.Keys.WaddleAI.URL.Get()}
	if a.AI != nil {
		hctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		err := a.AI.Health(hctx)
		cancel()
		out.WaddleAI.Reachable = err == nil
		if err != nil {
			out.WaddleAI.Error = err.Error()
		}
	}
	out.LicenseServer = httpapi.ServiceCheck{URL: a.Keys.License.ServerURL.Get()}
	if err := reachable(ctx, out.LicenseServer.URL); err != nil {
		out.LicenseServer.Error = err.Error()
	} else {
		out.LicenseServer.Reachable = true
	}
	mp := MarchProxySettings(a.Keys, a.Settings)
	out.MarchProxy = httpapi.MarchProxyReport{API: mp.API, ClusterID: mp.ClusterID}
	if gen, err := marchproxy.Generate(mp.App, mp.Extras); err != nil {
		out.MarchProxy.Error = err.Error()
	} else {
		out.MarchProxy.Services, out.MarchProxy.Mappings = gen.Services.Services, gen.Mappings.Mappings
	}
	return out
}

// reachable says whether anything answers HTTP at u (any status counts).
func reachable(ctx context.Context, u string) error {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodHead, u, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	return nil
}
