// Package killkrilltest provides fake KillKrill receivers for tests, in the
// spirit of net/http/httptest. They follow the real receivers' contract to
// the letter, quirks included:
//
//   - the log receiver serves POST /api/v1/logs, the metrics receiver POST
//     /api/v1/metrics, both GET /healthz;
//   - one JSON object per POST: a batch body such as {"logs":[...]} sent to
//     /api/v1/logs is answered 200 but stored as ONE entry whose message is
//     the whole body text, as the real receiver does;
//   - 400 {"error":"No JSON data provided"} for an empty body, a body that is
//     not JSON, or a content type that is not JSON;
//   - 500 {"error":"...","timestamp":"..."} when timestamp is present but not
//     an ISO-8601 string, or a metric value is not a number;
//   - 413 above 16 MiB; no 401, 403 or 429 ever; credentials are not checked.
//
// Switches make them misbehave: SetDelay (slow), SetDown (connections closed
// without an answer), SetFailStatus and FailNext (answer 500 or any code),
// SetUnhealthy (/healthz answers 503). EnableBatch turns a receiver into one that accepts
// the standards' batch body {"logs":[...],"metrics":[...]}, which the real
// ones do not.
package killkrilltest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"time"
)

// Paths served, as on the real receivers.
const (
	LogsPath         = "/api/v1/logs"
	MetricsPath      = "/api/v1/metrics"
	HealthPath       = "/healthz"
	DefaultBatchPath = "/api/v1/batch"
	// BodyLimit is the receivers' request size limit.
	BodyLimit = 16 << 20
)

// Log is what the log receiver stores. Raw and Header are kept for tests;
// the real receiver keeps only the other fields.
type Log struct {
	ID          int64
	Timestamp   string // as sent, or the receive time when absent
	Level       string
	Message     string
	ServiceName string
	Raw         []byte
	Header      http.Header
}

// Metric is what the metrics receiver stores.
type Metric struct {
	Name   string
	Type   string
	Value  float64
	Labels map[string]string
	Raw    []byte
	Header http.Header
}

type role int

const (
	roleLogs role = iota
	roleMetrics
)

// Receiver is one fake receiver service. Its methods are safe for
// concurrent use.
type Receiver struct {
	srv  *httptest.Server
	role role

	mu         sync.Mutex
	logs       []Log
	metrics    []Metric
	nextID     int64
	hits       map[string]int
	delay      time.Duration
	down       bool
	failStatus int
	failNext   int // requests still to fail with failNextCode
	failCode   int
	unhealthy  bool
	batchPath  string
	changed    chan struct{} // closed and replaced whenever something is stored

	closing   chan struct{}
	closeOnce sync.Once
}

// NewLogReceiver starts a fake log receiver.
func NewLogReceiver() *Receiver { return newReceiver(roleLogs) }

// NewMetricsReceiver starts a fake metrics receiver.
func NewMetricsReceiver() *Receiver { return newReceiver(roleMetrics) }

func newReceiver(ro role) *Receiver {
	r := &Receiver{
		role:    ro,
		hits:    make(map[string]int),
		changed: make(chan struct{}),
		closing: make(chan struct{}),
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+HealthPath, r.health)
	if ro == roleLogs {
		mux.HandleFunc("POST "+LogsPath, r.postLog)
	} else {
		mux.HandleFunc("POST "+MetricsPath, r.postMetric)
	}
	mux.HandleFunc("/", r.other)
	r.srv = httptest.NewServer(r.gate(mux))
	return r
}

// URL is the receiver's base URL, e.g. http://127.0.0.1:41234.
func (r *Receiver) URL() string { return r.srv.URL }

// Close stops the server. Requests held by SetDelay are released first.
func (r *Receiver) Close() {
	r.closeOnce.Do(func() { close(r.closing) })
	r.srv.CloseClientConnections()
	r.srv.Close()
}

// SetDelay holds every ingest request (not /healthz) for d before answering.
func (r *Receiver) SetDelay(d time.Duration) {
	r.mu.Lock()
	r.delay = d
	r.mu.Unlock()
}

