package killkrill

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Mode selects the wire format used to reach KillKrill.
type Mode string

const (
	// ModeEntry sends one JSON object per POST, which is what the real
	// KillKrill receivers accept: logs to {LogURL}/api/v1/logs, metrics to
	// {MetricsURL}/api/v1/metrics.
	ModeEntry Mode = "entry"
	// ModeBatch sends the standards' batch body {"logs":[...],"metrics":[...]}
	// to {LogURL}{BatchPath}. The real receivers store such a body as one
	// garbled entry, so use it only with a receiver that accepts batches.
	ModeBatch Mode = "batch"
)

// ParseMode accepts "entry" or "batch" (any case); the empty string means
// ModeEntry.
func ParseMode(s string) (Mode, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", string(ModeEntry):
		return ModeEntry, nil
	case string(ModeBatch):
		return ModeBatch, nil
	}
	return "", fmt.Errorf("%w: mode %q: want %q or %q", ErrInvalidConfig, s, ModeEntry, ModeBatch)
}

// Paths and defaults. The paths are those of the real receivers, except
// DefaultBatchPath: the standards show a batch body but name no path for it.
const (
	LogsPath    = "/api/v1/logs"
	MetricsPath = "/api/v1/metrics"
	HealthPath  = "/healthz"

	DefaultBatchPath        = "/api/v1/batch"
	DefaultMetricsPort      = "8082"
	DefaultFlushInterval    = 5 * time.Second
	DefaultBatchSize        = 500
	DefaultBufferSize       = 10000
	DefaultConcurrency      = 4
	DefaultMaxRetries       = 3
	DefaultRetryBackoff     = 200 * time.Millisecond
	DefaultRequestTimeout   = 10 * time.Second
	DefaultCircuitThreshold = 5

	// ECSVersion is written as ecs.version in every document.
	ECSVersion = "8.11.0"
)

// Environment variables read by ConfigFromEnv. The first five are named by
// the PenguinTech integration standards; the others are rookery's additions.
const (
	EnvEnabled       = "KILLKRILL_ENABLED"
	EnvAPIURL        = "KILLKRILL_API_URL"
	EnvGRPCURL       = "KILLKRILL_GRPC_URL"
	EnvClientID      = "KILLKRILL_CLIENT_ID"
	EnvClientSecret  = "KILLKRILL_CLIENT_SECRET"
	EnvMetricsURL    = "KILLKRILL_METRICS_URL"
	EnvMode          = "KILLKRILL_MODE"
	EnvBatchPath     = "KILLKRILL_BATCH_PATH"
	EnvFlushInterval = "KILLKRILL_FLUSH_INTERVAL"
	EnvFallbackFile  = "KILLKRILL_FALLBACK_FILE"
	EnvServiceName   = "KILLKRILL_SERVICE_NAME"
)

// ErrInvalidConfig is wrapped by every configuration error.
var ErrInvalidConfig = errors.New("invalid killkrill configuration")

