package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sort"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/rookery/rookery/config"
	"github.com/rookery/rookery/internal/auth"
	"github.com/rookery/rookery/internal/db"
	"github.com/rookery/rookery/internal/httpapi"
	"github.com/rookery/rookery/internal/mail"
	"github.com/rookery/rookery/internal/sso"
	"github.com/rookery/rookery/internal/teams"
	"github.com/rookery/rookery/killkrill"
	"github.com/rookery/rookery/license"
	"github.com/rookery/rookery/waddleai"
	"github.com/rookery/rookery/web"
)

// App is a running rookery server.
type App struct {
	*Core
	API      *httpapi.Server
	Registry *prometheus.Registry
	License  *license.Manager
	Teams    *teams.Store
	AI       *waddleai.Client
	// Shipper ships logs and metrics to KillKrill; nil when the process
	// logs locally only (operator commands, some tests).
	Shipper *killkrill.Shipper
	// Mail sends email through the outbox.
	Mail *mail.Service

	level    *slog.LevelVar
	banner   io.Writer
	listener net.Listener
	srv      *http.Server
	grpcAddr string

	// ready is closed by catchUp; see Ready.
	ready   chan struct{}
	stop    context.CancelFunc
	loops   sync.WaitGroup
	cancels []func()
	// endRequests cancels the base context of every HTTP request.
	// Shutdown calls it before the server's Shutdown, so open AI event
	// streams end at once instead of holding the grace period.
	endRequests context.CancelFunc
	// listen is the PostgreSQL LISTEN loop; Shutdown waits for it.
	listen *db.Listener
	// tel is the standards' metrics and OpenTelemetry export (telemetry.go).
	tel *appTelemetry
	// bg holds goroutines parts start outside Start (licence
	// re-validation); Shutdown stops and waits for them.
	bg background

	onStart, onStop []func(context.Context) error
}

// Options are the extras main passes in.
type Options struct {
	// Level is adjusted when log_level changes. May be nil.
	Level *slog.LevelVar
	// Banner receives the one-time first-admin password (stdout), never
	// the structured log.
	Banner io.Writer
	// Version is reported to the licence server.
	Version string
	// Shipper, when set, is the KillKrill shipper behind the logger; the
	// app follows the killkrill_* keys with it.
	Shipper *killkrill.Shipper
	// Init initialises an empty database even though the key file of an
	// earlier install exists (rookery serve --init); see OpenCoreWith.
	Init bool
	// Extension is what the application adds to rookery.
	Extension Extension
}

// New opens everything, bootstraps the configuration from the environment
// and makes sure an admin exists. It does not start serving.
func New(ctx context.Context, s Settings, log *slog.Logger, o Options) (*App, error) {
	core, err := OpenCoreWith(ctx, s, log, CoreOptions{Init: o.Init, Keys: o.Extension.Keys, Migrations: o.Extension.Migrations})
	if err != nil {
		return nil, err
	}
	a := &App{Core: core, level: o.Level, banner: o.Banner, Shipper: o.Shipper, ready: make(chan struct{})}
	if a.banner == nil {
		a.banner = io.Discard
	}
	a.Teams = teams.NewStore(core.DB)
	if err := a.bootstrap(ctx); err != nil {
		core.Close()
		return nil, err
	}
	if err := a.startLicense(ctx, o.Version); err != nil {
		core.Close()
		return nil, fmt.Errorf("licence: %w", err)
	}
	a.Auth.CheckLimit = a.License.CheckUserLimit
	if err := a.startAI(); err != nil {
		a.Log.Warn("WaddleAI client not available; AI routes answer 403 until rookery restarts with valid settings", "error", err.Error())
	}
	a.Mail = newMail(core)
	a.Registry = prometheus.NewRegistry()
	a.Registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	a.registerConfigMetrics()
	a.startTelemetry()
	a.API = httpapi.New(httpapi.Deps{
		Config: core.Config, Keys: core.Keys.Standard, Auth: core.Auth, DB: probe{a}, License: a.License, Teams: a.Teams, AI: a.AI, Log: log, Registry: a.Registry,
		Throttle: auth.NewThrottle(nil), SecureCookies: s.SecureCookies, TrustedProxies: s.TrustedProxies, OnRequest: a.logRequest, UI: web.Handler(),
		Mail: a.Mail, Integrations: a.integrations, KillKrill: a.killkrillReport, IntegrationTests: a.integrationTests(),
		SSO: sso.New(core.DB, core.Keys.Standard, sso.Options{Sealer: core.Sealer}),
	})
	for _, r := range o.Extension.Routes {
		a.API.Route(r.Pattern, r.Handler, r.Guard)
	}
	a.onStart, a.onStop = o.Extension.OnStart, o.Extension.OnStop
	a.watchLogLevel()
	a.followKillKrill()
	return a, nil
}

