package telemetry

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlplog/otlploghttp"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetrichttp"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	otellog "go.opentelemetry.io/otel/log"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/propagation"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/rookery/rookery/killkrill"
)

// OTel exports traces, metrics and logs over OTLP/HTTP while an endpoint
// is set, and does nothing otherwise: every entry point first loads one
// atomic pointer, and with it nil the request, the outgoing call or the
// log record goes on untouched.
type OTel struct {
	service, version string
	metrics          *Metrics

	mu       sync.Mutex // serialises Apply and Shutdown
	endpoint string
	state    atomic.Pointer[otelState]

	traces, metricsH, logs exportHealth

	// inflight maps the X-Request-ID of each request in progress to its
	// server span, so a record logged without the request's context (the
	// access log line, which carries http.request.id) still joins the
	// trace.
	inflight sync.Map
}

// otelState is one running set of providers for one endpoint.
type otelState struct {
	endpoint string
	tp       *sdktrace.TracerProvider
	mp       *sdkmetric.MeterProvider
	lp       *sdklog.LoggerProvider
	tracer   trace.Tracer
	logger   otellog.Logger
	m        *otelMetrics
}

var propagator = propagation.TraceContext{}

// NewOTel returns an exporter that is off until Apply names an endpoint.
// metrics, when set, are exported too.
func NewOTel(service, version string, metrics *Metrics) *OTel {
	return &OTel{service: service, version: version, metrics: metrics}
}

// Endpoint is the OTLP base URL in use, "" when off.
func (o *OTel) Endpoint() string {
	if st := o.state.Load(); st != nil {
		return st.endpoint
	}
	return ""
}

// Apply switches export on for endpoint (an http(s) base URL such as
// http://collector:4318; the signal paths /v1/traces, /v1/metrics and
// /v1/logs are added), moves it, or switches it off with "". The previous
// providers are flushed and shut down within ctx.
func (o *OTel) Apply(ctx context.Context, endpoint string) error {
	endpoint = strings.TrimRight(strings.TrimSpace(endpoint), "/")
	o.mu.Lock()
	defer o.mu.Unlock()
	if endpoint == o.endpoint {
		return nil
	}
	var next *otelState
	if endpoint != "" {
		u, err := url.Parse(endpoint)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return errors.New("the OpenTelemetry endpoint must be an http or https URL such as http://otel-collector:4318")
		}
		next, err = o.start(endpoint)
		if err != nil {
			return fmt.Errorf("start OpenTelemetry export: %w", err)
		}
	}
	old := o.state.Swap(next)
	o.endpoint = endpoint
	if old != nil {
		return old.shutdown(ctx)
	}
	return nil
}

// Shutdown flushes and stops export.
func (o *OTel) Shutdown(ctx context.Context) error { return o.Apply(ctx, "") }

// ForceFlush exports what is pending now.
func (o *OTel) ForceFlush(ctx context.Context) error {
	st := o.state.Load()
	if st == nil {
		return nil
	}
	return errors.Join(st.tp.ForceFlush(ctx), st.mp.ForceFlush(ctx), st.lp.ForceFlush(ctx))
}

func (o *OTel) start(endpoint string) (*otelState, error) {
	ctx := context.Background()
	res := resource.NewSchemaless(
		attribute.String("service.name", o.service),
		attribute.String("service.version", o.version),
	)
	// Explicit URLs win over the OTEL_EXPORTER_OTLP_* variables, so the
	// setting in the database is what counts once it is there.
	te, err := otlptracehttp.New(ctx, otlptracehttp.WithEndpointURL(endpoint+"/v1/traces"))
	if err != nil {
		return nil, err
	}
	me, err := otlpmetrichttp.New(ctx, otlpmetrichttp.WithEndpointURL(endpoint+"/v1/metrics"))
	if err != nil {
		return nil, err
	}
	le, err := otlploghttp.New(ctx, otlploghttp.WithEndpointURL(endpoint+"/v1/logs"))
	if err != nil {
		return nil, err
	}
	st := &otelState{endpoint: endpoint}
	st.tp = sdktrace.NewTracerProvider(sdktrace.WithResource(res),
		sdktrace.WithBatcher(&spanExporter{SpanExporter: te, h: &o.traces}))
	st.mp = sdkmetric.NewMeterProvider(sdkmetric.WithResource(res),
		sdkmetric.WithReader(sdkmetric.NewPeriodicReader(&metricExporter{Exporter: me, h: &o.metricsH})))
	st.lp = sdklog.NewLoggerProvider(sdklog.WithResource(res),
		sdklog.WithProcessor(sdklog.NewBatchProcessor(&logExporter{Exporter: le, h: &o.logs})))
	st.tracer = st.tp.Tracer("github.com/rookery/rookery")
	st.logger = st.lp.Logger("github.com/rookery/rookery")
	st.m, err = newOTelMetrics(st.mp.Meter("github.com/rookery/rookery"), o.metrics)
	if err != nil {
		_ = st.shutdown(ctx)
		return nil, err
	}
	if o.metrics != nil {
		o.metrics.otel.Store(st.m)
	}
	return st, nil
}

