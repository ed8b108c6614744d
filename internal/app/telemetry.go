package app

import (
	"cmp"
	"context"
	"net/http"
	"time"

	"github.com/rookery/rookery/internal/telemetry"
)

// appTelemetry is the app's share of the standards' metrics and its
// OpenTelemetry exporter (off until otel_exporter_otlp_endpoint, or the
// OTEL_EXPORTER_OTLP_ENDPOINT it bootstraps from, names a collector).
type appTelemetry struct {
	metrics *telemetry.Metrics
	otel    *telemetry.OTel
	// transports are those of tracedClient; the clients given them do not
	// own them, so Shutdown drops their idle connections.
	transports []*http.Transport
}

// telemetry returns the app's telemetry, made on first use: the licence
// and WaddleAI clients take its HTTP transport before the metrics registry
// exists.
func (a *App) telemetry() *appTelemetry {
	if a.tel == nil {
		a.tel = &appTelemetry{}
		a.tel.metrics = telemetry.NewMetrics(telemetry.Sources{
			FeatureUses: func() map[string]int64 {
				if a.License == nil {
					return nil
				}
				return a.License.FeatureUses()
			},
			SessionCache: a.Auth.SessionCacheCounts,
		})
		a.tel.otel = telemetry.NewOTel(cmp.Or(a.Keys.AppName.Get(), "rookery"), cmp.Or(a.Settings.AppVersion, "0.0.0"), a.tel.metrics)
	}
	return a.tel
}

// tracedClient is an HTTP client whose calls are client spans carrying
// W3C traceparent while OpenTelemetry export is on, and plain otherwise.
func (a *App) tracedClient() *http.Client {
	t := a.telemetry()
	tr := http.DefaultTransport.(*http.Transport).Clone()
	t.transports = append(t.transports, tr)
	return t.otel.Client(tr)
}

// startTelemetry registers the metrics on /metrics, times every database
// operation, joins log records to traces, and follows the OTLP endpoint
// setting, so export starts, moves or stops without a restart.
func (a *App) startTelemetry() {
	t := a.telemetry()
	t.metrics.Register(a.Registry)
	a.DB.ObserveQueries(t.metrics.ObserveQuery)
	apply := func() {
		// Follow callbacks must be quick: a collector that has gone away
		// gets two seconds to take what the old exporter still holds.
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if err := t.otel.Apply(ctx, a.Keys.KillKrill.OTLPEndpoint.Get()); err != nil {
			a.Log.Warn("OpenTelemetry export settings refused; keeping the previous ones", "error", err.Error())
		}
		// The log tap is set only while export is on, so that with it off
		// a log call costs what it did before.
		if a.Shipper != nil {
			if t.otel.Endpoint() != "" {
				a.Shipper.SetLogTap(t.otel.LogTap)
			} else {
				a.Shipper.SetLogTap(nil)
			}
		}
	}
	a.cancels = append(a.cancels, a.Config.Follow(apply))
}

// stopTelemetry flushes and stops OpenTelemetry export.
func (a *App) stopTelemetry(ctx context.Context) error {
	if a.tel == nil {
		return nil
	}
	if a.Shipper != nil {
		a.Shipper.SetLogTap(nil)
	}
	a.tel.metrics.SetShipper(nil)
	for _, tr := range a.tel.transports {
		tr.CloseIdleConnections()
	}
	return a.tel.otel.Shutdown(ctx)
}

// otelReport is the OpenTelemetry part of GET /api/v1/integrations.
func (a *App) otelReport() telemetry.Status {
	if a.tel == nil {
		return telemetry.Status{}
	}
	return a.tel.otel.Status()
}