func (a *App) bootstrap(ctx context.Context) error {
	res, err := a.Store.Bootstrap(ctx, a.Settings.Getenv)
	if err != nil {
		return fmt.Errorf("bootstrap configuration: %w", err)
	}
	for _, k := range res.Inserted {
		a.Log.Info("initialized config from environment", "key", k)
	}
	keys := make([]string, 0, len(res.Invalid))
	for k := range res.Invalid {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		a.Log.Warn("environment value refused; not stored", "key", k, "reason", res.Invalid[k])
	}
	if err := a.Config.Reload(ctx); err != nil {
		return fmt.Errorf("load configuration: %w", err)
	}
	a.Config.WarnIgnoredEnv()
	created, generated, err := a.Auth.EnsureFirstAdmin(ctx, a.Settings.AdminEmail, a.Settings.AdminPassword)
	if err != nil {
		return err
	}
	if created {
		email := a.Settings.AdminEmail
		if email == "" {
			email = "admin@localhost.local"
		}
		a.Log.Info("created the first admin", "user.email", email)
		if generated != "" {
			fmt.Fprintf(a.banner, "\n  First admin created: %s\n  Password (shown once, change it): %s\n\n", email, generated)
		}
	}
	return nil
}

func (a *App) watchLogLevel() {
	if a.level == nil {
		return
	}
	a.cancels = append(a.cancels, a.Keys.LogLevel.OnChange(func(_, level string) { a.setLevel(level) }))
	a.setLevel(a.Keys.LogLevel.Get())
}

func (a *App) setLevel(level string) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err == nil {
		a.level.Set(l)
	}
}

func (a *App) registerConfigMetrics() {
	a.Registry.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "rookery_config_revision",
		Help: "Revision of the configuration snapshot this process serves."},
		func() float64 { return float64(a.Config.Snapshot().Revision) }))
}

func (a *App) logRequest(rec httpapi.RequestRecord) {
	level := slog.LevelInfo
	switch {
	case rec.Status >= 500:
		level = slog.LevelError
	case rec.Status >= 400:
		level = slog.LevelWarn
	}
	if rec.Route == "GET /healthz" || rec.Route == "GET /metrics" {
		level = slog.LevelDebug // probes would drown everything else
	}
	a.Log.LogAttrs(context.Background(), level, "HTTP request",
		slog.String("http.request.id", rec.ID), slog.String("http.request.method", rec.Method),
		slog.String("url.path", rec.Path), slog.Int("http.response.status_code", rec.Status),
		slog.Float64("duration_ms", float64(rec.Duration.Microseconds())/1000), slog.String("user.email", rec.User),
		slog.String("source.ip", rec.ClientIP))
	a.shipRequest(rec)
}

// Listen binds the HTTP address; Addr tells where (useful with port 0).
func (a *App) Listen() error {
	l, err := net.Listen("tcp", a.Settings.HTTPAddr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", a.Settings.HTTPAddr, err)
	}
	a.listener = l
	return nil
}

// Addr is the bound address after Listen.
func (a *App) Addr() string { return a.listener.Addr().String() }