func (st *otelState) shutdown(ctx context.Context) error {
	return errors.Join(st.tp.Shutdown(ctx), st.mp.Shutdown(ctx), st.lp.Shutdown(ctx))
}

// Handler makes each request a server span, continuing a trace whose W3C
// traceparent the caller sent.
func (o *OTel) Handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		st := o.state.Load()
		if st == nil {
			next.ServeHTTP(w, r)
			return
		}
		ctx := propagator.Extract(r.Context(), propagation.HeaderCarrier(r.Header))
		ctx, span := st.tracer.Start(ctx, r.Method, trace.WithSpanKind(trace.SpanKindServer),
			trace.WithAttributes(attribute.String("http.request.method", r.Method), attribute.String("url.path", r.URL.Path)))
		defer span.End()
		// Without a request id of its own, the request takes its trace id
		// as one: the access log, the X-Request-ID answer and the trace
		// then name the same thing.
		id := r.Header.Get("X-Request-ID")
		if id == "" {
			id = span.SpanContext().TraceID().String()
			r.Header.Set("X-Request-ID", id)
		}
		sc := span.SpanContext()
		o.inflight.Store(id, &sc)
		defer o.inflight.CompareAndDelete(id, &sc)
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		start := time.Now()
		next.ServeHTTP(sw, r.WithContext(ctx))
		span.SetAttributes(attribute.Int("http.response.status_code", sw.status))
		if sw.status >= 500 {
			span.SetStatus(codes.Error, http.StatusText(sw.status))
		}
		st.m.request(ctx, r.Method, sw.status, time.Since(start))
	})
}

// statusWriter notes the status code; Unwrap lets http.ResponseController
// (and so the AI routes' event streams) reach the real writer's Flush.
type statusWriter struct {
	http.ResponseWriter
	status int
	wrote  bool
}

