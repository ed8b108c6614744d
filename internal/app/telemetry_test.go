package app

import (
	"context"
	"encoding/hex"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	collogs "go.opentelemetry.io/proto/otlp/collector/logs/v1"
	colmetrics "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	coltrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/rookery/rookery/internal/db"
	"github.com/rookery/rookery/internal/dbtest"
	"github.com/rookery/rookery/killkrill"
	"github.com/rookery/rookery/killkrill/killkrilltest"
	"github.com/rookery/rookery/license/licensetest"
	"github.com/rookery/rookery/waddleai/waddleaitest"
)

// otlpReceiver is an in-process OTLP/HTTP collector: it decodes what the
// exporters post to /v1/traces, /v1/metrics and /v1/logs.
type otlpReceiver struct {
	srv *httptest.Server

	mu      sync.Mutex
	spans   []*tracepb.Span
	metrics []string // metric names
	logs    []map[string]string
}

func newOTLPReceiver(t *testing.T) *otlpReceiver {
	rc := &otlpReceiver{}
	mux := http.NewServeMux()
	read := func(w http.ResponseWriter, r *http.Request, msg proto.Message) bool {
		body, err := io.ReadAll(r.Body)
		if err == nil {
			err = proto.Unmarshal(body, msg)
		}
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return false
		}
		w.Header().Set("Content-Type", "application/x-protobuf")
		return true
	}
	mux.HandleFunc("POST /v1/traces", func(w http.ResponseWriter, r *http.Request) {
		var req coltrace.ExportTraceServiceRequest
		if !read(w, r, &req) {
			return
		}
		rc.mu.Lock()
		defer rc.mu.Unlock()
		for _, rs := range req.ResourceSpans {
			for _, ss := range rs.ScopeSpans {
				rc.spans = append(rc.spans, ss.Spans...)
			}
		}
	})
	mux.HandleFunc("POST /v1/metrics", func(w http.ResponseWriter, r *http.Request) {
		var req colmetrics.ExportMetricsServiceRequest
		if !read(w, r, &req) {
			return
		}
		rc.mu.Lock()
		defer rc.mu.Unlock()
		for _, rm := range req.ResourceMetrics {
			for _, sm := range rm.ScopeMetrics {
				for _, m := range sm.Metrics {
					rc.metrics = append(rc.metrics, m.Name)
				}
			}
		}
	})
	mux.HandleFunc("POST /v1/logs", func(w http.ResponseWriter, r *http.Request) {
		var req collogs.ExportLogsServiceRequest
		if !read(w, r, &req) {
			return
		}
		rc.mu.Lock()
		defer rc.mu.Unlock()
		for _, rl := range req.ResourceLogs {
			for _, sl := range rl.ScopeLogs {
				for _, l := range sl.LogRecords {
					m := map[string]string{"body": l.Body.GetStringValue(), "trace_id": hex.EncodeToString(l.TraceId)}
					for _, kv := range l.Attributes {
						m[kv.Key] = kv.Value.GetStringValue()
					}
					rc.logs = append(rc.logs, m)
				}
			}
		}
	})
	rc.srv = httptest.NewServer(mux)
	t.Cleanup(rc.srv.Close)
	return rc
}