// SetDown makes the service unreachable: every connection, /healthz
// included, is closed without an answer, and open keep-alive connections are
// cut, as when the process has died. SetDown(false) brings it back on the
// same address.
func (r *Receiver) SetDown(down bool) {
	r.mu.Lock()
	r.down = down
	r.mu.Unlock()
	if down {
		r.srv.CloseClientConnections()
	}
}

// SetFailStatus makes every ingest request answer code with the receivers'
// error shape ({"error":...,"timestamp":...} for 5xx, {"error":...} for
// 4xx) and store nothing. 0 switches it off.
func (r *Receiver) SetFailStatus(code int) {
	r.mu.Lock()
	r.failStatus = code
	r.mu.Unlock()
}

// FailNext makes the next n ingest requests answer code, then recover, for
// testing a retry that succeeds.
func (r *Receiver) FailNext(code, n int) {
	r.mu.Lock()
	r.failCode, r.failNext = code, n
	r.mu.Unlock()
}

// SetUnhealthy makes /healthz answer 503, as when the database or Redis
// behind the receiver is down. Ingest keeps working.
func (r *Receiver) SetUnhealthy(b bool) {
	r.mu.Lock()
	r.unhealthy = b
	r.mu.Unlock()
}

// EnableBatch makes the receiver accept the standards' batch body on path
// (DefaultBatchPath when empty), storing each log and metric in it. The real
// receivers have no such route. Metrics from batches are stored on this
// receiver.
func (r *Receiver) EnableBatch(path string) {
	if path == "" {
		path = DefaultBatchPath
	}
	r.mu.Lock()
	r.batchPath = path
	r.mu.Unlock()
}

// Logs returns a copy of the stored log entries, in arrival order.
func (r *Receiver) Logs() []Log {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Log(nil), r.logs...)
}

// Metrics returns a copy of the stored metrics, in arrival order.
func (r *Receiver) Metrics() []Metric {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Metric(nil), r.metrics...)
}

// Hits returns how many requests arrived for path, whatever their outcome
// (connections closed by SetDown included).
func (r *Receiver) Hits(path string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.hits[path]
}

// Reset forgets stored entries and hit counts; switches stay as they are.
func (r *Receiver) Reset() {
	r.mu.Lock()
	r.logs, r.metrics, r.hits = nil, nil, make(map[string]int)
	r.mu.Unlock()
}

// WaitLogs waits until at least n log entries are stored or ctx ends.
func (r *Receiver) WaitLogs(ctx context.Context, n int) error {
	return r.wait(ctx, func() int { return len(r.logs) }, n, "log entries")
}

// WaitMetrics waits until at least n metrics are stored or ctx ends.
func (r *Receiver) WaitMetrics(ctx context.Context, n int) error {
	return r.wait(ctx, func() int { return len(r.metrics) }, n, "metrics")
}

// WaitHits waits until at least n requests arrived for path or ctx ends.
func (r *Receiver) WaitHits(ctx context.Context, path string, n int) error {
	return r.wait(ctx, func() int { return r.hits[path] }, n, "requests to "+path)
}

func (r *Receiver) wait(ctx context.Context, count func() int, n int, what string) error {
	for {
		r.mu.Lock()
		got, ch := count(), r.changed
		r.mu.Unlock()
		if got >= n {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("waiting for %d %s, have %d: %w", n, what, got, ctx.Err())
		}
	}
}

// notify wakes waiters; called with r.mu held.
func (r *Receiver) notify() {
	close(r.changed)
	r.changed = make(chan struct{})
}

// gate counts requests and applies the down switch before routing.
func (r *Receiver) gate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.mu.Lock()
		r.hits[req.URL.Path]++
		down := r.down
		r.notify()
		r.mu.Unlock()
		if down {
			if hj, ok := w.(http.Hijacker); ok {
				if conn, _, err := hj.Hijack(); err == nil {
					_ = conn.Close()
					return
				}
			}
			panic(http.ErrAbortHandler) // closes the connection without an answer
		}
		next.ServeHTTP(w, req)
	})
}

func (r *Receiver) health(w http.ResponseWriter, _ *http.Request) {
	r.mu.Lock()
	bad := r.unhealthy
	r.mu.Unlock()
	if bad {
		writeJSON(w, http.StatusServiceUnavailable, map[string]any{"status": "degraded", "components": map[string]any{}})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"status": "healthy", "components": map[string]any{}})
}