func (w *statusWriter) WriteHeader(code int) {
	if !w.wrote {
		w.status, w.wrote = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	w.wrote = true
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Flush() { _ = http.NewResponseController(w.ResponseWriter).Flush() }

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Transport makes each outgoing request a client span and sends its W3C
// traceparent, so the called service can continue the trace. base nil
// means http.DefaultTransport.
func (o *OTel) Transport(base http.RoundTripper) http.RoundTripper {
	if base == nil {
		base = http.DefaultTransport
	}
	return &transport{o: o, base: base}
}

type transport struct {
	o    *OTel
	base http.RoundTripper
}

func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	st := t.o.state.Load()
	if st == nil {
		return t.base.RoundTrip(req)
	}
	ctx, span := st.tracer.Start(req.Context(), req.Method+" "+req.URL.Host, trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(attribute.String("http.request.method", req.Method),
			attribute.String("server.address", req.URL.Hostname()), attribute.String("url.path", req.URL.Path)))
	defer span.End()
	out := req.Clone(ctx)
	propagator.Inject(ctx, propagation.HeaderCarrier(out.Header))
	resp, err := t.base.RoundTrip(out)
	if err != nil {
		span.SetStatus(codes.Error, err.Error())
		return nil, err
	}
	span.SetAttributes(attribute.Int("http.response.status_code", resp.StatusCode))
	if resp.StatusCode >= 500 {
		span.SetStatus(codes.Error, resp.Status)
	}
	return resp, nil
}

// Client is an http.Client sending through Transport(base).
func (o *OTel) Client(base http.RoundTripper) *http.Client {
	return &http.Client{Transport: o.Transport(base)}
}

// LogTap is given every log record the KillKrill handler accepts, on the
// caller's goroutine (see killkrill.Shipper.SetLogTap): it adds trace.id
// and span.id (the ECS names) when the record's context is in a span, so
// KillKrill entries and traces join up, and sends the record over OTLP.
// The OTLP record carries the attributes KillKrill ships, the logger's
// With attributes and WithGroup names included (see killkrill.TapAttrs),
// masked exactly as KillKrill masks them.
func (o *OTel) LogTap(ctx context.Context, r *slog.Record) {
	st := o.state.Load()
	if st == nil {
		return
	}
	var rec otellog.Record
	rec.SetTimestamp(r.Time)
	rec.SetObservedTimestamp(time.Now())
	rec.SetBody(attribute.StringValue(r.Message))
	rec.SetSeverity(severity(r.Level))
	rec.SetSeverityText(r.Level.String())
	sc := trace.SpanContextFromContext(ctx)
	lookup := !sc.IsValid()
	killkrill.TapAttrs(ctx, r, func(a slog.Attr) bool {
		if lookup && (a.Key == "http.request.id" || a.Key == "request_id") {
			lookup = false
			if v, ok := o.inflight.Load(a.Value.String()); ok {
				sc = *v.(*trace.SpanContext)
			}
		}
		rec.AddAttributes(logAttr(a))
		return true
	})
	if sc.IsValid() {
		if !trace.SpanContextFromContext(ctx).IsValid() {
			ctx = trace.ContextWithSpanContext(ctx, sc)
		}
		tid, sid := slog.String("trace.id", sc.TraceID().String()), slog.String("span.id", sc.SpanID().String())
		// A copy of its own, so the caller's record is never changed.
		*r = r.Clone()
		r.AddAttrs(tid, sid)
		rec.AddAttributes(logAttr(tid), logAttr(sid))
	}
	st.logger.Emit(ctx, rec)
}

// logAttr converts one attribute, which killkrill.TapAttrs has already
// flattened and masked; a secret-named key is masked here too, so nothing
// leaves unmasked by this path.
func logAttr(a slog.Attr) attribute.KeyValue {
	v := a.Value.Resolve()
	if killkrill.IsSecretKey(a.Key) {
		return attribute.String(a.Key, killkrill.Masked)
	}
	switch v.Kind() {
	case slog.KindInt64:
		return attribute.Int64(a.Key, v.Int64())
	case slog.KindFloat64:
		return attribute.Float64(a.Key, v.Float64())
	case slog.KindBool:
		return attribute.Bool(a.Key, v.Bool())
	}
	return attribute.String(a.Key, v.String())
}

func severity(l slog.Level) otellog.Severity {
	switch {
	case l < slog.LevelInfo:
		return otellog.SeverityDebug
	case l < slog.LevelWarn:
		return otellog.SeverityInfo
	case l < slog.LevelError:
		return otellog.SeverityWarn
	}
	return otellog.SeverityError
}

// otelMetrics are the instruments fed as things happen; the counters kept
// elsewhere are read by a callback at each export.
type otelMetrics struct {
	duration metric.Float64Histogram
	queries  metric.Float64Histogram
}

func newOTelMetrics(meter metric.Meter, m *Metrics) (*otelMetrics, error) {
	om := &otelMetrics{}
	var err error
	if om.duration, err = meter.Float64Histogram("http.server.request.duration", metric.WithUnit("s"),
		metric.WithDescription("Duration of HTTP requests.")); err != nil {
		return nil, err
	}
	if om.queries, err = meter.Float64Histogram(killkrill.MetricDBQueryDuration, metric.WithUnit("ms"),
		metric.WithDescription("Duration of database operations.")); err != nil {
		return nil, err
	}
	if m == nil {
		return om, nil
	}
	features, err := meter.Int64ObservableCounter(killkrill.MetricFeaturesUsed, metric.WithDescription("Uses of licence-gated features."))
	if err != nil {
		return nil, err
	}
	hits, err := meter.Int64ObservableCounter(killkrill.MetricCacheHits, metric.WithDescription("Lookups answered from a cache."))
	if err != nil {
		return nil, err
	}
	misses, err := meter.Int64ObservableCounter(killkrill.MetricCacheMisses, metric.WithDescription("Lookups a cache could not answer."))
	if err != nil {
		return nil, err
	}
	active, err := meter.Int64ObservableGauge(killkrill.MetricUsersActive, metric.WithDescription("Distinct users with a request in the last 15 minutes."))
	if err != nil {
		return nil, err
	}
	_, err = meter.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		for _, c := range m.counters() {
			inst := features
			switch c.name {
			case killkrill.MetricCacheHits:
				inst = hits
			case killkrill.MetricCacheMisses:
				inst = misses
			}
			o.ObserveInt64(inst, int64(c.n), metric.WithAttributes(attribute.String(c.label, c.value)))
		}
		o.ObserveInt64(active, int64(m.ActiveUsers()))
		return nil
	}, features, hits, misses, active)
	return om, err
}

