package cli

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/spf13/cobra"

	"github.com/rookery/rookery/internal/telemetry"
	"github.com/rookery/rookery/marchproxy"
)

// envOTLPEndpoint is the standard variable behind otel_exporter_otlp_endpoint.
const envOTLPEndpoint = "OTEL_EXPORTER_OTLP_ENDPOINT"

const (
	// mpTracingStop bounds the flush and shutdown at the end of a command.
	mpTracingStop = 5 * time.Second
	// mpClientTimeout is the marchproxy client's own default, kept when
	// the traced client replaces it.
	mpClientTimeout = 30 * time.Second
)

// mpConfig is what the marchproxy commands read from the config database.
type mpConfig struct {
	marchproxy.Settings
	// OTLPEndpoint is the effective otel_exporter_otlp_endpoint (the stored
	// value, else OTEL_EXPORTER_OTLP_ENDPOINT): when set, the calls to the
	// MarchProxy API are client spans exported there.
	OTLPEndpoint string
}

// mpTracing is one command's OpenTelemetry exporter.
type mpTracing struct {
	otel     *telemetry.OTel
	tr       *http.Transport
	endpoint string
}

// newClient makes the MarchProxy client for s. With an OTLP endpoint its
// calls are client spans carrying W3C traceparent, exported until the
// command ends (see traced); without one nothing is started.
func (o *mpOptions) newClient(cmd *cobra.Command, s marchproxy.Settings) (*marchproxy.Client, error) {
	var opts []marchproxy.Option
	if o.tracing == nil && o.otlp != "" {
		o.tracing = startMPTracing(cmd.ErrOrStderr(), o.otlp, s.App.AppName, s.App.Version)
	}
	if t := o.tracing; t != nil {
		hc := t.otel.Client(t.tr)
		hc.Timeout = mpClientTimeout
		opts = append(opts, marchproxy.WithHTTPClient(hc))
	}
	return marchproxy.NewClient(s.APIOrDefault(), opts...)
}

// startMPTracing starts export to endpoint; a refused endpoint is a
// warning, and the calls then go out untraced.
func startMPTracing(ew io.Writer, endpoint, service, version string) *mpTracing {
	ot := telemetry.NewOTel(service, version, nil)
	ctx, cancel := context.WithTimeout(context.Background(), mpTracingStop)
	defer cancel()
	if err := ot.Apply(ctx, endpoint); err != nil {
		fmt.Fprintf(ew, "warning: MarchProxy calls are not traced: %v\n", err)
		return nil
	}
	return &mpTracing{otel: ot, tr: http.DefaultTransport.(*http.Transport).Clone(), endpoint: endpoint}
}

// traced runs a command that calls the MarchProxy API, then flushes and
// stops its exporter, if one was started, within mpTracingStop. A
// collector that is down or slow is a warning on stderr, never the
// command's failure.
func (o *mpOptions) traced(run func(*cobra.Command, []string) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		defer o.stopTracing(cmd.ErrOrStderr())
		return run(cmd, args)
	}
}

func (o *mpOptions) stopTracing(ew io.Writer) {
	t := o.tracing
	if t == nil {
		return
	}
	o.tracing = nil
	ctx, cancel := context.WithTimeout(context.Background(), mpTracingStop)
	defer cancel()
	err := t.otel.ForceFlush(ctx)
	if serr := t.otel.Shutdown(ctx); err == nil {
		err = serr
	}
	t.tr.CloseIdleConnections()
	if err != nil {
		fmt.Fprintf(ew, "warning: MarchProxy traces not exported to %s: %v\n", t.endpoint, err)
	}
}
