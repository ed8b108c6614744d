package license

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultInterval is how often the manager re-validates the licence and sends
// a keepalive.
const DefaultInterval = time.Hour

// Options configure a [Manager]. The zero value is usable: no cache file,
// hourly loop, system clock, slog.Default.
type Options struct {
	// CacheFile is where the last successful validation is kept, for
	// example filepath.Join(dataDir, DefaultCacheFileName). Empty means the
	// result is kept in memory only and does not survive a restart.
	CacheFile string
	// MaxCacheAge is how long a cached validation may stand in for an
	// unreachable server; default DefaultMaxCacheAge (7 days). A cached
	// result is never used past the licence's expires_at.
	MaxCacheAge time.Duration
	// Interval is the period of the background loop, which re-validates
	// the licence and then sends a keepalive; default DefaultInterval.
	Interval time.Duration
	// Timeout bounds each call to the licence server; default DefaultTimeout.
	Timeout time.Duration
	// HTTPClient sends the requests; nil means a private client.
	HTTPClient *http.Client
	// Logger receives warnings about failed validations and keepalives;
	// nil means slog.Default().
	Logger *slog.Logger
	// Clock drives the loop and the expiry checks; nil means the system clock.
	Clock Clock
	// Usage gathers the figures for the keepalive; nil sends none. Its
	// context ends after Timeout.
	Usage func(ctx context.Context) (Usage, error)
	// Hostname and Version are reported in the keepalive. Hostname
	// defaults to os.Hostname().
	Hostname string
	Version  string
	// UserAgent is sent to the licence server.
	UserAgent string
	// FeatureTiers is the tier catalogue, usually [StandardCatalogue]
	// plus the application's own features. A valid licence of a feature's
	// tier or higher grants it (HasFeature) even when the server does not
	// list it as entitled. A 403 names the tier to buy; for that message a
	// tier the server states in feature metadata ("tier") takes precedence.
	// Nil means features are granted only by the server's list.
	FeatureTiers Catalogue
}

// Manager holds the licence state of a running service.
//
// Reads (HasFeature, Tier, AtLeast, Limits, Status) load an immutable
// snapshot and are safe and cheap from any goroutine; they never touch the
// network. Start, Refresh, Reconfigure and the background loop build new
// snapshots one at a time.
type Manager struct {
	opts   Options
	clock  Clock
	logger *slog.Logger
	state  atomic.Pointer[snapshot]
	usage  *usageCounter

	// mu serialises everything that builds a snapshot. Readers never take it.
	mu        sync.Mutex
	settings  Settings
	client    *Client
	view      view
	lastGood  *cacheRecord // last live validation for the current key
	startedAt time.Time

	life    sync.Mutex // guards the fields below
	started bool
	cancel  context.CancelFunc
	done    chan struct{}
}

