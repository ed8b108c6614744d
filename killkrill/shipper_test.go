package killkrill

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rookery/rookery/killkrill/killkrilltest"
)

// pairConfig points a shipper at a fake pair with intervals short enough
// for tests.
func pairConfig(p *killkrilltest.Pair) Config {
	return Config{
		Enabled:        true,
		LogURL:         p.Logs.URL(),
		MetricsURL:     p.Metrics.URL(),
		ServiceName:    "flask-backend",
		FlushInterval:  time.Hour, // tests flush explicitly unless they say otherwise
		RetryBackoff:   time.Millisecond,
		RequestTimeout: 5 * time.Second,
		Fallback:       io.Discard,
	}
}

func newPair(t *testing.T) *killkrilltest.Pair {
	p := killkrilltest.NewPair()
	t.Cleanup(p.Close)
	return p
}

// TestEntryModeDeliversEverything: N entries in, N entries stored, each as
// the real receiver reads it, from several goroutines at once.
func TestEntryModeDeliversEverything(t *testing.T) {
	p := newPair(t)
	cfg := pairConfig(p)
	cfg.BatchSize = 64 // several batches, some flushed by size
	s := newShipper(t, cfg)
	logger := slog.New(NewHandler(s, nil))

	const goroutines, perG, metrics = 4, 150, 40
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for i := range perG {
				logger.Info(fmt.Sprintf("msg %d-%d", g, i), "user_id", "user_123", "team_id", "team_abc")
			}
		})
	}
	for i := range metrics {
		if err := s.Counter(MetricHTTPRequestsTotal, float64(i), map[string]string{"endpoint": "/api/v1/teams", "status": "200"}); err != nil {
			t.Fatal(err)
		}
	}
	wg.Wait()
	if err := s.Flush(ctxT(t, 10*time.Second)); err != nil {
		t.Fatalf("Flush: %v", err)
	}
	logs := p.Logs.Logs()
	if len(logs) != goroutines*perG {
		t.Fatalf("stored %d logs, want %d", len(logs), goroutines*perG)
	}
	seen := map[string]bool{}
	for _, l := range logs {
		seen[l.Message] = true
		if l.Level != "info" || l.ServiceName != "flask-backend" {
			t.Fatalf("receiver read level %q service %q", l.Level, l.ServiceName)
		}
		if _, err := time.Parse(time.RFC3339Nano, l.Timestamp); err != nil {
			t.Fatalf("timestamp %q: %v", l.Timestamp, err)
		}
	}
	if len(seen) != goroutines*perG {
		t.Errorf("%d distinct messages, want %d (duplicates or losses)", len(seen), goroutines*perG)
	}
	var body map[string]any
	if err := json.Unmarshal(logs[0].Raw, &body); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"@timestamp", "log.level", "message", "service.name", "ecs.version", "user.id", "organization.id", "timestamp", "log_level", "service_name"} {
		if _, ok := body[k]; !ok {
			t.Errorf("entry body lacks %q: %s", k, logs[0].Raw)
		}
	}
	ms := p.Metrics.Metrics()
	if len(ms) != metrics {
		t.Fatalf("stored %d metrics, want %d", len(ms), metrics)
	}
	for _, m := range ms {
		if m.Name != "http_requests_total" || m.Type != "counter" || m.Labels["endpoint"] != "/api/v1/teams" || m.Labels["service"] != "flask-backend" {
			t.Fatalf("metric stored as %+v", m)
		}
	}
	st := s.Stats()
	if st.Sent != goroutines*perG+metrics || st.Failed != 0 || st.Dropped.Total() != 0 || st.Queued != 0 || !st.Healthy || st.LastSuccessAt == nil {
		t.Errorf("stats = %+v", st)
	}
}

