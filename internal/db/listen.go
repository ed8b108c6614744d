package db

import (
	"context"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rookery/rookery/backoff"
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
		attempt := 0 // failed connections since the last good one
		first := true
		for ctx.Err() == nil {
			err := d.listenOnce(ctx, channel, func() {
				if first {
					close(up)
				} else {
					signal()
				}
				first = false
				attempt = 0
			}, signal)
			if ctx.Err() != nil {
				return
			}
			wait := listenPolicy.Delay(attempt)
			attempt++
			log.Warn("config change listener lost its connection; reconnecting", "error", err.Error(), "retry_in", wait.String())
			if backoff.Sleep(ctx, wait) != nil {
				return
			}
		}
	}()
	return out, up
}

// listenPolicy is the wait before each LISTEN reconnect: 100 ms doubling to
// 5 s, starting again from 100 ms once a connection has held. No jitter: the
// waits are short and the replicas few.
var listenPolicy = backoff.Policy{First: 100 * time.Millisecond, Max: 5 * time.Second}

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