// Config holds every setting of a Shipper. Zero values mean the documented
// default, so a Config with only Enabled and LogURL set is complete.
type Config struct {
	// Enabled switches shipping on. When false every entry goes to the local
	// fallback.
	Enabled bool
	// LogURL is the log receiver's base URL (KILLKRILL_API_URL), e.g.
	// http://killkrill-receiver:8081. Required when Enabled.
	LogURL string
	// MetricsURL is the metrics receiver's base URL. Empty means
	// DefaultMetricsURL(LogURL): the same host on port 8082.
	MetricsURL string
	// GRPCURL (KILLKRILL_GRPC_URL) is accepted for compatibility with the
	// standards but never dialled: the receivers register no ingest RPC.
	GRPCURL string
	// ClientID is sent as X-Client-ID. The real receivers ignore it.
	ClientID string
	// ClientSecret is sent as X-Client-Secret. The real receivers ignore it.
	// It is never logged or printed.
	ClientSecret Secret
	// ServiceName fills service.name. Empty means the program's file name.
	ServiceName string
	// Mode selects the transport; empty means ModeEntry.
	Mode Mode
	// BatchPath is the path batches are POSTed to in ModeBatch; empty means
	// DefaultBatchPath.
	BatchPath string

	// FlushInterval is how often the buffer is sent (default 5 s). A flush
	// also starts as soon as BatchSize entries are waiting.
	FlushInterval time.Duration
	// BatchSize is the number of entries taken from the buffer at a time and
	// the largest batch body in ModeBatch (default 500).
	BatchSize int
	// BufferSize bounds the in-memory buffer, logs and metrics together
	// (default 10000 entries).
	BufferSize int
	// Concurrency bounds the requests in flight in ModeEntry (default 4).
	Concurrency int
	// MaxRetries is the number of retries after a transport error or a 5xx
	// answer (default 3; negative means none). 4xx answers are not retried.
	MaxRetries int
	// RetryBackoff is the first wait between retries; it doubles each retry
	// up to 5 s, and each wait is drawn between half and all of it so that
	// many shippers do not retry in step (default 200 ms).
	RetryBackoff time.Duration
	// RequestTimeout bounds each HTTP request (default 10 s).
	RequestTimeout time.Duration
	// CircuitThreshold is the number of consecutive failed deliveries after
	// which entries go straight to the fallback and the receiver's /healthz is
	// probed once per FlushInterval until it answers 200 (default 5).
	CircuitThreshold int

	// Fallback receives entries that are not delivered, as ECS JSON lines.
	// Nil means os.Stderr, unless FallbackFile is set.
	Fallback io.Writer
	// FallbackFile, when set, is opened for appending and used instead of
	// Fallback. The Shipper closes it on Shutdown.
	FallbackFile string
	// HTTPClient replaces the Shipper's own client (pooled keep-alive
	// connections sized to Concurrency).
	HTTPClient *http.Client

	// SpoolDir, when set, is a directory where entries that cannot be
	// delivered are kept on disk and from which they are sent again, in
	// order, once the receiver answers, also after a restart. Only the
	// shipping goroutine writes it. Empty means no spool: undelivered
	// entries go to the local fallback. The first Config (New or
	// Reconfigure) that names a directory opens it; it is not moved later.
	SpoolDir string
	// SpoolMaxBytes caps the spool (default 256 MiB). When full, the oldest
	// non-error entries are dropped first and counted.
	SpoolMaxBytes int64
}

// DefaultSpoolMaxBytes is the spool cap when SpoolMaxBytes is zero.
const DefaultSpoolMaxBytes = 256 << 20

// ConfigFromEnv reads the KILLKRILL_* variables through lookup (os.LookupEnv
// when nil). KILLKRILL_ENABLED defaults to true when KILLKRILL_API_URL is set.
// The result is validated.
func ConfigFromEnv(lookup func(string) (string, bool)) (Config, error) {
	if lookup == nil {
		lookup = os.LookupEnv
	}
	get := func(k string) string {
		v, _ := lookup(k)
		return strings.TrimSpace(v)
	}
	cfg := Config{
		LogURL:       get(EnvAPIURL),
		MetricsURL:   get(EnvMetricsURL),
		GRPCURL:      get(EnvGRPCURL),
		ClientID:     get(EnvClientID),
		ClientSecret: NewSecret(get(EnvClientSecret)),
		BatchPath:    get(EnvBatchPath),
		FallbackFile: get(EnvFallbackFile),
		ServiceName:  get(EnvServiceName),
	}
	cfg.Enabled = cfg.LogURL != ""
	if v := get(EnvEnabled); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return Config{}, fmt.Errorf("%w: %s=%q: want true or false", ErrInvalidConfig, EnvEnabled, v)
		}
		cfg.Enabled = b
	}
	mode, err := ParseMode(get(EnvMode))
	if err != nil {
		return Config{}, fmt.Errorf("%s: %w", EnvMode, err)
	}
	cfg.Mode = mode
	if v := get(EnvFlushInterval); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			return Config{}, fmt.Errorf("%w: %s=%q: want a positive duration such as 5s", ErrInvalidConfig, EnvFlushInterval, v)
		}
		cfg.FlushInterval = d
	}
	if err := cfg.Validate(); err != nil {
		return Config{}, err
	}
	return cfg, nil
}