// New returns a Manager for s. It makes no request: call Start.
func New(s Settings, opts Options) (*Manager, error) {
	s, err := s.normalize()
	if err != nil {
		return nil, err
	}
	switch {
	case opts.MaxCacheAge < 0:
		return nil, fmt.Errorf("licence cache age must not be negative, got %s", opts.MaxCacheAge)
	case opts.Interval < 0:
		return nil, fmt.Errorf("licence check interval must not be negative, got %s", opts.Interval)
	case opts.Timeout < 0:
		return nil, fmt.Errorf("licence server timeout must not be negative, got %s", opts.Timeout)
	}
	if opts.MaxCacheAge == 0 {
		opts.MaxCacheAge = DefaultMaxCacheAge
	}
	if opts.Interval == 0 {
		opts.Interval = DefaultInterval
	}
	if opts.Clock == nil {
		opts.Clock = systemClock{}
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Hostname == "" {
		opts.Hostname, _ = os.Hostname()
	}
	opts.FeatureTiers = maps.Clone(opts.FeatureTiers)

	m := &Manager{
		opts:     opts,
		clock:    opts.Clock,
		logger:   opts.Logger,
		usage:    newUsageCounter(),
		settings: s,
		view:     view{source: SourceNone},
	}
	if m.client, err = m.newClient(s.ServerURL); err != nil {
		return nil, err
	}
	m.publishLocked()
	return m, nil
}

func (m *Manager) newClient(serverURL string) (*Client, error) {
	return NewClient(ClientOptions{
		ServerURL:  serverURL,
		HTTPClient: m.opts.HTTPClient,
		Timeout:    m.opts.Timeout,
		UserAgent:  m.opts.UserAgent,
		Now:        m.clock.Now,
	})
}

// HasFeature reports whether the named feature may be used: the licence
// server lists it as entitled, or the licence's tier includes it by
// [Options.FeatureTiers]. The name may be bare ("audit_logs") or qualified
// with the product ("rookery.audit_logs"); either form granted counts for
// both. In development mode every feature is enabled.
func (m *Manager) HasFeature(name string) bool {
	s := m.state.Load()
	if s.allowAll {
		return true
	}
	return s.features.has(name)
}

// Tier returns the effective tier: the licensed tier with a valid licence,
// Community without one, and Enterprise in development mode (where everything
// is allowed). Status().Tier reports what the server said.
func (m *Manager) Tier() Tier { return m.state.Load().tier }

// AtLeast reports whether the effective tier is t or higher.
func (m *Manager) AtLeast(t Tier) bool { return m.state.Load().tier >= t }

// Limits returns the effective limits: the licence's limits with a valid
// licence in release mode, and none (everything allowed) otherwise.
func (m *Manager) Limits() Limits { return m.state.Load().limits }

// Status returns a report of the licence state.
func (m *Manager) Status() Status { return m.state.Load().status.clone() }

// Changed returns a channel that is closed when the licence state changes,
// that is when Status would return something new. Call it again after it
// fires to wait for the next change. Reading it takes no lock.
func (m *Manager) Changed() <-chan struct{} { return m.state.Load().changed }

// RecordFeatureUse counts one use of a feature for the next keepalive.
// RequireFeature counts allowed requests by itself.
func (m *Manager) RecordFeatureUse(name string) {
	if c := m.usage.counter(name); c != nil {
		c.Add(1)
	}
}

// FeatureUses returns every use of each feature counted since start (by
// RequireFeature and RecordFeatureUse), for metrics such as features.used.
func (m *Manager) FeatureUses() map[string]int64 { return m.usage.totals() }

// Start validates the licence and starts the background loop that
// re-validates it and sends a keepalive every Interval.
//
// With ReleaseMode on, Start fails when there is no key ([ErrKeyRequired]) or
// when the licence is not valid and no usable cached result exists; the error
// is one line giving the reason, meant to be printed before the process exits
// non-zero. No goroutine is left running when Start fails. In development mode
// a failed validation is logged and Start succeeds.
func (m *Manager) Start(ctx context.Context) error {
	m.life.Lock()
	defer m.life.Unlock()
	if m.started {
		return errors.New("licence manager already started")
	}

	m.mu.Lock()
	m.startedAt = m.clock.Now()
	err := m.validateLocked(ctx)
	release, noKey := m.settings.ReleaseMode, m.settings.Key == ""
	valid := m.view.valid
	m.mu.Unlock()

	if !release {
		m.logger.Info("licence enforcement is off (RELEASE_MODE=false): all features are enabled", "licence_key_set", !noKey)
	}

	if release && !valid {
		if errors.Is(err, ErrKeyRequired) {
			return ErrKeyRequired
		}
		if err == nil {
			err = errors.New("no valid licence")
		}
		return oneLine{fmt.Errorf("licence not valid (RELEASE_MODE=true): %w", err)}
	}

	ticker := m.clock.NewTicker(m.opts.Interval)
	loopCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	m.started = true
	m.cancel = cancel
	m.done = make(chan struct{})
	go m.run(loopCtx, ticker, m.done)
	return nil
}

// Shutdown stops the background loop and waits for it to finish, or for ctx
// to end. It is safe to call more than once and without Start.
func (m *Manager) Shutdown(ctx context.Context) error {
	m.life.Lock()
	cancel, done := m.cancel, m.done
	m.life.Unlock()
	if cancel == nil {
		return nil
	}
	cancel()
	select {
	case <-done:
	case <-ctx.Done():
		return fmt.Errorf("shut down licence manager: %w", ctx.Err())
	}
	// Free pooled connections unless a Refresh or Reconfigure is using the
	// client right now; waiting for it would ignore ctx, and idle
	// connections time out on their own.
	if m.mu.TryLock() {
		m.client.closeIdle()
		m.mu.Unlock()
	}
	return nil
}

func (m *Manager) run(ctx context.Context, ticker Ticker, done chan<- struct{}) {
	defer close(done)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C():
			// Failures are logged and recorded in the status by the calls
			// themselves; the loop only carries on.
			_ = m.Refresh(ctx)
			if ctx.Err() != nil {
				return
			}
			_ = m.SendKeepalive(ctx)
		}
	}
}

