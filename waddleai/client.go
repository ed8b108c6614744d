package waddleai

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/rookery/rookery/backoff"
)

// Defaults. The standards name port 8000 (older gateway releases); the
// gateway as published listens on 8080.
const (
	DefaultURL        = "http://waddleai:8080"
	DefaultTimeout    = 30 * time.Second
	DefaultRetries    = 2
	DefaultBackoff    = 250 * time.Millisecond
	DefaultMaxBackoff = 2 * time.Second
)

// Bodies are read into memory; these bound what a broken or hostile gateway
// can make us hold.
const (
	maxBodyBytes  = 16 << 20
	maxErrorBytes = 64 << 10
)

// Config is the part of the client an administrator can change while the
// program runs (waddleai_url, waddleai_api_key, waddleai_timeout,
// waddleai_model). Pass it to [Client.Update].
type Config struct {
	BaseURL string        // e.g. http://waddleai:8080; a trailing /v1 is accepted and dropped
	APIKey  Secret        // usually wa-...; may be empty, but the gateway then answers 401
	Timeout time.Duration // 0 means DefaultTimeout
	Model   string        // used when a request names none; empty lets the gateway choose
}

// Option configures a Client at construction.
type Option func(*options)

type options struct {
	httpClient *http.Client
	timeout    time.Duration
	model      string
	retries    int
	backoff    time.Duration
	maxBackoff time.Duration
	logger     *slog.Logger
	userAgent  string
}

// WithHTTPClient makes the client send through hc (a custom transport, a
// proxy, TLS settings). The client never changes hc; keep hc.Timeout at zero
// and use WithTimeout, since an overall http.Client timeout would also cut
// off long streams.
func WithHTTPClient(hc *http.Client) Option { return func(o *options) { o.httpClient = hc } }

// WithTimeout sets how long a call may wait for the gateway (WADDLEAI_TIMEOUT);
// 0 means DefaultTimeout. For a plain call it bounds the whole call, retries
// included. For a stream it bounds the wait for the first byte and then each
// silence between two events, so a long generation can stream for minutes.
func WithTimeout(d time.Duration) Option { return func(o *options) { o.timeout = d } }

// WithModel sets the model used when a request names none.
func WithModel(model string) Option { return func(o *options) { o.model = model } }

// WithRetries sets how many times a call is repeated after a failure that is
// safe to repeat: the connection could not be made, or the gateway answered
// 502, 503 or 504 before anything was delivered. 0 disables retries.
func WithRetries(n int) Option { return func(o *options) { o.retries = n } }

// WithBackoff sets the wait before the first retry and its upper bound; the
// wait doubles on each retry, and each wait is drawn between half and all of
// its step so that many clients do not retry in step. A limit below first
// is raised to first.
func WithBackoff(first, limit time.Duration) Option {
	return func(o *options) { o.backoff, o.maxBackoff = first, limit }
}

// WithLogger makes the client log its retries. Without it the client is silent.
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.logger = l } }

// WithUserAgent sets the User-Agent header.
func WithUserAgent(ua string) Option { return func(o *options) { o.userAgent = ua } }

// Client talks to one WaddleAI gateway. It is safe for concurrent use and
// starts no goroutines; Close releases idle connections.
type Client struct {
	hc     *http.Client
	ownsHC bool
	// retry is WithRetries and WithBackoff on the shared backoff policy.
	retry     backoff.Policy
	log       *slog.Logger
	userAgent string

	// st is swapped whole by Update, so a request sees one consistent set of
	// settings without holding a lock.
	st atomic.Pointer[state]
}

// state is an immutable snapshot of the runtime settings.
type state struct {
	cfg       Config
	bearer    Secret // "Bearer <key>", built once
	chatURL   string
	modelsURL string
	healthURL string
	readyURL  string
}