// Start begins serving and the background loops. Call Listen first. It
// returns once the app is in step with the database (see Ready), or after
// readyWait with /readyz still answering "starting".
func (a *App) Start(ctx context.Context) {
	ctx, a.stop = context.WithCancel(context.WithoutCancel(ctx))
	a.listen = a.DB.Subscribe(ctx, config.NotifyChannel, a.Log)
	notify, listening := a.listen.Notify, a.listen.Listening
	poll := a.Settings.PollInterval
	if notify != nil && poll < 5*time.Second {
		poll = 5 * time.Second // LISTEN/NOTIFY carries changes; polling is the safety net
	}
	a.loops.Add(3)
	go func() {
		defer a.loops.Done()
		a.Config.Watch(ctx, poll, notify)
	}()
	go func() {
		defer a.loops.Done()
		a.catchUp(ctx, listening)
	}()
	go func() {
		defer a.loops.Done()
		a.businessMetrics(ctx)
	}()
	a.loops.Add(1)
	go func() {
		defer a.loops.Done()
		a.purgeSessions(ctx, sessionPurgeInterval)
	}()
	a.startWebhook(ctx)
	a.startEmail(ctx)
	if a.Settings.GRPCEnabled {
		if err := a.startGRPCHealth(ctx); err != nil {
			a.Log.Error("gRPC health not served", "error", err.Error())
		}
	}
	// Requests get their own base context, not ctx: the loops must keep
	// running while Shutdown drains the server, but requests (streams
	// above all) are told to end first.
	base, endRequests := context.WithCancel(context.WithoutCancel(ctx))
	a.endRequests = endRequests
	a.srv = &http.Server{
		Handler:           a.telemetry().otel.Handler(a.API.Handler()),
		BaseContext:       func(net.Listener) context.Context { return base },
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slog.NewLogLogger(a.Log.Handler(), slog.LevelWarn),
	}
	a.loops.Add(1)
	go func() {
		defer a.loops.Done()
		if err := a.srv.Serve(a.listener); err != nil && !errors.Is(err, http.ErrServerClosed) {
			a.Log.Error("HTTP server stopped", "error", err.Error())
		}
	}()
	a.Log.Info("rookery is serving", "addr", a.Addr(), "database", string(a.DB.Dialect))
	// Callers (and replicas' tests) may act as soon as Start returns:
	// give the catch-up its moment, which on a healthy database is the
	// time to open one connection. Past the bound /readyz keeps saying
	// "starting" until it is done.
	select {
	case <-a.ready:
	case <-ctx.Done():
	case <-time.After(readyWait):
		a.Log.Warn("not yet listening for configuration changes; /readyz answers 503 until it is", "waited", readyWait.String())
	}
}

// readyWait bounds how long Start waits for the catch-up.
const readyWait = 10 * time.Second

// catchUp makes the snapshot complete and then reports the app ready. The
// snapshot New loaded may miss a change committed before the PostgreSQL
// LISTEN connection was in place (its NOTIFY went to nobody, and the
// safety poll is seconds away): once listening, re-read; from then on
// every change is either in the database read or announced. Polling
// dialects need nothing: the revision they compare against is the one of
// the loaded snapshot, so a change in between is seen at the next tick.
func (a *App) catchUp(ctx context.Context, listening <-chan struct{}) {
	if listening != nil {
		select {
		case <-listening:
		case <-ctx.Done():
			return
		}
		failing := false
		for {
			err := a.Config.Reload(ctx)
			if err == nil {
				break
			}
			if ctx.Err() != nil {
				return
			}
			if !failing {
				a.Log.Warn("re-reading the configuration after LISTEN failed; retrying", "error", err.Error())
				failing = true
			}
			select {
			case <-time.After(time.Second):
			case <-ctx.Done():
				return
			}
		}
	}
	close(a.ready)
}

// Ready is closed once the app is in step with the database: from then on
// no committed change can be missed. /readyz answers 503 before.
func (a *App) Ready() <-chan struct{} { return a.ready }

