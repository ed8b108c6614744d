package telemetry

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel/trace"
	collogs "go.opentelemetry.io/proto/otlp/collector/logs/v1"
	"google.golang.org/protobuf/proto"

	"github.com/rookery/rookery/killkrill"
	"github.com/rookery/rookery/killkrill/killkrilltest"
)

// logReceiver is an OTLP/HTTP collector keeping the log records posted to
// it, each as its attributes (key to string form) plus "body".
type logReceiver struct {
	mu   sync.Mutex
	raw  []string
	logs []map[string]string
}

func newLogReceiver(t *testing.T) (*logReceiver, string) {
	lr := &logReceiver{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		var req collogs.ExportLogsServiceRequest
		if err == nil && r.URL.Path == "/v1/logs" {
			err = proto.Unmarshal(body, &req)
		}
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/x-protobuf")
		lr.mu.Lock()
		defer lr.mu.Unlock()
		lr.raw = append(lr.raw, string(body))
		for _, rl := range req.ResourceLogs {
			for _, sl := range rl.ScopeLogs {
				for _, l := range sl.LogRecords {
					m := map[string]string{"body": l.Body.GetStringValue()}
					for _, kv := range l.Attributes {
						m[kv.Key] = kv.Value.GetStringValue()
					}
					lr.logs = append(lr.logs, m)
				}
			}
		}
	}))
	t.Cleanup(srv.Close)
	return lr, srv.URL
}

// TestLogTapCarriesLoggerContext: a record logged through a logger built
// with With and WithGroup reaches OTLP with the With attributes (the
// request id among them, so the record joins the request's trace) and with
// a value under a secret-named group masked, as KillKrill masks it.
func TestLogTapCarriesLoggerContext(t *testing.T) {
	lr, url := newLogReceiver(t)
	o := NewOTel("t", "0", nil)
	if err := o.Apply(context.Background(), url); err != nil {
		t.Fatal(err)
	}
	p := killkrilltest.NewPair()
	defer p.Close()
	s, err := killkrill.New(killkrill.Config{Enabled: true, LogURL: p.Logs.URL(), MetricsURL: p.Metrics.URL(),
		ServiceName: "t", Fallback: io.Discard, FlushInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = s.Shutdown(context.Background()) }()
	s.SetLogTap(o.LogTap)

	// A request in progress, as the middleware records it.
	var traceID string
	h := o.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		traceID = traceIDOf(r.Context())
		slog.New(killkrill.NewHandler(s, nil)).With("request_id", "req-42").
			WithGroup("password").Info("x", "value", "hunter2")
	}))
	req := httptest.NewRequest("GET", "/x", nil)
	req.Header.Set("X-Request-ID", "req-42")
	// Logged without the request's context, so trace.id can come only from
	// the request id given to With.
	h.ServeHTTP(httptest.NewRecorder(), req.WithContext(context.Background()))

	if err := o.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	lr.mu.Lock()
	defer lr.mu.Unlock()
	if len(lr.logs) != 1 {
		t.Fatalf("%d OTLP log records, want 1: %v", len(lr.logs), lr.logs)
	}
	got := lr.logs[0]
	if got["request_id"] != "req-42" {
		t.Errorf("request_id = %q, want req-42 (record %v)", got["request_id"], got)
	}
	if got["password.value"] != killkrill.Masked {
		t.Errorf("password.value = %q, want %q (record %v)", got["password.value"], killkrill.Masked, got)
	}
	if traceID == "" || got["trace.id"] != traceID {
		t.Errorf("trace.id = %q, want the request's %q", got["trace.id"], traceID)
	}
	for _, b := range lr.raw {
		if strings.Contains(b, "hunter2") {
			t.Error("the secret went out in clear over OTLP")
		}
	}
}

func traceIDOf(ctx context.Context) string {
	if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
		return sc.TraceID().String()
	}
	return ""
}