// other serves the batch route when enabled; anything else is 404, as on
// the real services.
func (r *Receiver) other(w http.ResponseWriter, req *http.Request) {
	r.mu.Lock()
	bp := r.batchPath
	r.mu.Unlock()
	if bp != "" && req.URL.Path == bp {
		if req.Method != http.MethodPost {
			http.Error(w, "Method Not Allowed", http.StatusMethodNotAllowed)
			return
		}
		r.postBatch(w, req)
		return
	}
	http.NotFound(w, req)
}

// ingest runs the steps every ingest route shares: delay, forced failure,
// body limit, content type, empty body. It returns the body, or nil when it
// has answered already.
func (r *Receiver) ingest(w http.ResponseWriter, req *http.Request) []byte {
	r.mu.Lock()
	delay, fail := r.delay, r.failStatus
	if r.failNext > 0 {
		r.failNext--
		fail = r.failCode
	}
	r.mu.Unlock()
	if delay > 0 {
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-req.Context().Done():
			t.Stop()
			return nil
		case <-r.closing:
			t.Stop()
			return nil
		}
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, req.Body, BodyLimit))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeJSON(w, http.StatusRequestEntityTooLarge, map[string]any{"error": "Request Entity Too Large"})
			return nil
		}
		return nil
	}
	if fail != 0 {
		writeFailure(w, fail)
		return nil
	}
	if len(bytes.TrimSpace(body)) == 0 || !isJSONType(req.Header.Get("Content-Type")) || !json.Valid(body) {
		writeJSON(w, http.StatusBadRequest, map[string]any{"error": "No JSON data provided"})
		return nil
	}
	return body
}

func (r *Receiver) postLog(w http.ResponseWriter, req *http.Request) {
	body := r.ingest(w, req)
	if body == nil {
		return
	}
	l, err := parseLog(body)
	if err != nil {
		writeServerError(w, err)
		return
	}
	l.Header = req.Header.Clone()
	r.mu.Lock()
	r.nextID++
	l.ID = r.nextID
	r.logs = append(r.logs, l)
	r.notify()
	r.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"status": "accepted", "log_id": l.ID, "timestamp": now()})
}

func (r *Receiver) postMetric(w http.ResponseWriter, req *http.Request) {
	body := r.ingest(w, req)
	if body == nil {
		return
	}
	m, err := parseMetric(body)
	if err != nil {
		writeServerError(w, err)
		return
	}
	m.Header = req.Header.Clone()
	r.mu.Lock()
	r.metrics = append(r.metrics, m)
	r.notify()
	r.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"status": "success", "timestamp": now()})
}

func (r *Receiver) postBatch(w http.ResponseWriter, req *http.Request) {
	body := r.ingest(w, req)
	if body == nil {
		return
	}
	var batch struct {
		Logs    []json.RawMessage `json:"logs"`
		Metrics []json.RawMessage `json:"metrics"`
	}
	if err := json.Unmarshal(body, &batch); err != nil {
		writeServerError(w, fmt.Errorf("batch body: %w", err))
		return
	}
	header := req.Header.Clone() // shared, read-only, by every entry of the batch
	logs := make([]Log, 0, len(batch.Logs))
	for i, raw := range batch.Logs {
		l, err := parseLog(raw)
		if err != nil {
			writeServerError(w, fmt.Errorf("logs[%d]: %w", i, err))
			return
		}
		l.Header = header
		logs = append(logs, l)
	}
	metrics := make([]Metric, 0, len(batch.Metrics))
	for i, raw := range batch.Metrics {
		m, err := parseMetric(raw)
		if err != nil {
			writeServerError(w, fmt.Errorf("metrics[%d]: %w", i, err))
			return
		}
		m.Header = header
		metrics = append(metrics, m)
	}
	r.mu.Lock()
	for i := range logs {
		r.nextID++
		logs[i].ID = r.nextID
	}
	r.logs = append(r.logs, logs...)
	r.metrics = append(r.metrics, metrics...)
	r.notify()
	r.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"status": "accepted", "logs": len(logs), "metrics": len(metrics), "timestamp": now()})
}

