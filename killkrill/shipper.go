package killkrill

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

var (
	// ErrClosed is returned by Flush and the metric methods after Shutdown.
	ErrClosed = errors.New("killkrill shipper is shut down")
	// ErrDisabled is returned by Health when shipping is switched off.
	ErrDisabled = errors.New("killkrill is disabled")
	// ErrUnhealthy is wrapped by Health's errors.
	ErrUnhealthy = errors.New("killkrill receiver unhealthy")
	// ErrUndelivered is wrapped by Flush when entries went to the local
	// fallback instead of the receiver.
	ErrUndelivered = errors.New("killkrill entries not delivered")
)

// Shipper queues log entries and metrics in one bounded buffer and sends
// them from one goroutine. All methods are safe for concurrent use. Callers
// never wait for the network: a full buffer drops entries (the oldest below
// error level first) and counts the drops.
type Shipper struct {
	cur   atomic.Pointer[settings]
	buf   *buffer
	fb    fallback
	stats counters

	client    *http.Client // used when Config.HTTPClient is nil
	transport *http.Transport

	logCircuit    circuit
	metricCircuit circuit
	workers       sync.Pool // *worker

	reconfMu sync.Mutex // serialises Reconfigure

	// tap, when set, sees each record the handler is given (SetLogTap).
	tap atomic.Pointer[func(context.Context, *slog.Record)]

	wake     chan struct{}
	reconf   chan struct{}
	flushReq chan *flushRequest
	stop     chan struct{}
	done     chan struct{}
	stopOnce sync.Once

	// sendCtx is cancelled when Shutdown's context expires, which cuts
	// requests and retries short so the last entries go to the fallback.
	sendCtx    context.Context
	cancelSend context.CancelFunc

	batch []entry // owned by the shipping goroutine

	// spool is the on-disk queue of undelivered entries (nil until a
	// Config names SpoolDir). Only the shipping goroutine writes it.
	spool   atomic.Pointer[spool]
	spoolW  worker // the shipping goroutine's encoder for spool lines
	spoolLn []byte
}

// settings is one immutable view of the configuration, swapped atomically.
type settings struct {
	cfg           Config // defaults applied
	logsURL       string
	metricsURL    string
	batchURL      string
	logsHealth    string
	metricsHealth string
	client        *http.Client
	notes         []string
}

type flushRequest struct {
	done   chan struct{}
	failed int
}

// New validates cfg, opens the fallback file if one is named, and starts the
// shipping goroutine. Stop it with Shutdown.
func New(cfg Config) (*Shipper, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	// Keep enough idle connections for every worker, so entry mode reuses
	// them instead of opening one per POST.
	tr.MaxIdleConnsPerHost = 32
	tr.MaxIdleConns = 64
	s := &Shipper{
		transport: tr,
		client:    &http.Client{Transport: tr},
		wake:      make(chan struct{}, 1),
		reconf:    make(chan struct{}, 1),
		flushReq:  make(chan *flushRequest),
		stop:      make(chan struct{}),
		done:      make(chan struct{}),
	}
	s.workers.New = func() any { return new(worker) }
	st := s.newSettings(cfg)
	if err := s.setFallback(st.cfg); err != nil {
		return nil, err
	}
	s.buf = newBuffer(st.cfg.BufferSize)
	if err := s.openSpool(st.cfg); err != nil {
		s.fb.close()
		return nil, err
	}
	s.cur.Store(st)
	s.sendCtx, s.cancelSend = context.WithCancel(context.Background())
	go s.run(st.cfg.FlushInterval)
	return s, nil
}

func (s *Shipper) newSettings(cfg Config) *settings {
	cfg = cfg.withDefaults()
	st := &settings{
		cfg:           cfg,
		logsURL:       joinURL(cfg.LogURL, LogsPath),
		metricsURL:    joinURL(cfg.MetricsURL, MetricsPath),
		batchURL:      joinURL(cfg.LogURL, cfg.BatchPath),
		logsHealth:    joinURL(cfg.LogURL, HealthPath),
		metricsHealth: joinURL(cfg.MetricsURL, HealthPath),
		client:        cfg.HTTPClient,
	}
	if st.client == nil {
		st.client = s.client
	}
	if cfg.GRPCURL != "" {
		st.notes = append(st.notes, "KILLKRILL_GRPC_URL is accepted but not used: the KillKrill receivers register no ingest RPC, so logs and metrics go over HTTP")
	}
	if cfg.ClientID != "" || !cfg.ClientSecret.IsZero() {
		st.notes = append(st.notes, "client credentials are sent as X-Client-ID and X-Client-Secret, but the real KillKrill receivers do not check them, so bad credentials cannot be detected")
	}
	if cfg.Mode == ModeBatch {
		st.notes = append(st.notes, "batch mode: the real KillKrill receivers store a batch body as one garbled entry; use it only with a receiver that accepts batches")
	}
	return st
}

