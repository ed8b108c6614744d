package killkrill

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rookery/rookery/killkrill/killkrilltest"
)

// TestCallerNeverWaits: with the receiver holding every request for 5 s, or
// gone entirely, 10k log calls (and metrics) still return at once. The bound
// is generous on purpose: a waiting caller would take 5 s per call.
func TestCallerNeverWaits(t *testing.T) {
	for _, fault := range []string{"slow", "down", "failing"} {
		t.Run(fault, func(t *testing.T) {
			p := newPair(t)
			switch fault {
			case "slow":
				p.SetDelay(5 * time.Second)
			case "down":
				p.SetDown(true)
			case "failing":
				p.SetFailStatus(500)
			}
			cfg := pairConfig(p)
			cfg.FlushInterval = 10 * time.Millisecond
			cfg.BatchSize = 100
			cfg.BufferSize = 1000
			s, err := New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			logger := slog.New(NewHandler(s, nil))
			start := time.Now()
			for i := range 10000 {
				logger.Info("busy", "i", i, "user_id", "u")
				if i%10 == 0 {
					_ = s.Counter(MetricHTTPRequestsTotal, 1, nil)
				}
			}
			elapsed := time.Since(start)
			t.Logf("%s receiver: 11000 calls took %v", fault, elapsed)
			if elapsed > time.Second {
				t.Errorf("callers waited: 11000 calls took %v", elapsed)
			}
			// Shutdown with a short deadline cuts the slow requests short and
			// still stops the goroutine.
			ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
			defer cancel()
			stopStart := time.Now()
			err = s.Shutdown(ctx)
			if fault == "slow" && !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("Shutdown against a 5 s receiver = %v, want deadline exceeded", err)
			}
			if d := time.Since(stopStart); d > 3*time.Second {
				t.Errorf("Shutdown took %v despite a 200ms deadline", d)
			}
			select {
			case <-s.done:
			default:
				t.Error("goroutine still running after Shutdown returned")
			}
			st := s.Stats()
			if st.Sent != 0 || st.Queued != 0 {
				t.Errorf("stats after shutdown: %+v", st)
			}
			// Everything is accounted for: dropped, or written locally.
			if total := st.Dropped.Total() + st.Fallback; total != 11000 {
				t.Errorf("dropped %d + fallback %d = %d, want 11000", st.Dropped.Total(), st.Fallback, total)
			}
		})
	}
}

// TestOverflowKeepsErrors: when the buffer overflows while the receiver is
// slow, info entries are dropped and every error survives to be delivered.
func TestOverflowKeepsErrors(t *testing.T) {
	p := newPair(t)
	cfg := pairConfig(p)
	cfg.BufferSize = 100
	cfg.BatchSize = 1 << 20 // nothing leaves before the explicit Flush
	s := newShipper(t, cfg)
	logger := slog.New(NewHandler(s, nil))
	for i := range 1000 {
		logger.Info(fmt.Sprintf("info %d", i))
		if i%20 == 0 {
			logger.Error(fmt.Sprintf("error %d", i))
		}
	}
	st := s.Stats()
	if st.Dropped.Error != 0 || st.Dropped.Info != 950 || st.Queued != 100 {
		t.Fatalf("dropped %+v queued %d; want 950 info, 0 error, 100 queued", st.Dropped, st.Queued)
	}
	if err := s.Flush(ctxT(t, 10*time.Second)); err != nil {
		t.Fatal(err)
	}
	errorsStored, infos := 0, 0
	for _, l := range p.Logs.Logs() {
		switch {
		case l.Level == "error":
			errorsStored++
		case strings.HasPrefix(l.Message, "info "):
			infos++
			var n int
			fmt.Sscanf(l.Message, "info %d", &n)
			if n < 950 {
				t.Errorf("an old info entry (%d) survived; the oldest should go first", n)
			}
		}
	}
	if errorsStored != 50 || infos != 50 {
		t.Errorf("delivered %d errors and %d infos, want 50 and 50", errorsStored, infos)
	}
}

