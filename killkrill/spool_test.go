package killkrill

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rookery/rookery/killkrill/killkrilltest"
)

// spoolOutage is how long the receiver stays away in
// TestSpoolOutageWithRestart: 2 s by default so CI stays quick, 60 s as the
// issue describes with
//
//	KILLKRILL_SPOOL_OUTAGE=60s go test -run SpoolOutage -v ./killkrill/
func spoolOutage(t *testing.T) time.Duration {
	d := 2 * time.Second
	if v := os.Getenv("KILLKRILL_SPOOL_OUTAGE"); v != "" {
		var err error
		if d, err = time.ParseDuration(v); err != nil || d <= 0 {
			t.Fatalf("KILLKRILL_SPOOL_OUTAGE=%q: want a positive duration", v)
		}
	}
	return d
}

func spoolConfig(p *killkrilltest.Pair, dir string) Config {
	cfg := pairConfig(p)
	cfg.SpoolDir = dir
	cfg.FlushInterval = 50 * time.Millisecond
	cfg.MaxRetries = -1
	cfg.CircuitThreshold = 1
	return cfg
}

// logSteadily logs "m-<n>" messages, 5 every 10 ms, until stop closes,
// numbering on from next; it returns the next number.
func logSteadily(logger *slog.Logger, next int, stop <-chan struct{}) int {
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return next
		case <-t.C:
		}
		for range 5 {
			logger.Info(fmt.Sprintf("m-%07d", next), "request_id", fmt.Sprintf("req-%07d", next))
			next++
		}
	}
}

// heapPeak samples the heap until stop closes and returns the peak.
func heapPeak(stop <-chan struct{}) func() uint64 {
	var peak atomic.Uint64
	var wg sync.WaitGroup
	wg.Go(func() {
		var ms runtime.MemStats
		t := time.NewTicker(50 * time.Millisecond)
		defer t.Stop()
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapAlloc > peak.Load() {
				peak.Store(ms.HeapAlloc)
			}
			select {
			case <-stop:
				return
			case <-t.C:
			}
		}
	})
	return func() uint64 { wg.Wait(); return peak.Load() }
}

