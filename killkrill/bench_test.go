package killkrill

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/rookery/rookery/killkrill/killkrilltest"
)

// logRequest is the call the handler benchmarks measure: what the request
// middleware logs, with five attributes.
func logRequest(logger *slog.Logger) {
	logger.Info("HTTP request",
		"request_id", "req-123",
		"method", "GET",
		"path", "/api/v1/teams",
		"status", 200,
		"duration_ms", 12.5)
}

// BenchmarkHandler5Attrs measures what a caller pays for one slog call with
// five attributes: slog builds the record, the handler copies it into the
// buffer. Target: <= 1 µs/op, <= 2 allocs/op. The shipping goroutine is kept
// idle (no flush is due) so that its CPU, measured by BenchmarkThroughput, is
// not billed to the caller.
//
//   - steady: the buffer cycles through 1000 slots, about what it holds
//     between flushes of 500 while the receiver keeps up.
//   - overflowing: the default 10000-slot buffer is full and every call
//     also drops the oldest entry; the 3 MB ring no longer fits in cache,
//     which is what the extra time is.
func BenchmarkHandler5Attrs(b *testing.B) {
	for _, tc := range []struct {
		name   string
		buffer int
	}{{"steady", 1000}, {"overflowing", DefaultBufferSize}} {
		b.Run(tc.name, func(b *testing.B) {
			p := killkrilltest.NewPair()
			defer p.Close()
			s, err := New(Config{Enabled: true, LogURL: p.Logs.URL(), MetricsURL: p.Metrics.URL(),
				ServiceName: "bench", Fallback: io.Discard, FlushInterval: time.Hour,
				BatchSize: 1 << 30, BufferSize: tc.buffer})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Shutdown(context.Background())
			logger := slog.New(NewHandler(s, nil))
			b.ReportAllocs()
			for b.Loop() {
				logRequest(logger)
			}
		})
	}
}

// BenchmarkHandler5AttrsWhileShipping is the same call while the shipper
// posts every entry to a local fake receiver. On a small machine the figure
// is dominated by the CPU the workers and the in-process receiver take, not
// by waiting: the caller never blocks on them.
func BenchmarkHandler5AttrsWhileShipping(b *testing.B) {
	p := killkrilltest.NewPair()
	defer p.Close()
	s, err := New(Config{Enabled: true, LogURL: p.Logs.URL(), MetricsURL: p.Metrics.URL(),
		ServiceName: "bench", Fallback: io.Discard, FlushInterval: 100 * time.Millisecond})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Shutdown(context.Background())
	logger := slog.New(NewHandler(s, nil))
	b.ReportAllocs()
	for b.Loop() {
		logRequest(logger)
	}
}

// BenchmarkHandler5AttrsParallel is the same from many goroutines at once,
// which is where the buffer's mutex would show.
func BenchmarkHandler5AttrsParallel(b *testing.B) {
	s, err := New(Config{Enabled: true, LogURL: "http://127.0.0.1:1", ServiceName: "bench",
		Fallback: io.Discard, FlushInterval: time.Hour, BatchSize: 1 << 30})
	if err != nil {
		b.Fatal(err)
	}
	logger := slog.New(NewHandler(s, nil))
	b.Cleanup(func() { _ = s.Shutdown(context.Background()) })
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			logger.LogAttrs(context.Background(), slog.LevelInfo, "HTTP request",
				slog.String("request_id", "req-123"),
				slog.String("method", "GET"),
				slog.String("path", "/api/v1/teams"),
				slog.Int("status", 200),
				slog.Float64("duration_ms", 12.5))
		}
	})
}

// BenchmarkThroughput reports how many entries per second reach a local fake
// receiver: entries are logged in chunks of 1000 and each chunk is flushed
// and counted as stored before the next. Entry mode pays one POST per entry
// (bounded by Concurrency); batch mode one POST per BatchSize entries.
func BenchmarkThroughput(b *testing.B) {
	for _, tc := range []struct {
		name        string
		mode        Mode
		concurrency int
	}{
		{"entry/concurrency=4", ModeEntry, 4},
		{"entry/concurrency=8", ModeEntry, 8},
		{"batch", ModeBatch, 1},
	} {
		b.Run(tc.name, func(b *testing.B) {
			p := killkrilltest.NewPair()
			defer p.Close()
			if tc.mode == ModeBatch {
				p.Logs.EnableBatch("")
			}
			s, err := New(Config{Enabled: true, LogURL: p.Logs.URL(), MetricsURL: p.Metrics.URL(),
				ServiceName: "bench", Fallback: io.Discard, FlushInterval: time.Hour,
				Mode: tc.mode, Concurrency: tc.concurrency, BufferSize: 2000})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Shutdown(context.Background())
			logger := slog.New(NewHandler(s, nil))
			ctx := context.Background()
			const chunk = 1000
			start := time.Now()
			for done := 0; done < b.N; done += chunk {
				n := min(chunk, b.N-done)
				for i := range n {
					logger.Info("HTTP request", "request_id", i, "method", "GET", "path", "/api/v1/teams", "status", 200, "duration_ms", 12.5)
				}
				if err := s.Flush(ctx); err != nil {
					b.Fatal(err)
				}
				if err := p.Logs.WaitLogs(ctx, n); err != nil {
					b.Fatal(err)
				}
				p.Logs.Reset() // keep the fake's memory flat
			}
			elapsed := time.Since(start)
			b.ReportMetric(float64(b.N)/elapsed.Seconds(), "entries/s")
			if st := s.Stats(); st.Failed != 0 || st.Dropped.Total() != 0 {
				b.Fatalf("lost entries: %+v", st)
			}
		})
	}
}

// BenchmarkHandle5Attrs is the handler's own share of the hot path: Handle
// on a ready-made record, without slog.Logger building it (time.Now,
// runtime.Callers, argument parsing).
func BenchmarkHandle5Attrs(b *testing.B) {
	s, err := New(Config{Enabled: true, LogURL: "http://127.0.0.1:1", ServiceName: "bench",
		Fallback: io.Discard, FlushInterval: time.Hour, BatchSize: 1 << 30})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Shutdown(context.Background())
	h := NewHandler(s, nil)
	r := slog.NewRecord(time.Now(), slog.LevelInfo, "HTTP request", 0)
	r.AddAttrs(slog.String("request_id", "req-123"), slog.String("method", "GET"),
		slog.String("path", "/api/v1/teams"), slog.Int("status", 200), slog.Float64("duration_ms", 12.5))
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		_ = h.Handle(ctx, r)
	}
}
