package app

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"sync"

	"github.com/rookery/rookery/config"
	"github.com/rookery/rookery/license"
)

func licenseSettings(k config.LicenseSettings) license.Settings {
	return license.Settings{
		Key:         license.Key(k.Key.Get().Reveal()),
		ServerURL:   k.ServerURL.Get(),
		Product:     k.ProductName.Get(),
		ReleaseMode: k.ReleaseMode.Get(),
	}
}

// NewLicenseManager builds the manager from the config snapshot.
func NewLicenseManager(c *Core, version string, usage func(context.Context) (license.Usage, error)) (*license.Manager, error) {
	return newLicenseManager(c, version, usage, nil)
}

// newLicenseManager is NewLicenseManager with the HTTP client (nil: the
// licence package's own); the server's traces its calls.
func newLicenseManager(c *Core, version string, usage func(context.Context) (license.Usage, error), hc *http.Client) (*license.Manager, error) {
	return license.New(licenseSettings(c.Keys.License), license.Options{
		HTTPClient:   hc,
		CacheFile:    filepath.Join(c.Settings.DataDir, license.DefaultCacheFileName),
		Logger:       c.Log,
		Usage:        usage,
		Version:      version,
		UserAgent:    "rookery/" + version,
		FeatureTiers: license.StandardCatalogue(),
	})
}

// startLicense validates at start-up (failing in release mode when the
// licence is not valid and no usable cache exists) and follows the
// licence keys: a change through the config API re-validates at once.
func (a *App) startLicense(ctx context.Context, version string) error {
	m, err := newLicenseManager(a.Core, version, a.usage, a.tracedClient())
	if err != nil {
		return err
	}
	if err := m.Start(ctx); err != nil {
		return err
	}
	a.License = m
	// Reconfigure validates against the server; it runs off the reload
	// goroutine so a slow licence server never delays config changes, in
	// one worker tracked by a.bg so Shutdown cancels and waits for it.
	// Changes in quick succession are applied in order and the newest
	// wins, never an older one whose validation happened to finish later.
	var mu sync.Mutex
	var latest license.Settings
	running, pending := false, false
	revalidate := func(ctx context.Context) {
		for {
			mu.Lock()
			if !pending || ctx.Err() != nil {
				running = false
				mu.Unlock()
				return
			}
			s := latest
			pending = false
			mu.Unlock()
			if err := m.Reconfigure(ctx, s); err != nil && ctx.Err() == nil {
				a.Log.Warn("licence re-validation after a settings change failed", "error", err.Error())
			}
		}
	}
	started := false
	a.cancels = append(a.cancels, a.Config.Follow(func() {
		// Read here, not in the worker: Follow follows the keys this
		// function reads.
		s := licenseSettings(a.Keys.License)
		if !started { // Start has just validated these settings
			started = true
			return
		}
		mu.Lock()
		latest, pending = s, true
		spawn := !running
		running = true
		mu.Unlock()
		if spawn && !a.bg.Go(revalidate) {
			// Shutting down: nothing runs any more.
			mu.Lock()
			running = false
			mu.Unlock()
		}
	}))
	return nil
}

// usage is what the hourly keepalive reports.
func (a *App) usage(ctx context.Context) (license.Usage, error) {
	users, err := a.Auth.Count(ctx)
	if err != nil {
		return license.Usage{}, err
	}
	teamCount, err := a.Teams.Count(ctx)
	if err != nil {
		return license.Usage{}, err
	}
	return license.Usage{ActiveUsers: int64(users), TeamCount: int64(teamCount), StorageGB: a.storageGB(ctx)}, nil
}

// storageGB is the database's size on disk, best effort.
func (a *App) storageGB(ctx context.Context) float64 {
	var bytes int64
	switch a.DB.Dialect {
	case "postgres":
		_ = a.DB.QueryRowContext(ctx, `SELECT pg_database_size(current_database())`).Scan(&bytes)
	case "mysql":
		_ = a.DB.QueryRowContext(ctx, `SELECT COALESCE(SUM(data_length + index_length), 0) FROM information_schema.tables WHERE table_schema = DATABASE()`).Scan(&bytes)
	default:
		var page, count int64
		if a.DB.QueryRowContext(ctx, `PRAGMA page_size`).Scan(&page) == nil && a.DB.QueryRowContext(ctx, `PRAGMA page_count`).Scan(&count) == nil {
			bytes = page * count
		}
		if st, err := os.Stat(filepath.Join(a.Settings.DataDir, "rookery.db-wal")); err == nil {
			bytes += st.Size()
		}
	}
	return float64(bytes) / (1 << 30)
}