// TestSpoolOutageWithRestart: the receiver goes away while the application
// logs constantly; half-way through the outage the shipper is shut down and
// a new one started on the same spool (a restart). When the receiver comes
// back, every entry logged is delivered exactly once and in the order it
// was logged, and the heap stays bounded meanwhile.
func TestSpoolOutageWithRestart(t *testing.T) {
	outage := spoolOutage(t)
	p := newPair(t)
	dir := t.TempDir()
	cfg := spoolConfig(p, dir)
	// One request in flight: live entries then arrive in order too, so the
	// whole run can be compared, not only what went through the spool
	// (which is always replayed one at a time, in order).
	cfg.Concurrency = 1
	fallback := &syncBuffer{}
	cfg.Fallback = fallback

	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	base := ms.HeapAlloc
	stopHeap := make(chan struct{})
	peak := heapPeak(stopHeap)

	// Some entries go out while the receiver is up.
	s1, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	logger := slog.New(NewHandler(s1, nil))
	next := 0
	for range 20 {
		logger.Info(fmt.Sprintf("m-%07d", next), "request_id", fmt.Sprintf("req-%07d", next))
		next++
	}
	if err := s1.Flush(ctxT(t, 10*time.Second)); err != nil {
		t.Fatalf("flush before the outage: %v", err)
	}

	p.SetDown(true)
	phase := func(s *Shipper, d time.Duration) {
		stop := make(chan struct{})
		time.AfterFunc(d, func() { close(stop) })
		next = logSteadily(slog.New(NewHandler(s, nil)), next, stop)
	}
	phase(s1, outage/2)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s1.Shutdown(ctx); err != nil {
		t.Fatalf("shutdown during the outage: %v", err)
	}
	if got := s1.Stats().Spool.Entries; got == 0 {
		t.Fatal("nothing spooled during the outage")
	}

	s2, err := New(cfg)
	if err != nil {
		t.Fatalf("restart on the same spool: %v", err)
	}
	t.Cleanup(func() { _ = s2.Shutdown(context.Background()) })
	if got := s2.Stats().Spool.Entries; got == 0 {
		t.Fatal("the restarted shipper sees an empty spool")
	}
	phase(s2, outage-outage/2)
	waiting := s2.Stats().Spool
	if waiting.Oldest == nil || waiting.OldestAgeSecond <= 0 {
		t.Errorf("spool stats name no oldest entry: %+v", waiting)
	}

	p.SetDown(false)
	// Logging goes on while the spool drains: these must come after it.
	stop := make(chan struct{})
	time.AfterFunc(300*time.Millisecond, func() { close(stop) })
	next = logSteadily(slog.New(NewHandler(s2, nil)), next, stop)

	deadline := ctxT(t, 5*time.Minute)
	if err := p.Logs.WaitLogs(deadline, next); err != nil {
		t.Fatalf("after the outage: %v (spool %+v, stats %+v)", err, s2.Stats().Spool, s2.Stats())
	}
	if err := s2.Flush(ctxT(t, 30*time.Second)); err != nil {
		t.Fatalf("final flush: %v", err)
	}
	close(stopHeap)
	grow := int64(peak()) - int64(base)

	logs := p.Logs.Logs()
	if len(logs) != next {
		t.Fatalf("receiver holds %d entries, %d were logged", len(logs), next)
	}
	// Every entry exactly once, all in the order logged.
	seen := make(map[string]bool, next)
	last := -1
	for _, l := range logs {
		if seen[l.Message] {
			t.Fatalf("%s delivered twice", l.Message)
		}
		seen[l.Message] = true
		var n int
		if _, err := fmt.Sscanf(l.Message, "m-%d", &n); err != nil {
			t.Fatalf("unexpected message %q", l.Message)
		}
		if !strings.Contains(string(l.Raw), fmt.Sprintf(`"http.request.id":"req-%07d"`, n)) {
			t.Fatalf("entry %s lost its request id: %s", l.Message, l.Raw)
		}
		if n < last {
			t.Fatalf("%s arrived after m-%07d: out of order", l.Message, last)
		}
		last = n
	}
	for i := range next {
		if !seen[fmt.Sprintf("m-%07d", i)] {
			t.Fatalf("m-%07d never delivered", i)
		}
	}
	st := s2.Stats()
	if st.Spool.Entries != 0 || st.Spool.Bytes != 0 {
		t.Errorf("spool not empty after the replay: %+v", st.Spool)
	}
	if fallback.String() != "" {
		t.Errorf("entries went to the local fallback although the spool could take them:\n%.500s", fallback.String())
	}
	t.Logf("outage %v with a restart: %d entries logged, all delivered once and in order; heap +%.1f MiB at peak", outage, next, float64(grow)/(1<<20))
	if grow > 64<<20 {
		t.Errorf("heap grew by %.1f MiB; the spool should keep it flat", float64(grow)/(1<<20))
	}
}