// Refresh re-validates the licence now. It returns the validation error, if
// any, even when a cached result keeps the licence in force; Status().Source
// tells which happened.
func (m *Manager) Refresh(ctx context.Context) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.validateLocked(ctx)
}

// Reconfigure applies new settings (key, server URL, product, release mode)
// and re-validates at once. Settings that cannot be valid (a plain-http remote
// URL, a key without a product) are refused and nothing changes. Otherwise the
// settings are applied and the returned error, if any, is the outcome of the
// validation, as for Refresh. Safe to call concurrently with reads.
func (m *Manager) Reconfigure(ctx context.Context, s Settings) error {
	s, err := s.normalize()
	if err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if s.ServerURL != m.settings.ServerURL {
		client, err := m.newClient(s.ServerURL)
		if err != nil {
			return err
		}
		m.client.closeIdle()
		m.client = client
	}
	if s.Key != m.settings.Key || s.Product != m.settings.Product {
		m.lastGood = nil
		m.view.lastChecked = time.Time{} // that check was of another licence
	}
	m.settings = s
	return m.validateLocked(ctx)
}

// validateLocked asks the server and turns the answer into the new state,
// following the error handling of the integration standards.
func (m *Manager) validateLocked(ctx context.Context) error {
	s := m.settings
	now := m.clock.Now()
	keepalive, checked := m.view.lastKeepalive, m.view.lastChecked

	if s.Key == "" {
		m.lastGood = nil
		m.view = view{source: SourceNone, lastKeepalive: keepalive}
		if s.ReleaseMode {
			m.view.lastErr, m.view.lastErrOp = ErrKeyRequired.Error(), "validate"
			m.logger.Error("no licence key configured", "error", ErrKeyRequired.Error())
			m.publishLocked()
			return ErrKeyRequired
		}
		// Debug only: the hourly loop comes through here too; Start
		// announces development mode once.
		m.logger.Debug("no licence key configured; RELEASE_MODE=false, so all features are enabled")
		m.publishLocked()
		return nil
	}

	v, err := m.client.Validate(ctx, s.Key, s.Product)
	if asked(err) && ctx.Err() == nil {
		checked = now
	}
	if err == nil {
		rec := &cacheRecord{Version: cacheVersion, KeySHA256: keyDigest(s.Key), Product: s.Product, ValidatedAt: now, Validation: v}
		m.lastGood = rec
		m.view = view{result: v, valid: true, source: SourceLive, validatedAt: now, lastKeepalive: keepalive, lastChecked: checked}
		m.storeCacheLocked(rec)
		m.publishLocked()
		m.logger.Info("licence validated", "key", s.Key, "product", s.Product, "tier", v.Tier.String(),
			"customer", v.Customer, "expires_at", v.ExpiresAt, "release_mode", s.ReleaseMode)
		return nil
	}
	if errors.Is(err, ErrUnavailable) && ctx.Err() != nil {
		// Cancelled (shutting down): nothing was learnt about the licence.
		return err
	}

	switch {
	case errors.Is(err, ErrUnavailable):
		rec, reason := m.fallbackLocked(now)
		if rec != nil {
			m.view = view{result: rec.Validation, valid: true, source: SourceCached, validatedAt: rec.ValidatedAt,
				lastErr: err.Error(), lastErrOp: "validate", lastKeepalive: keepalive, lastChecked: checked}
			m.publishLocked()
			m.logger.Warn("licence server unavailable; using the last good validation",
				"key", s.Key, "validated_at", rec.ValidatedAt, "error", err.Error())
			return err
		}
		err = fmt.Errorf("%w; %s", err, reason)
		m.view = view{source: SourceNone, lastKeepalive: keepalive, lastChecked: checked}
	case errors.Is(err, ErrExpired):
		m.lastGood = nil
		m.dropCacheLocked(s)
		m.view = view{result: v, source: SourceLive, validatedAt: now, lastKeepalive: keepalive, lastChecked: checked}
	default:
		// Rejected, or a malformed key: the licence is not valid, and an
		// earlier good result must not bring it back after a restart.
		m.lastGood = nil
		if errors.Is(err, ErrRejected) {
			m.dropCacheLocked(s)
		}
		m.view = view{source: SourceNone, lastKeepalive: keepalive, lastChecked: checked}
	}
	m.view.lastErr, m.view.lastErrOp = err.Error(), "validate"
	m.publishLocked()
	if s.ReleaseMode {
		m.logger.Warn("licence not valid; licensed features are disabled", "key", s.Key, "error", err.Error())
	} else {
		m.logger.Warn("licence validation failed; RELEASE_MODE=false, so all features stay enabled", "key", s.Key, "error", err.Error())
	}
	return err
}