// TestBatchModeDeliversEverything: the same through the standards' batch
// body, to a receiver that accepts it.
func TestBatchModeDeliversEverything(t *testing.T) {
	p := newPair(t)
	p.Logs.EnableBatch("/ingest/batch")
	cfg := pairConfig(p)
	cfg.Mode, cfg.BatchPath, cfg.BatchSize = ModeBatch, "/ingest/batch", 100
	s := newShipper(t, cfg)
	logger := slog.New(NewHandler(s, nil))
	const n, metrics = 450, 30
	for i := range n {
		logger.Warn(fmt.Sprintf("m%d", i), "request_id", i)
	}
	for i := range metrics {
		_ = s.Histogram(MetricHTTPRequestDuration, float64(i), nil)
	}
	if err := s.Flush(ctxT(t, 10*time.Second)); err != nil {
		t.Fatal(err)
	}
	if got := len(p.Logs.Logs()); got != n {
		t.Errorf("stored %d logs, want %d", got, n)
	}
	ms := p.Logs.Metrics()
	if len(ms) != metrics || ms[0].Name != MetricHTTPRequestDuration || ms[0].Type != "histogram" {
		t.Errorf("batch metrics = %d, first %+v", len(ms), ms[0])
	}
	if hits := p.Logs.Hits("/ingest/batch"); hits < (n+metrics)/100 || hits > (n+metrics)/100+2 {
		t.Errorf("%d batch requests for %d entries of batch size 100", hits, n+metrics)
	}
	if p.Logs.Hits(killkrilltest.LogsPath) != 0 || p.Metrics.Hits(killkrilltest.MetricsPath) != 0 {
		t.Error("batch mode used the per-entry routes")
	}
	if l := p.Logs.Logs()[0]; l.Level != "warn" || l.Message != "m0" {
		t.Errorf("first batch log stored as %+v", l)
	}
}

// TestBatchBodyOnRealReceiverIsGarbled documents why entry mode is the
// default: the real log route takes a batch body as one entry.
func TestBatchBodyOnRealReceiverIsGarbled(t *testing.T) {
	p := newPair(t)
	cfg := pairConfig(p)
	cfg.Mode, cfg.BatchPath = ModeBatch, killkrilltest.LogsPath
	s := newShipper(t, cfg)
	logger := slog.New(NewHandler(s, nil))
	logger.Info("one")
	logger.Info("two")
	if err := s.Flush(ctxT(t, 5*time.Second)); err != nil {
		t.Fatal(err)
	}
	logs := p.Logs.Logs()
	if len(logs) != 1 || !strings.HasPrefix(logs[0].Message, `{"logs":[`) {
		t.Fatalf("want one garbled entry, got %+v", logs)
	}
	if !slices.ContainsFunc(s.Stats().Notes, func(n string) bool { return strings.Contains(n, "garbled") }) {
		t.Error("batch mode should carry a note about the real receivers")
	}
}

// TestShutdownDrains: Shutdown delivers what is queued, stops the goroutine,
// and later calls neither panic nor lose entries.
func TestShutdownDrains(t *testing.T) {
	p := newPair(t)
	cfg := pairConfig(p)
	fb := &syncBuffer{}
	cfg.Fallback = fb
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	logger := slog.New(NewHandler(s, nil))
	for i := range 300 {
		logger.Info("queued", "i", i)
	}
	_ = s.Gauge(MetricUsersActive, 12, nil)
	if err := s.Shutdown(ctxT(t, 10*time.Second)); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	select {
	case <-s.done:
	default:
		t.Fatal("shipping goroutine still running after Shutdown")
	}
	if got := len(p.Logs.Logs()); got != 300 {
		t.Errorf("stored %d of 300 after Shutdown", got)
	}
	if got := len(p.Metrics.Metrics()); got != 1 {
		t.Errorf("stored %d metrics, want 1", got)
	}
	if err := s.Shutdown(context.Background()); err != nil {
		t.Errorf("second Shutdown: %v", err)
	}
	if err := s.Flush(context.Background()); !errors.Is(err, ErrClosed) {
		t.Errorf("Flush after Shutdown = %v, want ErrClosed", err)
	}
	if err := s.Reconfigure(cfg); !errors.Is(err, ErrClosed) {
		t.Errorf("Reconfigure after Shutdown = %v, want ErrClosed", err)
	}
	logger.Error("after shutdown")
	if !strings.Contains(fb.String(), "after shutdown") {
		t.Error("an entry logged after Shutdown was lost instead of written locally")
	}
}

