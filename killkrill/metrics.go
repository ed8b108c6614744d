package killkrill

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"time"
)

// Metric names of the standards' API, business and system categories. They
// stay dotted in ECS and batch documents and are sent with underscores
// (PrometheusName) to the real metrics receiver.
const (
	// API metrics.
	MetricHTTPRequestDuration = "http.request.duration_ms"      // histogram
	MetricHTTPRequestsTotal   = "http.requests.total"           // counter
	MetricHTTPRequestSize     = "http.request.size_bytes"       // histogram
	MetricUsersActive         = "users.active"                  // gauge
	MetricTeamsTotal          = "teams.total"                   // gauge
	MetricFeaturesUsed        = "features.used"                 // counter, label "feature"
	MetricDBPoolUsed          = "database.connection.pool.used" // gauge
	MetricDBQueryDuration     = "database.query.duration_ms"    // histogram
	MetricCacheHits           = "cache.hits"                    // counter
	MetricCacheMisses         = "cache.misses"                  // counter
)

// MetricType is the kind of a metric, as the metrics receiver names it.
type MetricType string

const (
	TypeCounter   MetricType = "counter"
	TypeGauge     MetricType = "gauge"
	TypeHistogram MetricType = "histogram"
	TypeSummary   MetricType = "summary"
)

// ErrInvalidMetric is wrapped by the errors of AddMetric and its helpers.
var ErrInvalidMetric = errors.New("invalid metric")

// Metric is one observation. Name is dotted (http.requests.total); Labels
// are copied when the metric is queued, so the caller may reuse the map.
type Metric struct {
	Name   string
	Type   MetricType // empty means TypeGauge, the receiver's default
	Value  float64
	Labels map[string]string
	Time   time.Time // zero means now
}

func (m *Metric) validate() error {
	if strings.TrimSpace(m.Name) == "" {
		return fmt.Errorf("%w: name is empty", ErrInvalidMetric)
	}
	switch m.Type {
	case "":
		m.Type = TypeGauge
	case TypeCounter, TypeGauge, TypeHistogram, TypeSummary:
	default:
		return fmt.Errorf("%w: %s: type %q is not counter, gauge, histogram or summary", ErrInvalidMetric, m.Name, m.Type)
	}
	if math.IsNaN(m.Value) || math.IsInf(m.Value, 0) {
		return fmt.Errorf("%w: %s: value %v is not a finite number", ErrInvalidMetric, m.Name, m.Value)
	}
	return nil
}

// PrometheusName turns a dotted metric name into a valid Prometheus metric
// name ([a-zA-Z_:][a-zA-Z0-9_:]*): every other character becomes '_', and a
// leading digit gets a '_' in front. http.requests.total becomes
// http_requests_total.
func PrometheusName(name string) string { return promSanitize(name, true) }

// prometheusLabel does the same for a label name, where ':' is not allowed.
func prometheusLabel(name string) string { return promSanitize(name, false) }

func promSanitize(name string, colon bool) string {
	if name == "" {
		return "_"
	}
	ok := func(i int, c byte) bool {
		return c == '_' || (colon && c == ':') ||
			('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z') || (i > 0 && '0' <= c && c <= '9')
	}
	clean := true
	for i := 0; i < len(name); i++ {
		if !ok(i, name[i]) {
			clean = false
			break
		}
	}
	if clean {
		return name
	}
	var b strings.Builder
	b.Grow(len(name) + 1)
	if c := name[0]; '0' <= c && c <= '9' {
		b.WriteByte('_')
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if ok(1, c) {
			b.WriteByte(c)
		} else {
			b.WriteByte('_')
		}
	}
	return b.String()
}