// asked reports whether a validation that ended with err reached the point
// of asking the server: a key of the wrong shape or a missing product is
// refused before any request.
func asked(err error) bool {
	return err == nil || errors.Is(err, ErrUnavailable) || errors.Is(err, ErrRejected) || errors.Is(err, ErrExpired)
}

// fallbackLocked finds the newest usable good result for the current key:
// the one in memory or the one in the cache file (another replica may have
// written a newer one). It says why when there is none.
func (m *Manager) fallbackLocked(now time.Time) (*cacheRecord, string) {
	s := m.settings
	best := m.lastGood
	if m.opts.CacheFile != "" {
		rec, err := readCache(m.opts.CacheFile)
		if err != nil {
			m.logger.Warn("licence cache unreadable; ignoring it", "error", err.Error())
		} else if rec.belongsTo(s.Key, s.Product) && (best == nil || rec.ValidatedAt.After(best.ValidatedAt)) {
			best = rec
		}
	}
	switch {
	case best == nil:
		return nil, "no cached result for this licence key"
	case !best.Validation.ExpiresAt.IsZero() && !now.Before(best.Validation.ExpiresAt):
		return nil, "the cached licence expired at " + best.Validation.ExpiresAt.Format(time.RFC3339)
	case !best.usable(now, m.opts.MaxCacheAge):
		return nil, fmt.Sprintf("the cached result from %s is older than %s", best.ValidatedAt.Format(time.RFC3339), m.opts.MaxCacheAge)
	}
	return best, ""
}

func (m *Manager) storeCacheLocked(rec *cacheRecord) {
	if m.opts.CacheFile == "" {
		return
	}
	if err := writeCache(m.opts.CacheFile, rec); err != nil {
		m.logger.Warn("could not write the licence cache; an outage of the licence server will not be bridged", "error", err.Error())
	}
}