// Validate reports the first problem with c, wrapped in ErrInvalidConfig.
// URLs are checked only when Enabled, so a disabled Config may carry
// half-filled settings.
func (c Config) Validate() error {
	if _, err := ParseMode(string(c.Mode)); err != nil {
		return err
	}
	if c.BatchPath != "" && !strings.HasPrefix(c.BatchPath, "/") {
		return fmt.Errorf("%w: batch path %q must start with /", ErrInvalidConfig, c.BatchPath)
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{
		{"flush interval", c.FlushInterval},
		{"retry backoff", c.RetryBackoff},
		{"request timeout", c.RequestTimeout},
	} {
		if d.v < 0 {
			return fmt.Errorf("%w: %s %v must not be negative", ErrInvalidConfig, d.name, d.v)
		}
	}
	for _, n := range []struct {
		name string
		v    int
	}{
		{"batch size", c.BatchSize},
		{"buffer size", c.BufferSize},
		{"concurrency", c.Concurrency},
		{"circuit threshold", c.CircuitThreshold},
	} {
		if n.v < 0 {
			return fmt.Errorf("%w: %s %d must not be negative", ErrInvalidConfig, n.name, n.v)
		}
	}
	if c.SpoolMaxBytes < 0 {
		return fmt.Errorf("%w: spool size %d must not be negative", ErrInvalidConfig, c.SpoolMaxBytes)
	}
	if !c.Enabled {
		return nil
	}
	if c.LogURL == "" {
		return fmt.Errorf("%w: log URL (%s) is required when KillKrill is enabled", ErrInvalidConfig, EnvAPIURL)
	}
	if _, err := checkBaseURL("log URL", c.LogURL); err != nil {
		return err
	}
	if c.MetricsURL != "" {
		if _, err := checkBaseURL("metrics URL", c.MetricsURL); err != nil {
			return err
		}
	}
	return nil
}

// checkBaseURL parses a receiver base URL. Its errors never repeat the raw
// text, which may carry a password in its user info.
func checkBaseURL(what, raw string) (*url.URL, error) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil {
		return nil, fmt.Errorf("%w: %s is not a valid URL", ErrInvalidConfig, what)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("%w: %s %s: scheme must be http or https", ErrInvalidConfig, what, u.Redacted())
	}
	if u.Host == "" {
		return nil, fmt.Errorf("%w: %s %s: host is missing", ErrInvalidConfig, what, u.Redacted())
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("%w: %s %s: must not have a query or fragment", ErrInvalidConfig, what, u.Redacted())
	}
	return u, nil
}

// DefaultMetricsURL derives the metrics receiver's URL from the log
// receiver's: same scheme and host, port 8082, no path. The standards give
// one URL for both, but the real metrics receiver is a separate service on
// 8082. It returns "" when logURL is not an http(s) URL with a host.
func DefaultMetricsURL(logURL string) string {
	u, err := url.Parse(strings.TrimSpace(logURL))
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return ""
	}
	out := url.URL{Scheme: u.Scheme, User: u.User, Host: net.JoinHostPort(u.Hostname(), DefaultMetricsPort)}
	return out.String()
}

// withDefaults returns c with every zero value replaced by its default.
func (c Config) withDefaults() Config {
	if c.Mode == "" {
		c.Mode = ModeEntry
	} else if m, err := ParseMode(string(c.Mode)); err == nil {
		c.Mode = m
	}
	c.BatchPath = cmp.Or(c.BatchPath, DefaultBatchPath)
	c.MetricsURL = cmp.Or(c.MetricsURL, DefaultMetricsURL(c.LogURL))
	if c.ServiceName == "" {
		c.ServiceName = defaultServiceName()
	}
	c.FlushInterval = cmp.Or(c.FlushInterval, DefaultFlushInterval)
	c.BatchSize = cmp.Or(c.BatchSize, DefaultBatchSize)
	c.BufferSize = cmp.Or(c.BufferSize, DefaultBufferSize)
	c.Concurrency = cmp.Or(c.Concurrency, DefaultConcurrency)
	// A negative MaxRetries stays negative so that applying the defaults
	// twice cannot turn "no retries" into the default.
	c.MaxRetries = cmp.Or(c.MaxRetries, DefaultMaxRetries)
	c.RetryBackoff = cmp.Or(c.RetryBackoff, DefaultRetryBackoff)
	c.RequestTimeout = cmp.Or(c.RequestTimeout, DefaultRequestTimeout)
	c.CircuitThreshold = cmp.Or(c.CircuitThreshold, DefaultCircuitThreshold)
	c.SpoolMaxBytes = cmp.Or(c.SpoolMaxBytes, DefaultSpoolMaxBytes)
	return c
}

func defaultServiceName() string {
	if len(os.Args) > 0 && os.Args[0] != "" {
		return filepath.Base(os.Args[0])
	}
	return "unknown"
}

// joinURL appends path to a base URL that may or may not end in a slash or
// carry a path prefix of its own.
func joinURL(base, path string) string {
	return strings.TrimRight(strings.TrimSpace(base), "/") + path
}