// parseLog reads the fields the real receiver reads, with its defaults:
// log_level else level else "info"; message else the whole body text;
// service_name else source else "unknown".
func parseLog(body []byte) (Log, error) {
	var doc map[string]any
	if err := json.Unmarshal(body, &doc); err != nil {
		return Log{}, errors.New("log entry must be a JSON object")
	}
	l := Log{Raw: append([]byte(nil), body...)}
	switch ts := doc["timestamp"].(type) {
	case nil:
		l.Timestamp = now()
	case string:
		if !validISO(ts) {
			return Log{}, fmt.Errorf("invalid isoformat string: %q", ts)
		}
		l.Timestamp = ts
	default:
		return Log{}, fmt.Errorf("timestamp must be a string, got %s", jsonText(ts))
	}
	l.Level = firstText(doc, "info", "log_level", "level")
	l.Message = firstText(doc, string(body), "message")
	l.ServiceName = firstText(doc, "unknown", "service_name", "source")
	return l, nil
}

func parseMetric(body []byte) (Metric, error) {
	var doc map[string]any
	if err := json.Unmarshal(body, &doc); err != nil {
		return Metric{}, errors.New("metric must be a JSON object")
	}
	m := Metric{Raw: append([]byte(nil), body...), Labels: map[string]string{}}
	m.Name = firstText(doc, "", "name")
	m.Type = firstText(doc, "gauge", "type")
	v, ok := doc["value"].(float64)
	if !ok {
		return Metric{}, fmt.Errorf("could not convert value to float: %s", jsonText(doc["value"]))
	}
	m.Value = v
	if labels, ok := doc["labels"].(map[string]any); ok {
		for k, v := range labels {
			if s, ok := v.(string); ok {
				m.Labels[k] = s
			} else {
				m.Labels[k] = jsonText(v)
			}
		}
	}
	return m, nil
}

func firstText(doc map[string]any, def string, keys ...string) string {
	for _, k := range keys {
		switch v := doc[k].(type) {
		case nil:
			continue
		case string:
			return v
		default:
			return jsonText(v)
		}
	}
	return def
}

func jsonText(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// validISO accepts what Python's datetime.fromisoformat accepts in practice
// for these clients: RFC 3339 with or without an offset or Z, any number of
// fractional digits.
func validISO(s string) bool {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02 15:04:05.999999999Z07:00", "2006-01-02"} {
		if _, err := time.Parse(layout, s); err == nil {
			return true
		}
	}
	return false
}

func isJSONType(ct string) bool {
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return false
	}
	return mt == "application/json" || strings.HasSuffix(mt, "+json")
}

func now() string { return time.Now().UTC().Format("2006-01-02T15:04:05.000000") }

func writeFailure(w http.ResponseWriter, code int) {
	switch {
	case code == http.StatusBadRequest:
		writeJSON(w, code, map[string]any{"error": "No JSON data provided"})
	case code >= 500:
		writeJSON(w, code, map[string]any{"error": "database unavailable", "timestamp": now()})
	default:
		writeJSON(w, code, map[string]any{"error": http.StatusText(code)})
	}
}

func writeServerError(w http.ResponseWriter, err error) {
	writeJSON(w, http.StatusInternalServerError, map[string]any{"error": err.Error(), "timestamp": now()})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

// Pair is a log receiver and a metrics receiver, as deployed.
type Pair struct {
	Logs    *Receiver
	Metrics *Receiver
}

// NewPair starts both receivers.
func NewPair() *Pair { return &Pair{Logs: NewLogReceiver(), Metrics: NewMetricsReceiver()} }

// Close stops both.
func (p *Pair) Close() {
	p.Logs.Close()
	p.Metrics.Close()
}

// SetDown switches both down or up.
func (p *Pair) SetDown(b bool) {
	p.Logs.SetDown(b)
	p.Metrics.SetDown(b)
}

// SetDelay slows both.
func (p *Pair) SetDelay(d time.Duration) {
	p.Logs.SetDelay(d)
	p.Metrics.SetDelay(d)
}

// SetFailStatus makes both answer code.
func (p *Pair) SetFailStatus(code int) {
	p.Logs.SetFailStatus(code)
	p.Metrics.SetFailStatus(code)
}

// SetUnhealthy makes both /healthz answer 503.
func (p *Pair) SetUnhealthy(b bool) {
	p.Logs.SetUnhealthy(b)
	p.Metrics.SetUnhealthy(b)
}