// TestDeliveryResumesAfterOutage: during an outage entries go to the local
// fallback and the circuit opens; when the receiver is back, the periodic
// health probe closes it and delivery resumes on its own.
func TestDeliveryResumesAfterOutage(t *testing.T) {
	p := newPair(t)
	fb := &syncBuffer{}
	cfg := pairConfig(p)
	cfg.Fallback = fb
	cfg.CircuitThreshold = 2
	cfg.MaxRetries = 1
	s := newShipper(t, cfg)
	logger := slog.New(NewHandler(s, nil))

	p.SetDown(true)
	for i := range 20 {
		logger.Info("during outage", "i", i)
	}
	if err := s.Flush(ctxT(t, 10*time.Second)); !errors.Is(err, ErrUndelivered) {
		t.Fatalf("Flush during outage = %v, want ErrUndelivered", err)
	}
	st := s.Stats()
	if !st.CircuitOpen || st.Healthy || st.Failed != 20 || st.LastError == "" || st.LastErrorAt == nil {
		t.Fatalf("after outage: %+v", st)
	}
	// With the circuit open, requests stop: at most threshold x attempts
	// reached the receiver (plus one per worker already in flight).
	if hits := p.Logs.Hits(killkrilltest.LogsPath); hits > (cfg.CircuitThreshold+DefaultConcurrency)*2 {
		t.Errorf("%d requests during the outage; the circuit should have stopped them", hits)
	}
	docs := fb.docs(t)
	if len(docs) != 20 {
		t.Fatalf("fallback has %d lines, want 20", len(docs))
	}
	for _, d := range docs {
		if d["message"] != "during outage" || d["ecs.version"] != ECSVersion || d["@timestamp"] == nil || d["log.level"] != "info" {
			t.Fatalf("fallback line is not the ECS document: %v", d)
		}
	}

	// Back up: the ticker probes /healthz and sending resumes by itself.
	p.SetDown(false)
	if err := s.Reconfigure(withInterval(cfg, 10*time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	// Reconfigure with the same URLs must not reset the circuit: only a
	// probe may close it.
	if !s.Stats().CircuitOpen {
		t.Fatal("Reconfigure with unchanged targets closed the circuit")
	}
	logger.Info("after outage")
	if err := p.Logs.WaitLogs(ctxT(t, 10*time.Second), 1); err != nil {
		t.Fatal(err)
	}
	if p.Logs.Hits(killkrilltest.HealthPath) == 0 {
		t.Error("circuit closed without a health probe")
	}
	// The receiver stores before the shipper reads its answer; a Flush
	// waits for the shipping goroutine to finish that delivery.
	if err := s.Flush(ctxT(t, 5*time.Second)); err != nil {
		t.Fatal(err)
	}
	if l := p.Logs.Logs()[0]; l.Message != "after outage" {
		t.Errorf("first delivered entry = %q", l.Message)
	}
	if st := s.Stats(); st.CircuitOpen || st.Sent != 1 {
		t.Errorf("after recovery: %+v", st)
	}
}

func withInterval(c Config, d time.Duration) Config {
	c.FlushInterval = d
	return c
}

// TestUnhealthyKeepsCircuitOpen: a receiver that accepts connections but
// reports 503 on /healthz stays tripped.
func TestUnhealthyKeepsCircuitOpen(t *testing.T) {
	p := newPair(t)
	cfg := pairConfig(p)
	cfg.CircuitThreshold, cfg.MaxRetries = 1, -1
	s := newShipper(t, cfg)
	logger := slog.New(NewHandler(s, nil))
	p.SetFailStatus(500)
	p.SetUnhealthy(true)
	logger.Info("a")
	_ = s.Flush(ctxT(t, 5*time.Second))
	p.SetFailStatus(0)
	logger.Info("b")
	if err := s.Flush(ctxT(t, 5*time.Second)); !errors.Is(err, ErrUndelivered) {
		t.Fatalf("Flush with 503 health = %v", err)
	}
	if got := p.Logs.Hits(killkrilltest.LogsPath); got != 1 {
		t.Errorf("%d ingest requests, want 1 (the second entry should not be tried)", got)
	}
	p.SetUnhealthy(false)
	logger.Info("c")
	if err := s.Flush(ctxT(t, 5*time.Second)); err != nil {
		t.Fatalf("after health is back: %v", err)
	}
	if n := len(p.Logs.Logs()); n != 1 {
		t.Errorf("stored %d, want 1", n)
	}
}

// TestRetryRules: a 4xx answer is final; 5xx and transport errors are
// retried, and a retry that succeeds counts as sent.
func TestRetryRules(t *testing.T) {
	tests := []struct {
		name      string
		setup     func(p *killkrilltest.Pair)
		entries   int
		wantHits  int
		wantSent  uint64
		wantFails uint64
	}{
		{"400 is not retried", func(p *killkrilltest.Pair) { p.SetFailStatus(400) }, 5, 5, 0, 5},
		{"413 is not retried", func(p *killkrilltest.Pair) { p.SetFailStatus(413) }, 2, 2, 0, 2},
		{"500 is retried 3 times", func(p *killkrilltest.Pair) { p.SetFailStatus(500) }, 2, 8, 0, 2},
		{"503 then success", func(p *killkrilltest.Pair) { p.Logs.FailNext(503, 2) }, 1, 3, 1, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := newPair(t)
			tc.setup(p)
			cfg := pairConfig(p)
			cfg.CircuitThreshold = 1000
			cfg.Concurrency = 1
			s := newShipper(t, cfg)
			logger := slog.New(NewHandler(s, nil))
			for i := range tc.entries {
				logger.Info("x", "i", i)
			}
			err := s.Flush(ctxT(t, 10*time.Second))
			if (tc.wantFails > 0) != errors.Is(err, ErrUndelivered) {
				t.Errorf("Flush = %v", err)
			}
			if hits := p.Logs.Hits(killkrilltest.LogsPath); hits != tc.wantHits {
				t.Errorf("%d requests, want %d", hits, tc.wantHits)
			}
			st := s.Stats()
			if st.Sent != tc.wantSent || st.Failed != tc.wantFails {
				t.Errorf("sent %d failed %d, want %d and %d", st.Sent, st.Failed, tc.wantSent, tc.wantFails)
			}
			if tc.wantFails > 0 && !strings.Contains(st.LastError, "answered") {
				t.Errorf("last error %q should name the answer", st.LastError)
			}
			if st.CircuitOpen {
				t.Error("circuit opened below its threshold")
			}
		})
	}
}

// TestLocalFallbackWhenDisabled: disabled, every entry is written locally
// as an ECS JSON line, promptly, without waiting for the flush interval.
func TestLocalFallbackWhenDisabled(t *testing.T) {
	fb := &syncBuffer{}
	s := newShipper(t, Config{ServiceName: "svc", Fallback: fb, FlushInterval: time.Hour})
	logger := slog.New(NewHandler(s, &HandlerOptions{Level: slog.LevelDebug}))
	for i := range 100 {
		logger.Debug("local", "i", i, "user_id", "u1")
	}
	// No Flush, and an hour-long interval: the disabled shipper writes as
	// soon as it is woken.
	if err := fb.waitLines(ctxT(t, 5*time.Second), 100); err != nil {
		t.Fatal(err)
	}
	docs := fb.docs(t)
	if len(docs) != 100 {
		t.Fatalf("%d fallback lines, want 100", len(docs))
	}
	for i, d := range docs {
		if d["labels.i"] != strconv.Itoa(i) || d["user.id"] != "u1" || d["log.level"] != "debug" || d["service.name"] != "svc" {
			t.Fatalf("line %d = %v", i, d)
		}
	}
	if st := s.Stats(); st.Failed != 0 || st.Sent != 0 || st.Fallback != 100 {
		t.Errorf("disabled stats = %+v", st)
	}
}

// failingWriter makes fallback write errors visible in Stats.
type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestFallbackWriteErrorsCounted(t *testing.T) {
	s := newShipper(t, Config{Fallback: failingWriter{}, FlushInterval: time.Hour})
	slog.New(NewHandler(s, nil)).Info("x")
	if err := s.Flush(ctxT(t, 5*time.Second)); err != nil {
		t.Fatal(err)
	}
	if st := s.Stats(); st.FallbackErrors != 1 {
		t.Errorf("fallback errors = %d, want 1", st.FallbackErrors)
	}
}

// TestPeakHeapDuringOutage logs constantly while the receiver is down (the
// circuit sends entries to the local fallback) or hanging (requests time out,
// the buffer fills and drops), and reports the peak heap. The buffer is
// bounded, so the heap must stay flat. KILLKRILL_OUTAGE sets the duration of
// each case (default 5s, 1s with -short), e.g.
//
//	KILLKRILL_OUTAGE=60s go test -run PeakHeap -v ./killkrill/
func TestPeakHeapDuringOutage(t *testing.T) {
	d := 5 * time.Second
	if testing.Short() {
		d = time.Second
	}
	if v := os.Getenv("KILLKRILL_OUTAGE"); v != "" {
		var err error
		if d, err = time.ParseDuration(v); err != nil {
			t.Fatalf("KILLKRILL_OUTAGE=%q: %v", v, err)
		}
	}
	for _, fault := range []string{"down", "hanging"} {
		t.Run(fault, func(t *testing.T) {
			p := newPair(t)
			cfg := pairConfig(p)
			cfg.FlushInterval = 100 * time.Millisecond
			if fault == "down" {
				p.SetDown(true)
			} else {
				p.SetDelay(time.Hour)
				cfg.RequestTimeout, cfg.MaxRetries = 300*time.Millisecond, -1
			}
			s, err := New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			peak, base, logged := logConstantly(s, d)
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			_ = s.Shutdown(ctx)
			st := s.Stats()
			grow := int64(peak) - int64(base)
			t.Logf("%s for %v: logged %d, sent %d, fallback %d, dropped %+v; heap base %.1f MiB, peak %.1f MiB (+%.1f MiB)",
				fault, d, logged, st.Sent, st.Fallback, st.Dropped, mib(base), mib(peak), float64(grow)/(1<<20))
			if grow > 64<<20 {
				t.Errorf("heap grew by %.1f MiB during the outage; the buffer should bound it", float64(grow)/(1<<20))
			}
			if st.Dropped.Error != 0 {
				t.Errorf("%d error entries dropped during the outage", st.Dropped.Error)
			}
			if st.Sent != 0 || st.Fallback == 0 {
				t.Errorf("outage not seen as such: %+v", st)
			}
			if total := st.Fallback + st.Dropped.Total(); total != uint64(logged) {
				t.Errorf("fallback %d + dropped %d != logged %d", st.Fallback, st.Dropped.Total(), logged)
			}
		})
	}
}

// logConstantly runs two loggers at a steady 20k entries/s each (one in 20
// an error) for d, sampling the heap every 20ms.
func logConstantly(s *Shipper, d time.Duration) (peak, base uint64, logged int64) {
	logger := slog.New(NewHandler(s, nil))
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	base = ms.HeapAlloc
	var count atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for g := range 2 {
		wg.Go(func() {
			tick := time.NewTicker(time.Millisecond)
			defer tick.Stop()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				case <-tick.C:
				}
				for j := range 20 {
					if j == 0 {
						logger.Error("outage error", "g", g, "i", i)
					} else {
						logger.Info("outage info", "g", g, "i", i, "user_id", "u", "path", "/api/v1/x")
					}
					count.Add(1)
				}
			}
		})
	}
	sample := time.NewTicker(20 * time.Millisecond)
	defer sample.Stop()
	end := time.After(d)
	for {
		select {
		case <-sample.C:
			runtime.ReadMemStats(&ms)
			peak = max(peak, ms.HeapAlloc)
		case <-end:
			close(stop)
			wg.Wait()
			return peak, base, count.Load()
		}
	}
}

func mib(b uint64) float64 { return float64(b) / (1 << 20) }

var _ io.Writer = failingWriter{}
