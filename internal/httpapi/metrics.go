package httpapi

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// httpMetrics are the standards' API metrics in Prometheus form
// (http.requests.total -> http_requests_total). Prometheus wants base
// units, so the standards' http.request.duration_ms is
// http_request_duration_seconds here; KillKrill keeps the standards' name.
type httpMetrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	size     *prometheus.HistogramVec
}

func newHTTPMetrics(reg prometheus.Registerer) *httpMetrics {
	m := &httpMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "http_requests_total", Help: "HTTP requests handled."},
			[]string{"method", "route", "status"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "http_request_duration_seconds", Help: "HTTP request duration in seconds.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}}, []string{"method", "route"}),
		size: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "http_request_size_bytes", Help: "HTTP request body size in bytes.",
			Buckets: prometheus.ExponentialBuckets(64, 4, 8)}, []string{"method", "route"}),
	}
	reg.MustRegister(m.requests, m.duration, m.size)
	return m
}

// MethodLabel bounds the method label: a client may send any token as a
// method, and each new label value is a new series kept for the life of
// the process, so anything but the standard methods becomes OTHER.
func MethodLabel(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions, http.MethodConnect, http.MethodTrace:
		return m
	}
	return "OTHER"
}

// observe records one request; method must come from MethodLabel and
// route from a registered pattern, so the number of series stays bounded.
func (m *httpMetrics) observe(method, route string, status int, d time.Duration, size int64) {
	m.requests.WithLabelValues(method, route, strconv.Itoa(status)).Inc()
	m.duration.WithLabelValues(method, route).Observe(d.Seconds())
	if size > 0 {
		m.size.WithLabelValues(method, route).Observe(float64(size))
	}
}