func (om *otelMetrics) request(ctx context.Context, method string, status int, d time.Duration) {
	om.duration.Record(ctx, d.Seconds(), metric.WithAttributes(
		attribute.String("http.request.method", method), attribute.Int("http.response.status_code", status)))
}

func (om *otelMetrics) query(op string, d time.Duration) {
	om.queries.Record(context.Background(), float64(d.Microseconds())/1000, metric.WithAttributes(attribute.String("operation", op)))
}

// exportHealth is one signal's export record, for the integrations page.
type exportHealth struct {
	mu      sync.Mutex
	ok      uint64
	failed  uint64
	lastErr string
	lastAt  time.Time
	okAt    time.Time
}

func (h *exportHealth) note(err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if err == nil {
		h.ok++
		h.okAt = time.Now()
		return
	}
	h.failed++
	h.lastErr, h.lastAt = err.Error(), time.Now()
}

// SignalHealth is the export record of one signal.
type SignalHealth struct {
	Exports       uint64     `json:"exports"`
	Failures      uint64     `json:"failures"`
	Healthy       bool       `json:"healthy"`
	LastError     string     `json:"last_error"`
	LastErrorAt   *time.Time `json:"last_error_at"`
	LastSuccessAt *time.Time `json:"last_success_at"`
}

func (h *exportHealth) report() SignalHealth {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := SignalHealth{Exports: h.ok, Failures: h.failed, LastError: h.lastErr,
		Healthy: h.lastAt.IsZero() || h.okAt.After(h.lastAt)}
	if !h.lastAt.IsZero() {
		t := h.lastAt
		out.LastErrorAt = &t
	}
	if !h.okAt.IsZero() {
		t := h.okAt
		out.LastSuccessAt = &t
	}
	return out
}

// Status is the OpenTelemetry part of GET /api/v1/integrations.
type Status struct {
	Enabled  bool         `json:"enabled"`
	Endpoint string       `json:"endpoint"`
	Healthy  bool         `json:"healthy"`
	Traces   SignalHealth `json:"traces"`
	Metrics  SignalHealth `json:"metrics"`
	Logs     SignalHealth `json:"logs"`
}

// Status reports whether export is on and how each signal fares.
func (o *OTel) Status() Status {
	s := Status{Endpoint: redact(o.Endpoint()), Traces: o.traces.report(), Metrics: o.metricsH.report(), Logs: o.logs.report()}
	s.Enabled = s.Endpoint != ""
	s.Healthy = s.Enabled && s.Traces.Healthy && s.Metrics.Healthy && s.Logs.Healthy
	return s
}

// redact hides a password an endpoint URL may carry.
func redact(endpoint string) string {
	if endpoint == "" {
		return ""
	}
	u, err := url.Parse(endpoint)
	if err != nil {
		return ""
	}
	return u.Redacted()
}

// The exporters are wrapped only to note each export's outcome.
type spanExporter struct {
	sdktrace.SpanExporter
	h *exportHealth
}

func (e *spanExporter) ExportSpans(ctx context.Context, spans []sdktrace.ReadOnlySpan) error {
	err := e.SpanExporter.ExportSpans(ctx, spans)
	e.h.note(err)
	return err
}

type metricExporter struct {
	sdkmetric.Exporter
	h *exportHealth
}

func (e *metricExporter) Export(ctx context.Context, rm *metricdata.ResourceMetrics) error {
	err := e.Exporter.Export(ctx, rm)
	e.h.note(err)
	return err
}

type logExporter struct {
	sdklog.Exporter
	h *exportHealth
}

func (e *logExporter) Export(ctx context.Context, records []sdklog.Record) error {
	err := e.Exporter.Export(ctx, records)
	e.h.note(err)
	return err
}
