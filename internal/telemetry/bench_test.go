package telemetry

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/rookery/rookery/killkrill"
	"github.com/rookery/rookery/killkrill/killkrilltest"
)

// sink is an OTLP/HTTP collector that accepts everything and keeps nothing.
func sink(tb testing.TB) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/x-protobuf")
	}))
	tb.Cleanup(srv.Close)
	return srv.URL
}

// benchShipper is the KillKrill handler set-up of killkrill's
// BenchmarkHandler5Attrs/steady, with o's log tap on it.
func benchShipper(b *testing.B, o *OTel) *slog.Logger {
	p := killkrilltest.NewPair()
	b.Cleanup(p.Close)
	s, err := killkrill.New(killkrill.Config{Enabled: true, LogURL: p.Logs.URL(), MetricsURL: p.Metrics.URL(),
		ServiceName: "bench", Fallback: io.Discard, FlushInterval: time.Hour, BatchSize: 1 << 30, BufferSize: 1000})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = s.Shutdown(context.Background()) })
	if o.Endpoint() != "" {
		// As the app does: the tap is set only while export is on.
		s.SetLogTap(o.LogTap)
	}
	return slog.New(killkrill.NewHandler(s, nil))
}

// BenchmarkHandlerOTLP is the caller's cost of one log call with five
// attributes through the KillKrill handler, OpenTelemetry export off (no
// tap: target <= 0.5 µs, <= 1 alloc on a quiet machine) and on (trace ids
// looked up, the record also goes to the OTLP log batcher).
func BenchmarkHandlerOTLP(b *testing.B) {
	for _, on := range []bool{false, true} {
		name := "off"
		if on {
			name = "on"
		}
		b.Run(name, func(b *testing.B) {
			o := NewOTel("bench", "0", nil)
			if on {
				if err := o.Apply(context.Background(), sink(b)); err != nil {
					b.Fatal(err)
				}
				b.Cleanup(func() { _ = o.Shutdown(context.Background()) })
			}
			logger := benchShipper(b, o)
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				logger.LogAttrs(ctx, slog.LevelInfo, "HTTP request",
					slog.String("request_id", "req-123"), slog.String("method", "GET"),
					slog.String("path", "/api/v1/teams"), slog.Int("status", 200), slog.Float64("duration_ms", 12.5))
			}
		})
	}
}

// BenchmarkServerSpan is the cost the request middleware adds: off, one
// atomic load; on, a server span per request.
func BenchmarkServerSpan(b *testing.B) {
	for _, on := range []bool{false, true} {
		name := "off"
		if on {
			name = "on"
		}
		b.Run(name, func(b *testing.B) {
			o := NewOTel("bench", "0", nil)
			if on {
				if err := o.Apply(context.Background(), sink(b)); err != nil {
					b.Fatal(err)
				}
				b.Cleanup(func() { _ = o.Shutdown(context.Background()) })
			}
			h := o.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) }))
			req := httptest.NewRequest("GET", "/api/v1/teams", nil)
			req.Header.Set("X-Request-ID", "req-1")
			w := httptest.NewRecorder()
			b.ReportAllocs()
			for b.Loop() {
				h.ServeHTTP(w, req)
			}
		})
	}
}

// TestOffCostsNoAllocation: with no endpoint the middleware, the transport
// and the log tap allocate nothing of their own.
func TestOffCostsNoAllocation(t *testing.T) {
	o := NewOTel("t", "0", nil)
	next := http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})
	h := o.Handler(next)
	req := httptest.NewRequest("GET", "/x", nil)
	w := httptest.NewRecorder()
	if n := testing.AllocsPerRun(100, func() { h.ServeHTTP(w, req) }); n != 0 {
		t.Errorf("middleware with export off: %v allocs per request", n)
	}
	r := slog.NewRecord(time.Now(), slog.LevelInfo, "m", 0)
	ctx := context.Background()
	if n := testing.AllocsPerRun(100, func() { o.LogTap(ctx, &r) }); n != 0 {
		t.Errorf("log tap with export off: %v allocs per record", n)
	}
	rt := o.Transport(roundTripFunc(func(*http.Request) (*http.Response, error) { return nil, nil }))
	if n := testing.AllocsPerRun(100, func() { _, _ = rt.RoundTrip(req) }); n != 0 {
		t.Errorf("transport with export off: %v allocs per call", n)
	}
	if r.NumAttrs() != 0 || req.Header.Get("Traceparent") != "" {
		t.Error("export off changed the record or the request")
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