// setFallback points the fallback at cfg's file or writer.
func (s *Shipper) setFallback(cfg Config) error {
	if cfg.FallbackFile != "" {
		if s.fb.ownsPath(cfg.FallbackFile) {
			return nil
		}
		f, err := os.OpenFile(cfg.FallbackFile, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
		if err != nil {
			return fmt.Errorf("open killkrill fallback file: %w", err)
		}
		s.fb.set(f, f, cfg.FallbackFile)
		return nil
	}
	w := cfg.Fallback
	if w == nil {
		w = os.Stderr
	}
	s.fb.set(w, nil, "")
	return nil
}

// Reconfigure applies cfg at run time: enabled switch, URLs, mode, interval,
// sizes, fallback. Queued entries are kept and go out under the new settings;
// a flush already under way finishes with the old ones. An invalid cfg is
// rejected and the old settings stay.
func (s *Shipper) Reconfigure(cfg Config) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	s.reconfMu.Lock()
	defer s.reconfMu.Unlock()
	select {
	case <-s.stop:
		return ErrClosed
	default:
	}
	old := s.cur.Load()
	st := s.newSettings(cfg)
	if err := s.setFallback(st.cfg); err != nil {
		return err
	}
	s.buf.setLimit(st.cfg.BufferSize)
	if err := s.openSpool(st.cfg); err != nil {
		return err
	}
	// A new target starts with a clean record; the same target keeps its
	// open circuit, which only a successful probe may close.
	if st.logsURL != old.logsURL || st.batchURL != old.batchURL || st.cfg.Mode != old.cfg.Mode {
		s.logCircuit.reset()
		s.stats.lastFailed.Store(false)
	}
	if st.metricsURL != old.metricsURL || st.cfg.Mode != old.cfg.Mode {
		s.metricCircuit.reset()
		s.stats.lastFailed.Store(false)
	}
	s.cur.Store(st)
	select {
	case s.reconf <- struct{}{}:
	default:
	}
	return nil
}

// SetLogTap gives fn every record a handler on this Shipper is given, on
// the caller's goroutine, before it is queued: fn may add attributes (a
// trace id) and pass the record on elsewhere (an OpenTelemetry exporter).
// fn must be quick and must not keep r. nil removes it; with none set a
// record costs one atomic load more.
func (s *Shipper) SetLogTap(fn func(ctx context.Context, r *slog.Record)) {
	if fn == nil {
		s.tap.Store(nil)
		return
	}
	s.tap.Store(&fn)
}

// Config returns the settings in force, with defaults filled in.
func (s *Shipper) Config() Config { return s.cur.Load().cfg }

// enqueue queues an entry built by the caller (metrics).
func (s *Shipper) enqueue(e *entry) {
	n, ok := s.buf.add(e)
	s.queued(n, ok, func() *entry { return e })
}

// queued finishes an enqueue: after Shutdown there is no goroutine left, so
// the entry is written locally right away rather than lost; otherwise the
// goroutine is woken when a batch is ready, or at once while disabled so
// local output is not held back.
func (s *Shipper) queued(n int, ok bool, late func() *entry) {
	if !ok {
		s.writeFallback(s.cur.Load(), late())
		return
	}
	st := s.cur.Load()
	if n >= st.cfg.BatchSize || !st.cfg.Enabled {
		select {
		case s.wake <- struct{}{}:
		default:
		}
	}
}

func (s *Shipper) run(interval time.Duration) {
	defer close(s.done)
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	for {
		select {
		case <-s.stop:
			s.buf.close()
			s.flush(true)
			if sp := s.spool.Load(); sp != nil {
				sp.close()
			}
			s.fb.close()
			s.transport.CloseIdleConnections()
			return
		case <-ticker.C:
			s.flush(true)
		case <-s.wake:
			s.flush(false)
		case req := <-s.flushReq:
			req.failed = s.flush(true)
			close(req.done)
		case <-s.reconf:
			if d := s.cur.Load().cfg.FlushInterval; d != interval {
				interval = d
				ticker.Reset(interval)
			}
		}
	}
}

