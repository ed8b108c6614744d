// Package telemetry holds the standards' metrics that several parts feed
// (features.used, database.query.duration_ms, cache.hits/misses,
// users.active), exposes them in Prometheus form, ships them to KillKrill
// under the standards' names, and exports them, with traces and logs, over
// OpenTelemetry when an OTLP endpoint is set.
package telemetry

import (
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/rookery/rookery/killkrill"
)

// ActiveWindow is how recent a request must be for its user to count in
// users.active.
const ActiveWindow = 15 * time.Minute

// querySampleEvery: one query duration in this many goes to KillKrill as a
// histogram observation; /metrics and OpenTelemetry see every one.
const querySampleEvery = 16

// operations are the bounded values of the operation label.
var operations = []string{"select", "insert", "update", "delete", "begin", "commit", "rollback", "other"}

// Sources are the counts other parts keep themselves and the Metrics read
// when asked (a scrape, a KillKrill report), so the hot paths pay one
// atomic add.
type Sources struct {
	// FeatureUses returns the uses of each feature counted at the licence
	// gates since start (monotonic).
	FeatureUses func() map[string]int64
	// SessionCache returns the session cache's hits and misses since start.
	SessionCache func() (hits, misses uint64)
}

// Metrics are the standards' metrics that are not per request.
type Metrics struct {
	src     Sources
	queries *prometheus.HistogramVec
	opIndex map[string]int
	sampled [8]atomic.Uint64 // per operation, for the KillKrill sample
	otel    atomic.Pointer[otelMetrics]
	shipper atomic.Pointer[killkrill.Shipper]

	active activeUsers

	mu      sync.Mutex         // guards shipped
	shipped map[string]float64 // counter values already sent to KillKrill
}

// NewMetrics makes the metrics; Register exposes them.
func NewMetrics(src Sources) *Metrics {
	m := &Metrics{
		src: src,
		queries: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "database_query_duration_seconds",
			Help:    "Duration of database statements, transaction starts and ends, by operation.",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5}},
			[]string{"operation"}),
		opIndex: map[string]int{},
		shipped: map[string]float64{},
	}
	for i, op := range operations {
		m.opIndex[op] = i
		m.queries.WithLabelValues(op) // every series present from the start
	}
	return m
}

// Register exposes the metrics on reg, in Prometheus form.
func (m *Metrics) Register(reg prometheus.Registerer) {
	reg.MustRegister(m.queries, &collector{m: m})
}

// SetShipper sends the sampled query durations to sh (nil stops it).
func (m *Metrics) SetShipper(sh *killkrill.Shipper) { m.shipper.Store(sh) }

// ObserveQuery records one database operation.
func (m *Metrics) ObserveQuery(op string, d time.Duration) {
	i, ok := m.opIndex[op]
	if !ok {
		op, i = "other", len(operations)-1
	}
	m.queries.WithLabelValues(op).Observe(d.Seconds())
	if o := m.otel.Load(); o != nil {
		o.query(op, d)
	}
	if sh := m.shipper.Load(); sh != nil && m.sampled[i].Add(1)%querySampleEvery == 1 {
		_ = sh.Histogram(killkrill.MetricDBQueryDuration, float64(d.Microseconds())/1000, map[string]string{"operation": op})
	}
}

// SeeUser notes a request by user (an id or e-mail; empty is ignored).
func (m *Metrics) SeeUser(user string) { m.active.see(user, time.Now()) }

// ActiveUsers is users.active now.
func (m *Metrics) ActiveUsers() int { return m.active.count(time.Now()) }

// counters are the monotonic counts read from the sources, by series:
// name, label name, label value.
type counterValue struct {
	name, label, value string
	n                  float64
}

func (m *Metrics) counters() []counterValue {
	var out []counterValue
	if m.src.FeatureUses != nil {
		uses := m.src.FeatureUses()
		for _, f := range slices.Sorted(maps.Keys(uses)) {
			out = append(out, counterValue{killkrill.MetricFeaturesUsed, "feature", f, float64(uses[f])})
		}
	}
	if m.src.SessionCache != nil {
		h, miss := m.src.SessionCache()
		out = append(out,
			counterValue{killkrill.MetricCacheHits, "cache", "session", float64(h)},
			counterValue{killkrill.MetricCacheMisses, "cache", "session", float64(miss)})
	}
	return out
}

// Ship sends KillKrill what changed since the last call: counter
// increments and the users.active gauge. The app calls it once a minute.
func (m *Metrics) Ship(sh *killkrill.Shipper) {
	if sh == nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, c := range m.counters() {
		key := c.name + "\x00" + c.value
		if d := c.n - m.shipped[key]; d > 0 {
			_ = sh.Counter(c.name, d, map[string]string{c.label: c.value})
			m.shipped[key] = c.n
		}
	}
	_ = sh.Gauge(killkrill.MetricUsersActive, float64(m.ActiveUsers()), nil)
}

// collector exposes the counters kept elsewhere and users.active at
// scrape time, in Prometheus form.
type collector struct{ m *Metrics }

var (
	descFeatures = prometheus.NewDesc("features_used_total", "Uses of licence-gated features, counted at the gates.", []string{"feature"}, nil)
	descHits     = prometheus.NewDesc("cache_hits_total", "Lookups answered from a cache.", []string{"cache"}, nil)
	descMisses   = prometheus.NewDesc("cache_misses_total", "Lookups a cache could not answer.", []string{"cache"}, nil)
	descActive   = prometheus.NewDesc("users_active", "Distinct users with a request in the last 15 minutes.", nil, nil)
)

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	ch <- descFeatures
	ch <- descHits
	ch <- descMisses
	ch <- descActive
}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	for _, v := range c.m.counters() {
		d := descFeatures
		switch v.name {
		case killkrill.MetricCacheHits:
			d = descHits
		case killkrill.MetricCacheMisses:
			d = descMisses
		}
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v.n, v.value)
	}
	ch <- prometheus.MustNewConstMetric(descActive, prometheus.GaugeValue, float64(c.m.ActiveUsers()))
}

// activeUsers remembers when each user last made a request. A request by a
// known user is one map read and one atomic store.
type activeUsers struct {
	seen sync.Map // user -> *atomic.Int64 (unix nanoseconds)
}

func (a *activeUsers) see(user string, at time.Time) {
	if user == "" {
		return
	}
	if v, ok := a.seen.Load(user); ok {
		v.(*atomic.Int64).Store(at.UnixNano())
		return
	}
	t := new(atomic.Int64)
	t.Store(at.UnixNano())
	if v, loaded := a.seen.LoadOrStore(user, t); loaded {
		v.(*atomic.Int64).Store(at.UnixNano())
	}
}

// count returns the users seen within ActiveWindow and forgets the others,
// so the table holds at most the users of the last window.
func (a *activeUsers) count(now time.Time) int {
	cutoff := now.Add(-ActiveWindow).UnixNano()
	n := 0
	a.seen.Range(func(k, v any) bool {
		if v.(*atomic.Int64).Load() >= cutoff {
			n++
		} else {
			a.seen.CompareAndDelete(k, v)
		}
		return true
	})
	return n
}