func (m *Manager) dropCacheLocked(s Settings) {
	if m.opts.CacheFile == "" {
		return
	}
	rec, err := readCache(m.opts.CacheFile)
	if err != nil || !rec.belongsTo(s.Key, s.Product) {
		return
	}
	if err := os.Remove(m.opts.CacheFile); err != nil && !errors.Is(err, os.ErrNotExist) {
		m.logger.Warn("could not remove the cache of a rejected licence", "error", err.Error())
	}
}

func (m *Manager) publishLocked() {
	next := buildSnapshot(m.settings, m.view, m.client.ServerURL(), m.opts.FeatureTiers)
	if prev := m.state.Swap(next); prev != nil {
		close(prev.changed)
	}
}

// SendKeepalive reports usage to the licence server now; the background loop
// calls it every Interval. It does nothing (and returns nil) while there is
// no key or no valid licence to report for.
func (m *Manager) SendKeepalive(ctx context.Context) error {
	m.mu.Lock()
	s, client, started := m.settings, m.client, m.startedAt
	var serverID string
	ok := s.Key != "" && m.view.valid && m.view.result != nil
	if ok {
		serverID = m.view.result.Metadata.ServerID
	}
	m.mu.Unlock()
	if !ok {
		return nil
	}

	now := m.clock.Now()
	k := Keepalive{
		Product:      s.Product,
		ServerID:     serverID,
		Hostname:     m.opts.Hostname,
		Version:      m.opts.Version,
		Usage:        m.collectUsage(ctx),
		FeatureUsage: m.usage.take(),
	}
	if !started.IsZero() {
		k.Uptime = now.Sub(started)
	}
	err := client.Keepalive(ctx, s.Key, k)
	if err == nil {
		m.usage.subtract(k.FeatureUsage)
	}

	m.mu.Lock()
	defer m.mu.Unlock()
	if m.settings != s || (err != nil && errors.Is(err, ErrUnavailable) && ctx.Err() != nil) {
		// Reconfigured meanwhile, or shutting down: the outcome is stale.
		return err
	}
	if err != nil {
		m.view.lastErr, m.view.lastErrOp = err.Error(), "keepalive"
		m.publishLocked()
		m.logger.Warn("licence keepalive failed", "key", s.Key, "error", err.Error())
		return err
	}
	m.view.lastKeepalive = now
	if m.view.lastErrOp == "keepalive" {
		m.view.lastErr, m.view.lastErrOp = "", ""
	}
	m.publishLocked()
	return nil
}

// collectUsage calls the Usage callback. It is application code running in
// the background loop, so a panic is turned into a warning: a failing usage
// report must not take the service down.
func (m *Manager) collectUsage(ctx context.Context) (u *Usage) {
	if m.opts.Usage == nil {
		return nil
	}
	defer func() {
		if r := recover(); r != nil {
			m.logger.Warn("licence usage callback panicked; sending the keepalive without usage", "panic", fmt.Sprint(r))
			u = nil
		}
	}()
	// Bounded like a server call, so a stuck callback cannot stall the loop.
	timeout := m.opts.Timeout
	if timeout == 0 {
		timeout = DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	got, err := m.opts.Usage(ctx)
	if err != nil {
		m.logger.Warn("licence usage callback failed; sending the keepalive without usage", "error", err.Error())
		return nil
	}
	return &got
}

// CheckFeature asks the licence server (/api/v2/features) whether the named
// feature is entitled, bypassing the snapshot. It reports the server's answer
// in every mode; HasFeature is the gate. With no key it returns false.
func (m *Manager) CheckFeature(ctx context.Context, name string) (bool, error) {
	m.mu.Lock()
	s, client := m.settings, m.client
	m.mu.Unlock()
	if s.Key == "" {
		return false, nil
	}
	features, err := client.Features(ctx, s.Key, s.Product, name)
	if err != nil {
		return false, err
	}
	forms := featureForms(name, s.Product)
	for _, f := range features {
		if !f.Entitled {
			continue
		}
		for _, form := range featureForms(f.Name, s.Product) {
			for _, want := range forms {
				if form == want {
					return true, nil
				}
			}
		}
	}
	return false, nil
}
