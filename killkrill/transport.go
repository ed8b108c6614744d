package killkrill

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rookery/rookery/backoff"
)

const (
	userAgent = "rookery-killkrill/1"
	// maxBackoff caps the doubling wait between retries.
	maxBackoff = 5 * time.Second
	// errorBodyLimit is how much of a failed answer is read for its message.
	errorBodyLimit = 1 << 10
	// drainLimit is how much of an answer is read so its connection can be
	// reused; anything longer costs a new connection, not memory.
	drainLimit = 64 << 10
)

// errCircuitOpen marks entries sent straight to the fallback because their
// receiver failed too often in a row.
var errCircuitOpen = errors.New("receiver failed repeatedly; writing locally until its /healthz answers 200")

// StatusError is a receiver's non-2xx answer. Message is the receiver's
// "error" field when it sent one.
type StatusError struct {
	Receiver string
	Code     int
	Message  string
}

func (e *StatusError) Error() string {
	if e.Message != "" {
		return fmt.Sprintf("%s answered %d: %s", e.Receiver, e.Code, e.Message)
	}
	return fmt.Sprintf("%s answered %d", e.Receiver, e.Code)
}

// worker holds one delivery goroutine's reusable buffers.
type worker struct {
	enc  encoder
	body []byte
	line []byte
}

func (s *Shipper) getWorker() *worker { return s.workers.Get().(*worker) }

// circuit counts consecutive failed deliveries to one receiver. Once open,
// entries for that receiver go straight to the fallback until a health probe
// succeeds.
type circuit struct {
	mu    sync.Mutex
	fails int
	open  bool
}

func (c *circuit) allow() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return !c.open
}

func (c *circuit) isOpen() bool { return !c.allow() }

func (c *circuit) success() {
	c.mu.Lock()
	c.fails = 0
	c.mu.Unlock()
}

func (c *circuit) failure(threshold int) {
	c.mu.Lock()
	c.fails++
	if c.fails >= threshold {
		c.open = true
	}
	c.mu.Unlock()
}

func (c *circuit) reset() {
	c.mu.Lock()
	c.fails, c.open = 0, false
	c.mu.Unlock()
}

func (s *Shipper) probeCircuits(st *settings) {
	if s.logCircuit.isOpen() && s.checkHealth(s.sendCtx, st, "log receiver", st.logsHealth) == nil {
		s.logCircuit.reset()
	}
	if st.cfg.Mode == ModeEntry && s.metricCircuit.isOpen() &&
		s.checkHealth(s.sendCtx, st, "metrics receiver", st.metricsHealth) == nil {
		s.metricCircuit.reset()
	}
}

// deliverEntries posts each entry on its own, from at most Concurrency
// goroutines that live only as long as this batch.
func (s *Shipper) deliverEntries(st *settings, batch []entry) int {
	var next, failed atomic.Int64
	var wg sync.WaitGroup
	for range min(st.cfg.Concurrency, len(batch)) {
		wg.Go(func() {
			w := s.getWorker()
			defer s.workers.Put(w)
			for {
				i := int(next.Add(1)) - 1
				if i >= len(batch) {
					return
				}
				if !s.deliverOne(st, w, &batch[i]) {
					failed.Add(1)
				}
			}
		})
	}
	wg.Wait()
	return int(failed.Load())
}

func (s *Shipper) deliverOne(st *settings, w *worker, e *entry) bool {
	c, name, url := &s.logCircuit, "log receiver", st.logsURL
	if e.kind == kindMetric {
		c, name, url = &s.metricCircuit, "metrics receiver", st.metricsURL
	}
	if !c.allow() {
		s.fail(st, w, e, fmt.Errorf("%s: %w", name, errCircuitOpen))
		return false
	}
	w.body = w.body[:0]
	if e.kind == kindMetric {
		w.body = appendMetricBody(w.body, e.m, st.cfg.ServiceName, true)
	} else {
		w.body = w.enc.appendLog(w.body, e, st.cfg.ServiceName, flavorEntry)
	}
	if err := s.send(st, c, name, url, w.body); err != nil {
		s.fail(st, w, e, err)
		return false
	}
	s.stats.success(1)
	return true
}