// TestOpenTelemetryExport: with the OTLP endpoint set, a request to the AI
// route is a server span whose child client span reached the fake gateway
// as its W3C traceparent; log records carry trace.id and span.id (to
// KillKrill too) and go out over OTLP with the metrics. Changing the
// setting at run time switches export off.
func TestOpenTelemetryExport(t *testing.T) {
	rc := newOTLPReceiver(t)
	gw := waddleaitest.NewServer(waddleaitest.WithResponder(waddleaitest.Reply(`{"label":"positive","score":0.9}`)))
	defer gw.Close()
	pair := killkrilltest.NewPair()
	defer pair.Close()
	var sh *killkrill.Shipper
	env := aiEnv(gw, map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": rc.srv.URL,
		"KILLKRILL_ENABLED": "true", "KILLKRILL_API_URL": pair.Logs.URL(), "KILLKRILL_METRICS_URL": pair.Metrics.URL()})
	ta, err := launch(t, dbtest.Fresh(t, db.SQLite), env, func(logs io.Writer) (*slog.Logger, Options) {
		var err error
		sh, err = killkrill.New(killkrill.Config{ServiceName: "rookery", Fallback: logs, FlushInterval: 50 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		return slog.New(killkrill.NewHandler(sh, nil)), Options{Version: "test", Shipper: sh}
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = sh.Shutdown(ctx)
		if t.Failed() {
			logs := ta.logs.String()
			t.Logf("server log (end):\n%s", logs[max(0, len(logs)-4000):])
		}
	})
	admin := ta.admin()
	r := ta.call("POST", "/api/v1/ai/analyze", admin, map[string]string{"text": "I love it", "task": "sentiment"})
	if r.Status != 200 {
		t.Fatalf("analyze = %d %s", r.Status, r.Body)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := ta.tel.otel.ForceFlush(ctx); err != nil {
		t.Fatalf("flush: %v", err)
	}

	req, ok := gw.LastRequest("/v1/chat/completions")
	if !ok {
		t.Fatal("the gateway saw no chat request")
	}
	tp := req.Header.Get("Traceparent")
	parts := strings.Split(tp, "-")
	if len(parts) != 4 || parts[0] != "00" || len(parts[1]) != 32 || len(parts[2]) != 16 {
		t.Fatalf("traceparent at the gateway = %q, want a W3C traceparent", tp)
	}
	traceID, clientSpanID := parts[1], parts[2]

	rc.mu.Lock()
	var server, client *tracepb.Span
	for _, s := range rc.spans {
		if hex.EncodeToString(s.TraceId) != traceID {
			continue
		}
		switch {
		case s.Kind == tracepb.Span_SPAN_KIND_SERVER:
			server = s
		case s.Kind == tracepb.Span_SPAN_KIND_CLIENT && hex.EncodeToString(s.SpanId) == clientSpanID:
			client = s
		}
	}
	metricNames := strings.Join(rc.metrics, " ")
	var joined map[string]string
	for _, l := range rc.logs {
		if l["trace.id"] == traceID {
			joined = l
		}
	}
	rc.mu.Unlock()
	if server == nil || client == nil {
		t.Fatalf("no server span and client span in trace %s (%d spans received)", traceID, len(rc.spans))
	}
	if string(client.ParentSpanId) != string(server.SpanId) {
		t.Errorf("the client span's parent is %x, want the server span %x", client.ParentSpanId, server.SpanId)
	}
	for _, name := range []string{"http.server.request.duration", killkrill.MetricDBQueryDuration, killkrill.MetricUsersActive, killkrill.MetricCacheHits} {
		if !strings.Contains(metricNames, name) {
			t.Errorf("metric %s not exported; got %s", name, metricNames)
		}
	}
	if joined == nil || joined["span.id"] == "" || joined["trace_id"] != traceID {
		t.Errorf("no OTLP log record joined to trace %s (record %v)", traceID, joined)
	}

	// KillKrill gets the same ids on the request's log entries.
	if err := sh.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, l := range pair.Logs.Logs() {
		if strings.Contains(string(l.Raw), `"trace.id":"`+traceID+`"`) && strings.Contains(string(l.Raw), `"span.id":"`) {
			found = true
		}
	}
	if !found {
		t.Errorf("no KillKrill entry carries trace.id %s", traceID)
	}

	st := ta.call("GET", "/api/v1/integrations", admin, nil)
	if !strings.Contains(string(st.Body), `"opentelemetry":{"enabled":true`) {
		t.Errorf("integrations report: %s", st.Body)
	}

	// Off at run time: no traceparent any more.
	if r := ta.call("PUT", "/api/v1/config/otel_exporter_otlp_endpoint", admin, map[string]any{"value": ""}); r.Status != 200 {
		t.Fatalf("switch off = %d %s", r.Status, r.Body)
	}
	deadline := time.Now().Add(5 * time.Second)
	for ta.tel.otel.Endpoint() != "" && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if ta.tel.otel.Endpoint() != "" {
		t.Fatal("export still on after the setting was cleared")
	}
	gw.Reset()
	if r := ta.call("POST", "/api/v1/ai/analyze", admin, map[string]string{"text": "again", "task": "sentiment"}); r.Status != 200 {
		t.Fatalf("analyze = %d", r.Status)
	}
	if req, ok := gw.LastRequest("/v1/chat/completions"); !ok || req.Header.Get("Traceparent") != "" {
		t.Errorf("with export off the gateway still got traceparent %q", req.Header.Get("Traceparent"))
	}
}

// TestLicenceCallsCarryTraceparent: with export on, the licence client's
// calls are client spans and the licence server receives their W3C
// traceparent.
func TestLicenceCallsCarryTraceparent(t *testing.T) {
	rc := newOTLPReceiver(t)
	srv := licensetest.NewServer(licensetest.Professional(licensetest.KeyProfessional))
	defer srv.Close()
	env := licenceEnv(srv, licensetest.KeyProfessional, true)
	env["OTEL_EXPORTER_OTLP_ENDPOINT"] = rc.srv.URL
	ta := newSQLiteApp(t, env)
	srv.ResetRequests()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := ta.License.Refresh(ctx); err != nil {
		t.Fatalf("refresh: %v", err)
	}
	reqs := srv.Requests()
	if len(reqs) == 0 {
		t.Fatal("the licence server saw no request")
	}
	tp := reqs[len(reqs)-1].Header.Get("Traceparent")
	if parts := strings.Split(tp, "-"); len(parts) != 4 || len(parts[1]) != 32 {
		t.Fatalf("traceparent at the licence server = %q", tp)
	}
	if err := ta.tel.otel.ForceFlush(ctx); err != nil {
		t.Fatal(err)
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	for _, s := range rc.spans {
		if s.Kind == tracepb.Span_SPAN_KIND_CLIENT && hex.EncodeToString(s.TraceId) == strings.Split(tp, "-")[1] {
			return
		}
	}
	t.Errorf("no client span exported for trace %s", tp)
}