// New returns a client for the gateway at baseURL. It does no I/O, so it is
// cheap; the key is opaque and may be empty (health checks need none).
func New(baseURL, apiKey string, opts ...Option) (*Client, error) {
	o := options{
		retries:    DefaultRetries,
		backoff:    DefaultBackoff,
		maxBackoff: DefaultMaxBackoff,
		userAgent:  "rookery-waddleai/1",
	}
	for _, opt := range opts {
		if opt != nil {
			opt(&o)
		}
	}
	switch {
	case o.retries < 0:
		return nil, fmt.Errorf("waddleai: %w: retries must be 0 or more, got %d", ErrInvalidInput, o.retries)
	case o.backoff < 0 || o.maxBackoff < 0:
		return nil, fmt.Errorf("waddleai: %w: backoff must not be negative", ErrInvalidInput)
	}
	if o.maxBackoff < o.backoff {
		o.maxBackoff = o.backoff
	}
	c := &Client{
		hc:        o.httpClient,
		retry:     backoff.Policy{First: o.backoff, Max: o.maxBackoff, Jitter: backoff.EqualJitter, Retries: o.retries},
		log:       o.logger,
		userAgent: o.userAgent,
	}
	if c.hc == nil {
		// Our own transport, so that Close can drop its connections without
		// touching anybody else's.
		c.hc = &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
		c.ownsHC = true
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	if err := c.Update(Config{BaseURL: baseURL, APIKey: NewSecret(apiKey), Timeout: o.timeout, Model: o.model}); err != nil {
		return nil, err
	}
	return c, nil
}

// Update replaces the runtime settings. It is safe to call while requests are
// in flight: they finish with the settings they started with, later ones use
// the new settings. On error the old settings stay.
func (c *Client) Update(cfg Config) error {
	st, err := newState(cfg)
	if err != nil {
		return err
	}
	c.st.Store(st)
	return nil
}

// Config returns the current runtime settings (normalised).
func (c *Client) Config() Config { return c.st.Load().cfg }

// Close drops idle connections of the client's own transport. The client
// stays usable. Streams must be closed by whoever opened them.
func (c *Client) Close() error {
	if c.ownsHC {
		c.hc.CloseIdleConnections()
	}
	return nil
}

// String describes the client without its key.
func (c *Client) String() string {
	cfg := c.Config()
	return fmt.Sprintf("waddleai.Client{url=%s key=%s timeout=%s model=%q}", cfg.BaseURL, cfg.APIKey, cfg.Timeout, cfg.Model)
}

// GoString keeps %#v from walking into the client's fields.
func (c *Client) GoString() string { return c.String() }

// LogValue describes the client to log/slog without its key.
func (c *Client) LogValue() slog.Value {
	cfg := c.Config()
	return slog.GroupValue(
		slog.String("url", cfg.BaseURL),
		slog.Any("api_key", cfg.APIKey),
		slog.Duration("timeout", cfg.Timeout),
		slog.String("model", cfg.Model),
	)
}

func newState(cfg Config) (*state, error) {
	base, err := normaliseURL(cfg.BaseURL)
	if err != nil {
		return nil, err
	}
	key := strings.TrimSpace(cfg.APIKey.Reveal())
	for _, r := range key {
		if r <= ' ' || r == 0x7f {
			return nil, fmt.Errorf("waddleai: %w: the API key contains spaces or control characters", ErrInvalidInput)
		}
	}
	switch {
	case cfg.Timeout < 0:
		return nil, fmt.Errorf("waddleai: %w: timeout must not be negative, got %s", ErrInvalidInput, cfg.Timeout)
	case cfg.Timeout == 0:
		cfg.Timeout = DefaultTimeout
	}
	cfg.BaseURL = base
	cfg.APIKey = NewSecret(key)
	cfg.Model = strings.TrimSpace(cfg.Model)
	st := &state{
		cfg:       cfg,
		chatURL:   base + "/v1/chat/completions",
		modelsURL: base + "/v1/models",
		healthURL: base + "/healthz",
		readyURL:  base + "/readyz",
	}
	if key != "" {
		st.bearer = NewSecret("Bearer " + key)
	}
	return st, nil
}

// normaliseURL checks the base URL and returns it without a trailing slash
// or /v1 (OpenAI tools often want the /v1 form; we add the paths ourselves).
func normaliseURL(raw string) (string, error) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return "", fmt.Errorf("waddleai: %w: the gateway URL is empty; set waddleai_url, e.g. %s", ErrInvalidInput, DefaultURL)
	}
	u, err := url.Parse(raw)
	if err != nil {
		// The url.Error would repeat the raw string, which could hold a password.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return "", fmt.Errorf("waddleai: %w: the gateway URL cannot be parsed: %v", ErrInvalidInput, err)
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return "", fmt.Errorf("waddleai: %w: the gateway URL must start with http:// or https://, e.g. %s", ErrInvalidInput, DefaultURL)
	case u.Host == "":
		return "", fmt.Errorf("waddleai: %w: the gateway URL has no host", ErrInvalidInput)
	case u.User != nil:
		return "", fmt.Errorf("waddleai: %w: the gateway URL must not carry credentials; set the API key instead", ErrInvalidInput)
	case u.RawQuery != "" || u.Fragment != "" || u.ForceQuery:
		return "", fmt.Errorf("waddleai: %w: the gateway URL must not have a query or fragment", ErrInvalidInput)
	}
	u.Path = strings.TrimRight(u.Path, "/")
	u.Path = strings.TrimSuffix(u.Path, "/v1")
	u.RawPath = ""
	return strings.TrimRight(u.String(), "/"), nil
}

// ParseTimeout reads WADDLEAI_TIMEOUT: whole or fractional seconds ("30",
// "2.5") as the standards write it, or a Go duration ("45s", "2m"). Empty
// means DefaultTimeout.
func ParseTimeout(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return DefaultTimeout, nil
	}
	var d time.Duration
	if secs, err := strconv.ParseFloat(s, 64); err == nil {
		if math.IsNaN(secs) || math.IsInf(secs, 0) || secs > float64(1<<62)/float64(time.Second) {
			return 0, fmt.Errorf("waddleai: %w: timeout %q is out of range", ErrInvalidInput, s)
		}
		d = time.Duration(secs * float64(time.Second))
	} else if d, err = time.ParseDuration(s); err != nil {
		return 0, fmt.Errorf("waddleai: %w: timeout %q is neither seconds nor a duration like 30s", ErrInvalidInput, s)
	}
	if d <= 0 {
		return 0, fmt.Errorf("waddleai: %w: timeout %q must be positive", ErrInvalidInput, s)
	}
	return d, nil
}