// TestReconfigureKeepsQueued: entries queued under one configuration go out
// under the next.
func TestReconfigureKeepsQueued(t *testing.T) {
	a, b := newPair(t), newPair(t)
	b.Logs.EnableBatch("")
	fb := &syncBuffer{}
	cfg := pairConfig(a)
	cfg.Fallback = fb
	s := newShipper(t, cfg)
	logger := slog.New(NewHandler(s, nil))
	for i := range 50 {
		logger.Info("before switch", "i", i)
	}

	// New receiver and new mode.
	cfgB := pairConfig(b)
	cfgB.Fallback, cfgB.Mode = fb, ModeBatch
	if err := s.Reconfigure(cfgB); err != nil {
		t.Fatal(err)
	}
	if err := s.Flush(ctxT(t, 5*time.Second)); err != nil {
		t.Fatal(err)
	}
	if len(a.Logs.Logs()) != 0 || len(b.Logs.Logs()) != 50 {
		t.Fatalf("after switch: A has %d, B has %d; want 0 and 50", len(a.Logs.Logs()), len(b.Logs.Logs()))
	}

	// An invalid configuration is refused and changes nothing.
	if err := s.Reconfigure(Config{Enabled: true, LogURL: "not a url"}); !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("invalid Reconfigure = %v", err)
	}
	if s.Config().Mode != ModeBatch {
		t.Fatal("invalid Reconfigure changed the settings")
	}

	// Disabled: queued entries go to the local fallback, none is lost.
	logger.Info("while disabled")
	cfgOff := cfgB
	cfgOff.Enabled = false
	if err := s.Reconfigure(cfgOff); err != nil {
		t.Fatal(err)
	}
	if err := s.Flush(ctxT(t, 5*time.Second)); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(fb.String(), "while disabled") || len(b.Logs.Logs()) != 50 {
		t.Errorf("disabled: fallback %q, receiver %d", fb.String(), len(b.Logs.Logs()))
	}
	if st := s.Stats(); st.Enabled || st.Healthy {
		t.Errorf("disabled stats = %+v", st)
	}

	// A shorter interval takes effect without an explicit Flush.
	cfgFast := cfgB
	cfgFast.FlushInterval = 10 * time.Millisecond
	if err := s.Reconfigure(cfgFast); err != nil {
		t.Fatal(err)
	}
	logger.Info("by the ticker")
	if err := b.Logs.WaitLogs(ctxT(t, 5*time.Second), 51); err != nil {
		t.Fatal(err)
	}
}

func TestReconfigureConcurrent(t *testing.T) {
	p := newPair(t)
	p.Logs.EnableBatch("")
	s := newShipper(t, pairConfig(p))
	logger := slog.New(NewHandler(s, nil))
	var wg sync.WaitGroup
	stop := make(chan struct{})
	wg.Go(func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			logger.Info("x", "i", i)
			_ = s.Counter(MetricCacheHits, 1, nil)
		}
	})
	for i := range 50 {
		cfg := pairConfig(p)
		cfg.Enabled = i%3 != 0
		if i%2 == 0 {
			cfg.Mode = ModeBatch
		}
		cfg.BufferSize = 100 + i
		cfg.FlushInterval = time.Duration(1+i%5) * time.Millisecond
		if err := s.Reconfigure(cfg); err != nil {
			t.Fatal(err)
		}
		_ = s.Stats()
	}
	close(stop)
	wg.Wait()
	if err := s.Shutdown(ctxT(t, 10*time.Second)); err != nil {
		t.Fatal(err)
	}
	st := s.Stats()
	if st.Queued != 0 {
		t.Errorf("%d entries left queued after Shutdown", st.Queued)
	}
}

