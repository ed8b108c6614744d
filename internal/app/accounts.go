package app

import (
	"context"
	"time"
)

// sessionPurgeInterval is how often expired and revoked sessions are
// deleted.
const sessionPurgeInterval = time.Hour

// purgeSessions deletes expired and revoked sessions now and then every
// interval until ctx ends. Every replica runs it; the deletes are
// idempotent, so running it several times costs only a query.
func (a *App) purgeSessions(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		qctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		n, err := a.Auth.PurgeSessions(qctx)
		cancel()
		switch {
		case err != nil && ctx.Err() == nil:
			a.Log.Warn("purge of expired sessions failed; retrying at the next interval", "error", err.Error())
		case n > 0:
			a.Log.Info("purged expired and revoked sessions", "count", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