// probe is what /readyz asks: the database's health (reachable, and on
// SQLite not damaged) and whether the app is in step with it.
type probe struct{ a *App }

func (p probe) PingContext(ctx context.Context) error { return p.a.DB.PingContext(ctx) }

func (p probe) Health(ctx context.Context) error {
	if err := p.a.DB.Health(ctx); err != nil {
		return err
	}
	select {
	case <-p.a.ready:
		return nil
	default:
		return httpapi.ErrStarting
	}
}

// Shutdown stops serving, stops every goroutine the app started and
// waits for them (until ctx ends), then closes the database. Requests in
// flight are cancelled first: a long AI event stream ends at once with an
// error event rather than holding the shutdown until ctx ends, and its
// client sees the response end.
func (a *App) Shutdown(ctx context.Context) error {
	var errs []error
	if a.endRequests != nil {
		a.endRequests()
	}
	if a.srv != nil {
		if err := a.srv.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("stop HTTP server: %w", err))
		}
	}
	if a.API != nil {
		// Forgotten-password lookups finish after their answer.
		if err := a.API.Drain(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	// After the last request, before the database closes.
	if err := a.runStopHooks(ctx); err != nil {
		errs = append(errs, err)
	}
	if a.stop != nil {
		a.stop()
	}
	for _, c := range a.cancels {
		c()
	}
	// After the unsubscribes, so no settings change starts new work.
	a.bg.Stop()
	if err := a.stopTelemetry(ctx); err != nil {
		errs = append(errs, fmt.Errorf("stop OpenTelemetry export: %w", err))
	}
	if a.AI != nil {
		a.AI.Close()
	}
	if a.License != nil {
		if err := a.License.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("stop licence loop: %w", err))
		}
	}
	done := make(chan struct{})
	go func() { a.loops.Wait(); close(done) }()
	listening := closedChan
	if a.listen != nil {
		listening = a.listen.Done()
	}
	for _, c := range []<-chan struct{}{done, a.bg.Done(), listening} {
		if !waitFor(ctx, c) {
			errs = append(errs, errors.New("background loops did not stop in time"))
			break
		}
	}
	if err := a.Close(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// waitFor waits until c is closed or ctx ends, and tells which. A loop
// that has already ended counts as ended even when ctx has too.
func waitFor(ctx context.Context, c <-chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
	}
	select {
	case <-c:
		return true
	case <-ctx.Done():
		return false
	}
}

// closedChan stands for a loop that never started.
var closedChan = func() <-chan struct{} {
	c := make(chan struct{})
	close(c)
	return c
}()

// Run serves until ctx ends, then shuts down within grace.
func (a *App) Run(ctx context.Context, grace time.Duration) error {
	if err := a.Listen(); err != nil {
		a.Close()
		return err
	}
	a.Start(ctx)
	if err := a.RunStartHooks(ctx); err != nil {
		sctx, cancel := context.WithTimeout(context.Background(), grace)
		defer cancel()
		return errors.Join(err, a.Shutdown(sctx))
	}
	<-ctx.Done()
	a.Log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	return a.Shutdown(sctx)
}

// RunStartHooks runs the application's start hooks in order; the first
// error stops them (Run then shuts down and reports it).
func (a *App) RunStartHooks(ctx context.Context) error {
	for i, h := range a.onStart {
		if err := h(ctx); err != nil {
			return fmt.Errorf("start hook %d: %w", i+1, err)
		}
	}
	return nil
}

// runStopHooks runs the application's stop hooks in reverse order, all of
// them, once, and joins their errors.
func (a *App) runStopHooks(ctx context.Context) error {
	var errs []error
	hooks := a.onStop
	a.onStop = nil
	for i := len(hooks) - 1; i >= 0; i-- {
		if err := hooks[i](ctx); err != nil {
			errs = append(errs, fmt.Errorf("stop hook %d: %w", i+1, err))
		}
	}
	return errors.Join(errs...)
}
