package cli

import (
	"context"
	"encoding/hex"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	coltrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/rookery/rookery/internal/db"
	"github.com/rookery/rookery/internal/dbtest"
	"github.com/rookery/rookery/marchproxy"
)

// otlpTraces is an in-process OTLP/HTTP collector keeping the spans posted
// to /v1/traces; the other signals are accepted and dropped.
type otlpTraces struct {
	URL   string
	mu    sync.Mutex
	spans []*tracepb.Span
}

func newOTLPTraces(t *testing.T) *otlpTraces {
	rc := &otlpTraces{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/x-protobuf")
		if r.URL.Path != "/v1/traces" {
			return
		}
		var req coltrace.ExportTraceServiceRequest
		if err := proto.Unmarshal(body, &req); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		rc.mu.Lock()
		defer rc.mu.Unlock()
		for _, rs := range req.ResourceSpans {
			for _, ss := range rs.ScopeSpans {
				rc.spans = append(rc.spans, ss.Spans...)
			}
		}
	}))
	t.Cleanup(srv.Close)
	rc.URL = srv.URL
	return rc
}

// clientSpans maps span id to trace id for the client spans received.
func (rc *otlpTraces) clientSpans() map[string]string {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	out := map[string]string{}
	for _, s := range rc.spans {
		if s.Kind == tracepb.Span_SPAN_KIND_CLIENT {
			out[hex.EncodeToString(s.SpanId)] = hex.EncodeToString(s.TraceId)
		}
	}
	return out
}

func mpTracedLoader(s marchproxy.Settings, endpoint string) func(context.Context) (mpConfig, error) {
	return func(context.Context) (mpConfig, error) { return mpConfig{Settings: s, OTLPEndpoint: endpoint}, nil }
}

// checkTraced: every request the fake MarchProxy server saw carries a
// traceparent naming a client span the collector received.
func checkTraced(t *testing.T, reqs []string, spans map[string]string) {
	t.Helper()
	if len(reqs) == 0 {
		t.Fatal("the fake MarchProxy server saw no request")
	}
	for _, tp := range reqs {
		parts := strings.Split(tp, "-")
		if len(parts) != 4 || parts[0] != "00" {
			t.Fatalf("traceparent %q is not W3C", tp)
		}
		if trace, ok := spans[parts[2]]; !ok || trace != parts[1] {
			t.Fatalf("traceparent %q names no client span received (spans %v)", tp, spans)
		}
	}
}

// TestMarchProxyTracing: with an OTLP endpoint the MarchProxy calls of
// diff and config are client spans whose traceparent reached the server,
// exported before the command returns; without one no header is sent; a
// collector that is down is a warning, never a failed command.
func TestMarchProxyTracing(t *testing.T) {
	mpClearEnv(t)
	f := mpFake(t)
	rc := newOTLPTraces(t)
	sent := func() []string {
		var out []string
		for _, r := range f.Requests() {
			out = append(out, r.Header.Get("traceparent"))
		}
		return out
	}

	r := mpRun(t, mpTracedLoader(mpSettings(f.URL), rc.URL), "diff", "--generate")
	if r.code() != 2 || strings.Contains(r.stderr, "warning") {
		t.Fatalf("traced diff: exit %d %v\n%s%s", r.code(), r.err, r.stdout, r.stderr)
	}
	checkTraced(t, sent(), rc.clientSpans())
	if n := len(rc.clientSpans()); n < 2 {
		t.Fatalf("diff logs in and lists: want at least 2 client spans, got %d", n)
	}

	f.ResetRequests()
	r = mpRun(t, mpTracedLoader(mpSettings(f.URL), rc.URL), "config")
	if r.code() != 0 || strings.Contains(r.stderr, "warning") {
		t.Fatalf("traced config: exit %d %v\n%s", r.code(), r.err, r.stderr)
	}
	checkTraced(t, sent(), rc.clientSpans())

	f.ResetRequests()
	before := len(rc.clientSpans())
	if r := mpRun(t, mpLoader(mpSettings(f.URL), nil), "diff", "--generate"); r.code() != 2 {
		t.Fatalf("untraced diff: exit %d %v", r.code(), r.err)
	}
	for _, tp := range sent() {
		if tp != "" {
			t.Fatalf("traceparent %q sent without an OTLP endpoint", tp)
		}
	}
	if len(sent()) == 0 || len(rc.clientSpans()) != before {
		t.Fatalf("untraced diff: %d requests, %d new spans", len(sent()), len(rc.clientSpans())-before)
	}

	// A collector that is not there: the command does its work and warns.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	down := "http://" + ln.Addr().String()
	ln.Close()
	r = mpRun(t, mpTracedLoader(mpSettings(f.URL), down), "config")
	if r.code() != 0 || !strings.Contains(r.stderr, "warning: MarchProxy traces not exported to "+down) {
		t.Fatalf("config with the collector down: exit %d %v\n%s", r.code(), r.err, r.stderr)
	}
}

// TestMarchProxyTracingFromSettings: the operator's path, through the
// config database: OTEL_EXPORTER_OTLP_ENDPOINT alone turns tracing on,
// and a stored otel_exporter_otlp_endpoint wins over it.
func TestMarchProxyTracingFromSettings(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, s db.Settings) {
		t.Setenv("DATA_DIR", t.TempDir())
		t.Setenv("DATABASE_URL", s.URL)
		t.Setenv("BCRYPT_COST", "4")
		mpClearEnv(t)
		t.Setenv(envOTLPEndpoint, "")
		f := mpFake(t)
		t.Setenv(envMarchProxyAPI, f.URL)
		t.Setenv(envClusterAPIKey, mpTestKey)
		if out, err := run(t, "", "migrate"); err != nil {
			t.Fatalf("migrate: %v %s", err, out)
		}
		hasTraceparent := func() bool {
			defer f.ResetRequests()
			for _, r := range f.Requests() {
				if r.Header.Get("traceparent") != "" {
					return true
				}
			}
			return false
		}

		if out, err := run(t, "", "marchproxy", "config"); err != nil || hasTraceparent() {
			t.Fatalf("config without an endpoint: %v %s", err, out)
		}
		fromEnv := newOTLPTraces(t)
		t.Setenv(envOTLPEndpoint, fromEnv.URL)
		if out, err := run(t, "", "marchproxy", "config"); err != nil || !hasTraceparent() || len(fromEnv.clientSpans()) == 0 {
			t.Fatalf("config with %s: %v %s (%d spans)", envOTLPEndpoint, err, out, len(fromEnv.clientSpans()))
		}
		stored := newOTLPTraces(t)
		if out, err := run(t, "", "config", "set", "otel_exporter_otlp_endpoint", stored.URL); err != nil {
			t.Fatalf("config set: %v %s", err, out)
		}
		envSpans := len(fromEnv.clientSpans())
		if out, err := run(t, "", "marchproxy", "config"); err != nil || !hasTraceparent() || len(stored.clientSpans()) == 0 || len(fromEnv.clientSpans()) != envSpans {
			t.Fatalf("config with the stored endpoint: %v %s (%d spans there, %d new at the variable's)",
				err, out, len(stored.clientSpans()), len(fromEnv.clientSpans())-envSpans)
		}
	})
}