// TestSpoolFullDropsNonErrorsFirst: a spool far smaller than the outage
// keeps every error entry, drops the oldest others, counts them, and
// delivers what it kept in order after a restart.
func TestSpoolFullDropsNonErrorsFirst(t *testing.T) {
	p := newPair(t)
	p.SetDown(true)
	dir := t.TempDir()
	cfg := spoolConfig(p, dir)
	cfg.SpoolMaxBytes = 48 << 10
	s1, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	logger := slog.New(NewHandler(s1, nil))
	const total, every = 3000, 60
	for i := range total {
		if i%every == 0 {
			logger.Error(fmt.Sprintf("e-%05d", i))
		} else {
			logger.Info(fmt.Sprintf("i-%05d", i), "padding", strings.Repeat("x", 40))
		}
		if i%200 == 0 {
			_ = s1.Flush(ctxT(t, 10*time.Second))
		}
	}
	_ = s1.Flush(ctxT(t, 10*time.Second))
	if err := s1.Shutdown(ctxT(t, 10*time.Second)); err != nil {
		t.Fatal(err)
	}
	st := s1.Stats().Spool
	if st.Bytes > cfg.SpoolMaxBytes {
		t.Errorf("spool holds %d bytes, cap %d", st.Bytes, cfg.SpoolMaxBytes)
	}
	if st.Dropped.Error != 0 {
		t.Errorf("%d error entries dropped while others were left", st.Dropped.Error)
	}
	if st.Dropped.Info == 0 {
		t.Fatalf("a full spool dropped nothing: %+v", st)
	}
	kept := st.Entries
	if uint64(kept)+st.Dropped.Total() != total {
		t.Errorf("kept %d + dropped %d != %d logged", kept, st.Dropped.Total(), total)
	}

	p.SetDown(false)
	s2 := newShipper(t, cfg)
	if err := s2.Flush(ctxT(t, time.Minute)); err != nil {
		t.Fatalf("replay: %v", err)
	}
	logs := p.Logs.Logs()
	if len(logs) != kept {
		t.Fatalf("receiver got %d entries, spool kept %d", len(logs), kept)
	}
	errs, prev := 0, -1
	for _, l := range logs {
		var n int
		if _, err := fmt.Sscanf(l.Message[2:], "%d", &n); err != nil || n <= prev {
			t.Fatalf("%s after number %d: out of order", l.Message, prev)
		}
		prev = n
		if strings.HasPrefix(l.Message, "e-") {
			errs++
		}
	}
	if errs != total/every {
		t.Errorf("%d error entries delivered, %d logged", errs, total/every)
	}
	t.Logf("spool cap %d KiB: kept %d, dropped %+v", cfg.SpoolMaxBytes>>10, kept, st.Dropped)
}

// TestSpoolRefusedEntryGoesLocal: an entry the receiver refuses with a 4xx
// is not spooled (it would never be accepted) but written locally.
func TestSpoolRefusedEntryGoesLocal(t *testing.T) {
	p := newPair(t)
	p.Logs.SetFailStatus(400)
	cfg := spoolConfig(p, t.TempDir())
	fb := &syncBuffer{}
	cfg.Fallback = fb
	s := newShipper(t, cfg)
	slog.New(NewHandler(s, nil)).Info("refused")
	_ = s.Flush(ctxT(t, 10*time.Second))
	if n := s.Stats().Spool.Entries; n != 0 {
		t.Errorf("a refused entry was spooled (%d entries)", n)
	}
	if !strings.Contains(fb.String(), `"refused"`) {
		t.Errorf("the refused entry is not in the local fallback: %q", fb.String())
	}
}

// TestSpoolUnwritableFallsBackLocally: when the spool cannot be written the
// entry still reaches the local fallback, the last resort.
func TestSpoolUnwritableFallsBackLocally(t *testing.T) {
	p := newPair(t)
	p.SetDown(true)
	dir := t.TempDir()
	cfg := spoolConfig(p, dir)
	fb := &syncBuffer{}
	cfg.Fallback = fb
	s := newShipper(t, cfg)
	// A directory where the first segment file should go: the spool
	// cannot create it, whoever runs the test.
	if err := os.Mkdir(s.spool.Load().segPath(1), 0o700); err != nil {
		t.Fatal(err)
	}
	slog.New(NewHandler(s, nil)).Info("kept locally")
	_ = s.Flush(ctxT(t, 10*time.Second))
	if !strings.Contains(fb.String(), "kept locally") {
		t.Errorf("entry lost when the spool could not be written: %q", fb.String())
	}
	if s.Stats().Spool.Errors == 0 {
		t.Error("spool write error not counted")
	}
}