func TestHealth(t *testing.T) {
	p := newPair(t)
	cfg := pairConfig(p)
	s := newShipper(t, cfg)
	ctx := ctxT(t, 10*time.Second)
	if err := s.Health(ctx); err != nil {
		t.Fatalf("healthy pair: %v", err)
	}
	p.Metrics.SetUnhealthy(true)
	err := s.Health(ctx)
	if !errors.Is(err, ErrUnhealthy) || !strings.Contains(err.Error(), "metrics receiver") || strings.Contains(err.Error(), "log receiver") {
		t.Errorf("metrics 503: %v", err)
	}
	p.Metrics.SetUnhealthy(false)
	p.Logs.SetDown(true)
	if err := s.Health(ctx); !errors.Is(err, ErrUnhealthy) || !strings.Contains(err.Error(), "log receiver unreachable") {
		t.Errorf("log receiver down: %v", err)
	}
	p.Logs.SetDown(false)

	// Batch mode asks only the receiver it sends to.
	cfg.Mode = ModeBatch
	p.Metrics.SetDown(true)
	if err := s.Reconfigure(cfg); err != nil {
		t.Fatal(err)
	}
	if err := s.Health(ctx); err != nil {
		t.Errorf("batch mode looked at the metrics receiver: %v", err)
	}
	cfg.Enabled = false
	_ = s.Reconfigure(cfg)
	if err := s.Health(ctx); !errors.Is(err, ErrDisabled) {
		t.Errorf("disabled: %v", err)
	}
}