// flush sends what is queued now, at most one buffer's worth, and returns
// the number of entries that could not be delivered. probe lets it first ask
// a tripped receiver whether it is back.
func (s *Shipper) flush(probe bool) (failed int) {
	st := s.cur.Load()
	if st.cfg.Enabled && probe {
		s.probeCircuits(st)
	}
	sp := s.spool.Load()
	spooling := st.cfg.Enabled && sp != nil
	if spooling && sp.len() > 0 {
		s.replaySpool(st, sp)
	}
	for n := s.buf.len(); n > 0; {
		s.batch = s.buf.take(s.batch[:0], min(n, st.cfg.BatchSize))
		if len(s.batch) == 0 {
			break
		}
		n -= len(s.batch)
		if spooling && sp.len() > 0 {
			// Older entries still wait on disk: these go behind them, so
			// the receiver gets everything in the order it was logged.
			for i := range s.batch {
				s.batch[i].spool = true
			}
			failed += len(s.batch)
		} else {
			failed += s.deliver(st, s.batch)
		}
		if spooling {
			s.spoolFailed(st, sp, s.batch)
		}
		clear(s.batch)
	}
	return failed
}

func (s *Shipper) deliver(st *settings, batch []entry) (failed int) {
	if !st.cfg.Enabled {
		w := s.getWorker()
		defer s.workers.Put(w)
		for i := range batch {
			s.writeFallbackWith(w, st, &batch[i])
		}
		return 0
	}
	if st.cfg.Mode == ModeBatch {
		return s.deliverBatch(st, batch)
	}
	return s.deliverEntries(st, batch)
}

// Flush sends everything queued when it is called and waits for the outcome.
// It returns ErrUndelivered (wrapped) if some entries went to the local
// fallback instead, ctx's error if ctx ends first (the flush still completes
// in the background), or ErrClosed after Shutdown.
func (s *Shipper) Flush(ctx context.Context) error {
	if s == nil {
		return ErrClosed
	}
	req := &flushRequest{done: make(chan struct{})}
	select {
	case s.flushReq <- req:
	case <-s.done:
		return ErrClosed
	case <-ctx.Done():
		return fmt.Errorf("killkrill flush: %w", ctx.Err())
	}
	select {
	case <-req.done:
	case <-ctx.Done():
		return fmt.Errorf("killkrill flush: %w", ctx.Err())
	}
	if req.failed > 0 {
		return fmt.Errorf("killkrill flush: %w: %d written to the local fallback", ErrUndelivered, req.failed)
	}
	return nil
}

// Shutdown stops accepting entries into the buffer, sends what is queued and
// stops the shipping goroutine. If ctx ends first, requests in flight are
// cancelled, the rest goes to the local fallback, and ctx's error is
// returned once the goroutine has stopped. Entries logged after Shutdown are
// written to the fallback directly. Calling Shutdown again is harmless.
func (s *Shipper) Shutdown(ctx context.Context) error {
	if s == nil {
		return nil
	}
	s.stopOnce.Do(func() { close(s.stop) })
	select {
	case <-s.done:
		s.cancelSend()
		return nil
	case <-ctx.Done():
		s.cancelSend()
		<-s.done
		return fmt.Errorf("killkrill shutdown: %w", ctx.Err())
	}
}

