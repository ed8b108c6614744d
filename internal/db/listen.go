package db

import (
	"context"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
)

// Listen subscribes to a PostgreSQL NOTIFY channel on a dedicated
// connection and signals on the returned channel for every notification
// (coalesced: a reader that is busy sees one signal for many). It
// reconnects by itself and signals once after each reconnect, since
// notifications sent while disconnected are lost. The channel is closed
// when ctx ends. listening is closed once the first LISTEN is in place:
// from then on no change can slip by unnoticed, so a snapshot loaded after
// it is in step. On other dialects both channels are nil.
func (d *DB) Listen(ctx context.Context, channel string, log *slog.Logger) (notify, listening <-chan struct{}) {
	if d.Dialect != Postgres {
		return nil, nil
	}
	out := make(chan struct{}, 1)
	up := make(chan struct{})
	signal := func() {
		select {
		case out <- struct{}{}:
		default:
		}
	}
	go func() {
		defer close(out)
		backoff := 100 * time.Millisecond
		first := true
		for ctx.Err() == nil {
			err := d.listenOnce(ctx, channel, func() {
				if first {
					close(up)
				} else {
					signal()
				}
				first = false
				backoff = 100 * time.Millisecond
			}, signal)
			if ctx.Err() != nil {
				return
			}
			log.Warn("config change listener lost its connection; reconnecting", "error", err.Error(), "retry_in", backoff.String())
			select {
			case <-time.After(backoff):
			case <-ctx.Done():
				return
			}
			backoff = min(backoff*2, 5*time.Second)
		}
	}()
	return out, up
}

func (d *DB) listenOnce(ctx context.Context, channel string, connected, signal func()) error {
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	conn, err := pgx.Connect(cctx, d.dsn)
	cancel()
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{channel}.Sanitize()); err != nil {
		return err
	}
	connected()
	for {
		if _, err := conn.WaitForNotification(ctx); err != nil {
			return err
		}
		signal()
	}
}