func TestStatsJSONIsStable(t *testing.T) {
	s, _ := localShipper(t)
	b, err := json.Marshal(s.Stats())
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	_ = json.Unmarshal(b, &got)
	want := []string{"enabled", "mode", "healthy", "circuit_open", "sent", "failed", "fallback",
		"fallback_errors", "dropped", "queued", "last_error", "last_error_at", "last_success_at", "notes", "spool"}
	var keys []string
	for k := range got {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	slices.Sort(want)
	if !slices.Equal(keys, want) {
		t.Errorf("Stats JSON keys = %v\nwant %v", keys, want)
	}
	d, _ := got["dropped"].(map[string]any)
	for _, k := range []string{"debug", "info", "warn", "error", "metric"} {
		if _, ok := d[k]; !ok {
			t.Errorf("dropped lacks %q: %s", k, b)
		}
	}
	if got["notes"] == nil {
		t.Error("notes should be [] not null")
	}
}

// TestGRPCURLNeverDialled: the setting is accepted, explained in Notes, and
// nothing connects to it.
func TestGRPCURLNeverDialled(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	p := newPair(t)
	cfg := pairConfig(p)
	cfg.GRPCURL = ln.Addr().String()
	s := newShipper(t, cfg)
	slog.New(NewHandler(s, nil)).Info("x")
	_ = s.Counter(MetricCacheMisses, 1, nil)
	if err := s.Flush(ctxT(t, 5*time.Second)); err != nil {
		t.Fatal(err)
	}
	_ = s.Health(ctxT(t, 5*time.Second))
	if !slices.ContainsFunc(s.Notes(), func(n string) bool { return strings.Contains(n, "KILLKRILL_GRPC_URL") }) {
		t.Errorf("notes = %q", s.Notes())
	}
	// Any connection attempt would be waiting in the backlog by now.
	_ = ln.(*net.TCPListener).SetDeadline(time.Now())
	if c, err := ln.Accept(); err == nil {
		c.Close()
		t.Error("something connected to the gRPC URL")
	}
}

// TestClientCredentials: sent as headers, never shown.
func TestClientCredentials(t *testing.T) {
	p := newPair(t)
	cfg := pairConfig(p)
	cfg.ClientID, cfg.ClientSecret = "client_id", NewSecret("very-secret-value")
	cfg.LogURL = strings.Replace(cfg.LogURL, "http://", "http://admin:pw-in-url@", 1)
	s := newShipper(t, cfg)
	slog.New(NewHandler(s, nil)).Info("x")
	if err := s.Flush(ctxT(t, 5*time.Second)); err != nil {
		t.Fatal(err)
	}
	h := p.Logs.Logs()[0].Header
	if h.Get("X-Client-ID") != "client_id" || h.Get("X-Client-Secret") != "very-secret-value" {
		t.Error("client credentials not sent as X-Client-ID / X-Client-Secret")
	}
	// A failure's error text must not carry the secret or the URL password.
	p.Logs.SetDown(true)
	slog.New(NewHandler(s, nil)).Info("y")
	_ = s.Flush(ctxT(t, 5*time.Second))
	st := s.Stats()
	out, _ := json.Marshal(st)
	if st.LastError == "" || strings.Contains(string(out), "very-secret-value") || strings.Contains(string(out), "pw-in-url") {
		t.Errorf("stats leak or miss the error: %s", out)
	}
	if c := fmt.Sprintf("%+v %#v", s.Config(), s.Config()); strings.Contains(c, "very-secret-value") {
		t.Errorf("Config() printed the secret: %s", c)
	}
}

func TestMetricLabelsAreCopied(t *testing.T) {
	p := newPair(t)
	s := newShipper(t, pairConfig(p))
	labels := map[string]string{"feature": "ai", "api_key": "k-1", "bad.label": "v"}
	_ = s.Counter(MetricFeaturesUsed, 1, labels)
	labels["feature"] = "changed"
	if err := s.Flush(ctxT(t, 5*time.Second)); err != nil {
		t.Fatal(err)
	}
	m := p.Metrics.Metrics()[0]
	if m.Name != "features_used" || m.Labels["feature"] != "ai" || m.Labels["api_key"] != Masked || m.Labels["bad_label"] != "v" {
		t.Errorf("metric stored as %+v", m)
	}
}

func TestFallbackFile(t *testing.T) {
	dir := t.TempDir()
	first, second := filepath.Join(dir, "a.jsonl"), filepath.Join(dir, "b.jsonl")
	s, err := New(Config{FallbackFile: first, FlushInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	logger := slog.New(NewHandler(s, nil))
	logger.Info("to a")
	_ = s.Gauge(MetricTeamsTotal, 3, map[string]string{"region": "eu"})
	if err := s.Flush(ctxT(t, 5*time.Second)); err != nil {
		t.Fatal(err)
	}
	if err := s.Reconfigure(Config{FallbackFile: second, FlushInterval: time.Hour}); err != nil {
		t.Fatal(err)
	}
	logger.Info("to b")
	if err := s.Shutdown(ctxT(t, 5*time.Second)); err != nil {
		t.Fatal(err)
	}
	a, _ := os.ReadFile(first)
	b, _ := os.ReadFile(second)
	lines := strings.Split(strings.TrimSpace(string(a)), "\n")
	if len(lines) != 2 || !strings.Contains(lines[0], `"message":"to a"`) || !strings.Contains(string(b), `"message":"to b"`) {
		t.Fatalf("a = %s\nb = %s", a, b)
	}
	var metric map[string]any
	if err := json.Unmarshal([]byte(lines[1]), &metric); err != nil {
		t.Fatal(err)
	}
	if metric["event.kind"] != "metric" || metric["labels.metric_name"] != MetricTeamsTotal || metric["labels.metric_value"] != "3" ||
		metric["labels.region"] != "eu" || metric["ecs.version"] != ECSVersion {
		t.Errorf("metric fallback line = %s", lines[1])
	}
	if _, err := New(Config{FallbackFile: filepath.Join(dir, "missing", "x.jsonl")}); err == nil {
		t.Error("New with an unwritable fallback file should fail")
	}
}

func TestNilHandlerShipper(t *testing.T) {
	console := &syncBuffer{}
	l := slog.New(NewHandler(nil, &HandlerOptions{Next: slog.NewTextHandler(console, nil)}))
	l.Info("only console", "token", "abc")
	if !strings.Contains(console.String(), "only console") || strings.Contains(console.String(), "abc") {
		t.Errorf("console = %q", console.String())
	}
	if slog.New(NewHandler(nil, nil)).Enabled(context.Background(), slog.LevelError) {
		t.Error("a handler with no shipper and no Next should be disabled")
	}
}