// Health asks each receiver in use for GET /healthz: 200 is healthy, any
// other answer or no answer is not. It returns ErrDisabled when shipping is
// off.
func (s *Shipper) Health(ctx context.Context) error {
	st := s.cur.Load()
	if !st.cfg.Enabled {
		return ErrDisabled
	}
	var errs []error
	if err := s.checkHealth(ctx, st, "log receiver", st.logsHealth); err != nil {
		errs = append(errs, err)
	}
	if st.cfg.Mode == ModeEntry {
		if err := s.checkHealth(ctx, st, "metrics receiver", st.metricsHealth); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Dropped counts entries dropped from a full buffer, by level class.
type Dropped struct {
	Debug  uint64 `json:"debug"`
	Info   uint64 `json:"info"`
	Warn   uint64 `json:"warn"`
	Error  uint64 `json:"error"`
	Metric uint64 `json:"metric"`
}

// Total is the sum of all classes.
func (d Dropped) Total() uint64 { return d.Debug + d.Info + d.Warn + d.Error + d.Metric }

// Stats is a snapshot of the Shipper's state. Its JSON keys are stable;
// times are null until the event first happens.
type Stats struct {
	Enabled bool `json:"enabled"`
	Mode    Mode `json:"mode"`
	// Healthy is true when enabled, no receiver's circuit is open and the
	// last delivery attempt succeeded (or none was made yet).
	Healthy     bool `json:"healthy"`
	CircuitOpen bool `json:"circuit_open"`
	// Sent entries were accepted by a receiver.
	Sent uint64 `json:"sent"`
	// Failed entries could not be delivered and went to the fallback.
	Failed uint64 `json:"failed"`
	// Fallback entries were written locally: failed ones, and every entry
	// while disabled.
	Fallback       uint64     `json:"fallback"`
	FallbackErrors uint64     `json:"fallback_errors"`
	Dropped        Dropped    `json:"dropped"`
	Queued         int        `json:"queued"`
	LastError      string     `json:"last_error"`
	LastErrorAt    *time.Time `json:"last_error_at"`
	LastSuccessAt  *time.Time `json:"last_success_at"`
	// Notes explain settings that are accepted but have no effect on the real
	// receivers, such as KILLKRILL_GRPC_URL.
	Notes []string `json:"notes"`
	// Spool is the on-disk queue of entries waiting for the receiver.
	Spool SpoolStats `json:"spool"`
}

// Stats returns a snapshot of the counters and state.
func (s *Shipper) Stats() Stats {
	st := s.cur.Load()
	d, queued := s.buf.droppedCounts()
	out := Stats{
		Enabled:        st.cfg.Enabled,
		Mode:           st.cfg.Mode,
		CircuitOpen:    s.logCircuit.isOpen() || s.metricCircuit.isOpen(),
		Sent:           s.stats.sent.Load(),
		Failed:         s.stats.failed.Load(),
		Fallback:       s.stats.fallback.Load(),
		FallbackErrors: s.stats.fallbackErrors.Load(),
		Dropped: Dropped{
			Debug: d[bucketDebug], Info: d[bucketInfo], Warn: d[bucketWarn],
			Error: d[bucketError], Metric: d[bucketMetric],
		},
		Queued: queued,
		Notes:  append([]string{}, st.notes...),
		Spool:  s.spool.Load().stats(),
	}
	out.LastError, out.LastErrorAt, out.LastSuccessAt = s.stats.last()
	out.Healthy = out.Enabled && !out.CircuitOpen && !s.stats.lastFailed.Load()
	return out
}

// Notes returns the same notes as Stats().Notes.
func (s *Shipper) Notes() []string { return append([]string{}, s.cur.Load().notes...) }

// counters are the Stats numbers the shipping side updates.
type counters struct {
	sent, failed, fallback, fallbackErrors atomic.Uint64
	lastFailed                             atomic.Bool
	lastSuccess                            atomic.Int64 // unix nanoseconds

	mu        sync.Mutex
	lastErr   string
	lastErrAt time.Time
}

func (c *counters) success(n int) {
	c.sent.Add(uint64(n))
	c.lastFailed.Store(false)
	c.lastSuccess.Store(time.Now().UnixNano())
}

func (c *counters) failure(err error) {
	c.lastFailed.Store(true)
	c.mu.Lock()
	c.lastErr = err.Error()
	c.lastErrAt = time.Now()
	c.mu.Unlock()
}

func (c *counters) last() (msg string, errAt, okAt *time.Time) {
	c.mu.Lock()
	msg = c.lastErr
	if !c.lastErrAt.IsZero() {
		t := c.lastErrAt
		errAt = &t
	}
	c.mu.Unlock()
	if ns := c.lastSuccess.Load(); ns != 0 {
		t := time.Unix(0, ns)
		okAt = &t
	}
	return msg, errAt, okAt
}

// fallback serialises writes to the local writer; each entry is one Write
// of one line, so lines never interleave.
type fallback struct {
	mu     sync.Mutex
	w      io.Writer
	owned  *os.File
	path   string
	closed bool
}

func (f *fallback) set(w io.Writer, owned *os.File, path string) {
	f.mu.Lock()
	if f.closed {
		// Shutdown won the race: keep nothing open.
		f.mu.Unlock()
		if owned != nil {
			_ = owned.Close()
		}
		return
	}
	old := f.owned
	f.w, f.owned, f.path = w, owned, path
	f.mu.Unlock()
	if old != nil && old != owned {
		_ = old.Close()
	}
}

func (f *fallback) ownsPath(path string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.owned != nil && f.path == path
}

func (f *fallback) write(line []byte) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.w == nil {
		return errors.New("killkrill fallback is closed")
	}
	_, err := f.w.Write(line)
	return err
}

// close closes a file the Shipper opened and points the fallback at stderr,
// where entries logged after Shutdown still land.
func (f *fallback) close() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.closed = true
	if f.owned != nil {
		_ = f.owned.Close()
		f.owned, f.path, f.w = nil, "", os.Stderr
	}
}