// call describes one HTTP exchange.
type call struct {
	op     string // for errors and logs: "chat completion", "models", ...
	method string
	url    string
	body   []byte
	auth   bool
	accept string
	retry  bool
}

// send performs c, repeating it when that is safe, as the client's retry
// policy says. It returns the response of the last attempt whatever its
// status; the caller maps non-2xx statuses. ctx must already carry the
// client timeout.
func (c *Client) send(ctx context.Context, st *state, cl call) (*http.Response, error) {
	p := c.retry
	if !cl.retry {
		p.Retries = 0
	}
	p.OnRetry = func(attempt int, err error, wait time.Duration) {
		c.log.LogAttrs(ctx, slog.LevelWarn, "waddleai: retrying",
			slog.String("op", cl.op), slog.Int("attempt", attempt+2), slog.String("reason", err.Error()), slog.Duration("wait", wait))
	}
	var resp *http.Response
	err := backoff.Retry(ctx, p, func(attempt int) error {
		var body io.Reader
		if cl.body != nil {
			body = bytes.NewReader(cl.body)
		}
		req, err := http.NewRequestWithContext(ctx, cl.method, cl.url, body)
		if err != nil {
			return backoff.Permanent(fmt.Errorf("build request: %w", err))
		}
		if cl.body != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		if cl.accept != "" {
			req.Header.Set("Accept", cl.accept)
		}
		if cl.auth && st.bearer.IsSet() {
			req.Header.Set("Authorization", st.bearer.Reveal())
		}
		req.Header.Set("User-Agent", c.userAgent)

		r, err := c.hc.Do(req)
		if err != nil {
			terr := transportError(ctx, st.cfg.Timeout.String(), err)
			if !isDialError(err) || ctx.Err() != nil {
				// The request may have reached the gateway, or the caller
				// gave up: repeating is not safe or not wanted.
				return backoff.Permanent(terr)
			}
			return terr
		}
		if attempt < p.Retries && retryableStatus(r.StatusCode) {
			// Nothing of this answer reaches the caller, so repeating is safe.
			_, _ = io.Copy(io.Discard, io.LimitReader(r.Body, maxErrorBytes))
			r.Body.Close()
			return errors.New(r.Status)
		}
		resp = r
		return nil
	})
	if err != nil {
		if ctx.Err() != nil {
			// The wait before a retry was cut short: report the timeout or
			// the caller's cancellation, not the attempt before it.
			err = transportError(ctx, st.cfg.Timeout.String(), err)
		}
		return nil, fmt.Errorf("waddleai: %s: %w", cl.op, err)
	}
	return resp, nil
}

func retryableStatus(code int) bool {
	return code == http.StatusBadGateway || code == http.StatusServiceUnavailable || code == http.StatusGatewayTimeout
}

// statusError reads a non-2xx answer into an *APIError.
func statusError(st *state, op string, resp *http.Response) error {
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBytes))
	return fmt.Errorf("waddleai: %s: %w", op, parseErrorBody(resp.StatusCode, body, st.cfg.APIKey))
}

// roundTrip performs a non-streaming call and returns the body of a 2xx
// answer, all under the client timeout.
func (c *Client) roundTrip(ctx context.Context, st *state, cl call) ([]byte, error) {
	ctx, cancel := context.WithTimeoutCause(ctx, st.cfg.Timeout, errClientTimeout)
	defer cancel()
	resp, err := c.send(ctx, st, cl)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return nil, statusError(st, cl.op, resp)
	}
	body, err := readBody(resp)
	if errors.Is(err, errTooLarge) {
		return nil, fmt.Errorf("waddleai: %s: %w", cl.op, &kindError{kind: ErrUnexpected, msg: "the answer is too large", err: err})
	}
	if err != nil {
		return nil, fmt.Errorf("waddleai: %s: read answer: %w", cl.op, transportError(ctx, st.cfg.Timeout.String(), err))
	}
	return body, nil
}

var errTooLarge = fmt.Errorf("answer larger than %d bytes", maxBodyBytes)

func readBody(resp *http.Response) ([]byte, error) {
	var buf bytes.Buffer
	if n := resp.ContentLength; n > 0 && n <= maxBodyBytes {
		buf.Grow(int(n))
	}
	n, err := buf.ReadFrom(io.LimitReader(resp.Body, maxBodyBytes+1))
	if err != nil {
		return nil, err
	}
	if n > maxBodyBytes {
		return nil, errTooLarge
	}
	return buf.Bytes(), nil
}