// deliverBatch posts the whole batch as the standards' body.
func (s *Shipper) deliverBatch(st *settings, batch []entry) int {
	w := s.getWorker()
	defer s.workers.Put(w)
	fail := func(err error) int {
		for i := range batch {
			s.fail(st, w, &batch[i], err)
		}
		return len(batch)
	}
	if !s.logCircuit.allow() {
		return fail(fmt.Errorf("batch receiver: %w", errCircuitOpen))
	}
	w.body = appendBatchBody(w.body[:0], &w.enc, batch, st.cfg.ServiceName)
	if err := s.send(st, &s.logCircuit, "batch receiver", st.batchURL, w.body); err != nil {
		return fail(err)
	}
	s.stats.success(len(batch))
	return 0
}

func appendBatchBody(dst []byte, enc *encoder, batch []entry, service string) []byte {
	dst = append(dst, `{"logs":[`...)
	first := true
	for i := range batch {
		if batch[i].kind != kindLog {
			continue
		}
		if !first {
			dst = append(dst, ',')
		}
		first = false
		dst = enc.appendLog(dst, &batch[i], service, flavorBatch)
	}
	dst = append(dst, `],"metrics":[`...)
	first = true
	for i := range batch {
		if batch[i].kind != kindMetric {
			continue
		}
		if !first {
			dst = append(dst, ',')
		}
		first = false
		dst = appendMetricBody(dst, batch[i].m, service, false)
	}
	return append(dst, "]}"...)
}

// send posts body, retrying transport errors and 5xx answers as
// [retryPolicy] says. A 4xx answer is final: the receiver is up and retrying
// the same body cannot help. An open circuit stops the retries too.
func (s *Shipper) send(st *settings, c *circuit, name, url string, body []byte) error {
	ctx := s.sendCtx
	answered := false // a final answer: the receiver is reachable
	var last error
	err := backoff.Retry(ctx, retryPolicy(st.cfg), func(int) error {
		retry, err := s.post(ctx, st, name, url, body)
		last = err
		switch {
		case err == nil:
			return nil
		case !retry:
			answered = true
			return backoff.Permanent(err)
		case !c.allow():
			// The circuit opened meanwhile: the entries go to the fallback,
			// not to a receiver known to be failing.
			return backoff.Permanent(err)
		}
		return err
	})
	switch {
	case err == nil:
		c.success()
		return nil
	case answered:
		if ctx.Err() == nil {
			c.success()
		}
		return last
	}
	c.failure(st.cfg.CircuitThreshold)
	// The last answer says more than "stopped retrying" when shutdown cut
	// a wait short.
	return last
}

// retryPolicy is MaxRetries retries, the first after RetryBackoff, doubling
// up to maxBackoff, each wait between half and all of its step so that many
// shippers do not retry in step.
func retryPolicy(cfg Config) backoff.Policy {
	return backoff.Policy{
		First:   cfg.RetryBackoff,
		Max:     maxBackoff,
		Jitter:  backoff.EqualJitter,
		Retries: max(cfg.MaxRetries, 0),
	}
}

// post makes one request. retry reports whether the failure is worth
// another attempt.
func (s *Shipper) post(ctx context.Context, st *settings, name, url string, body []byte) (retry bool, err error) {
	ctx, cancel := context.WithTimeout(ctx, st.cfg.RequestTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return false, fmt.Errorf("%s: build request: %w", name, err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", userAgent)
	if st.cfg.ClientID != "" {
		req.Header.Set("X-Client-ID", st.cfg.ClientID)
	}
	if !st.cfg.ClientSecret.IsZero() {
		req.Header.Set("X-Client-Secret", st.cfg.ClientSecret.Reveal())
	}
	resp, err := st.client.Do(req)
	if err != nil {
		// net/http strips any password from the URL in its errors.
		return s.sendCtx.Err() == nil, fmt.Errorf("%s: %w", name, err)
	}
	defer closeBody(resp.Body)
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return false, nil
	}
	serr := &StatusError{Receiver: name, Code: resp.StatusCode, Message: errorMessage(resp.Body)}
	return resp.StatusCode >= 500, serr
}

// errorMessage pulls the "error" field out of a receiver's error body.
func errorMessage(r io.Reader) string {
	raw, _ := io.ReadAll(io.LimitReader(r, errorBodyLimit))
	var body struct {
		Error string `json:"error"`
	}
	if json.Unmarshal(raw, &body) == nil {
		return body.Error
	}
	return ""
}

// closeBody drains a little of what is left so the keep-alive connection
// goes back to the pool.
func closeBody(b io.ReadCloser) {
	_, _ = io.Copy(io.Discard, io.LimitReader(b, drainLimit))
	_ = b.Close()
}

func (s *Shipper) checkHealth(ctx context.Context, st *settings, name, url string) error {
	ctx, cancel := context.WithTimeout(ctx, st.cfg.RequestTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return fmt.Errorf("%w: %s: build request: %w", ErrUnhealthy, name, err)
	}
	req.Header.Set("User-Agent", userAgent)
	resp, err := st.client.Do(req)
	if err != nil {
		return fmt.Errorf("%w: %s unreachable: %w", ErrUnhealthy, name, err)
	}
	defer closeBody(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%w: %s /healthz answered %d", ErrUnhealthy, name, resp.StatusCode)
	}
	return nil
}

// fail records a delivery failure and writes the entry locally, or, with a
// spool, marks it for the spool when sending it again may succeed. The
// spool itself is written afterwards by the shipping goroutine.
func (s *Shipper) fail(st *settings, w *worker, e *entry, err error) {
	s.stats.failed.Add(1)
	s.stats.failure(err)
	if s.spool.Load() != nil && st.cfg.Enabled && retryable(err) {
		e.spool = true
		return
	}
	s.writeFallbackWith(w, st, e)
}

// retryable says whether an entry that failed with err may be sent again:
// anything but a 4xx answer, which means the receiver refused this body.
func retryable(err error) bool {
	var se *StatusError
	return !errors.As(err, &se) || se.Code >= 500
}

func (s *Shipper) writeFallback(st *settings, e *entry) {
	w := s.getWorker()
	defer s.workers.Put(w)
	s.writeFallbackWith(w, st, e)
}

// writeFallbackWith writes e as one ECS JSON line.
func (s *Shipper) writeFallbackWith(w *worker, st *settings, e *entry) {
	w.line = w.line[:0]
	if e.kind == kindMetric {
		w.line = appendMetricDoc(w.line, e.m, st.cfg.ServiceName)
	} else {
		w.line = w.enc.appendLog(w.line, e, st.cfg.ServiceName, flavorECS)
	}
	w.line = append(w.line, '\n')
	s.stats.fallback.Add(1)
	if err := s.fb.write(w.line); err != nil {
		s.stats.fallbackErrors.Add(1)
	}
}

// AddMetric queues m. It returns ErrInvalidMetric (wrapped) for an empty
// name, an unknown type or a non-finite value, and ErrClosed on a nil
// Shipper. It never waits for the network.
func (s *Shipper) AddMetric(m Metric) error {
	if s == nil {
		return ErrClosed
	}
	if err := m.validate(); err != nil {
		return err
	}
	if m.Time.IsZero() {
		m.Time = time.Now()
	}
	if len(m.Labels) > 0 {
		labels := make(map[string]string, len(m.Labels))
		for k, v := range m.Labels {
			labels[k] = v
		}
		m.Labels = labels
	}
	s.enqueue(&entry{kind: kindMetric, m: &m})
	return nil
}

// Counter queues a counter increment.
func (s *Shipper) Counter(name string, value float64, labels map[string]string) error {
	return s.AddMetric(Metric{Name: name, Type: TypeCounter, Value: value, Labels: labels})
}

// Gauge queues a gauge reading.
func (s *Shipper) Gauge(name string, value float64, labels map[string]string) error {
	return s.AddMetric(Metric{Name: name, Type: TypeGauge, Value: value, Labels: labels})
}

// Histogram queues one histogram observation.
func (s *Shipper) Histogram(name string, value float64, labels map[string]string) error {
	return s.AddMetric(Metric{Name: name, Type: TypeHistogram, Value: value, Labels: labels})
}
