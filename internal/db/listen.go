package db

import (
	"context"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rookery/rookery/backoff"
)

// Listener is a running LISTEN loop (see Subscribe).
type Listener struct {
	// Notify signals for every notification (coalesced: a reader that is
	// busy sees one signal for many) and once after each reconnect, since
	// notifications sent while disconnected are lost. It is closed when the
	// loop ends. Nil on dialects without LISTEN.
	Notify <-chan struct{}
	// Listening is closed once the first LISTEN is in place: from then on
	// no change can slip by unnoticed, so a snapshot loaded after it is in
	// step. Nil on dialects without LISTEN.
	Listening <-chan struct{}

	done chan struct{}
}

// Done is closed once the loop's goroutine has ended and its connection is
// closed, so an owner stopping the process can wait for it instead of
// leaving it to finish after the database is closed.
func (l *Listener) Done() <-chan struct{} { return l.done }

// Subscribe starts listening on a PostgreSQL NOTIFY channel on a dedicated
// connection until ctx ends. It reconnects by itself. On other dialects it
// starts nothing: Notify and Listening are nil and Done is already closed.
func (d *DB) Subscribe(ctx context.Context, channel string, log *slog.Logger) *Listener {
	l := &Listener{done: make(chan struct{})}
	if d.Dialect != Postgres {
		close(l.done)
		return l
	}
	out := make(chan struct{}, 1)
	up := make(chan struct{})
	l.Notify, l.Listening = out, up
	signal := func() {
		select {
		case out <- struct{}{}:
		default:
		}
	}
	go func() {
		defer close(l.done)
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
	return l
}

// Listen is Subscribe for callers that need only the channels: notify and
// listening are the Listener's Notify and Listening, nil on other dialects.
// Notify is closed when the loop ends.
func (d *DB) Listen(ctx context.Context, channel string, log *slog.Logger) (notify, listening <-chan struct{}) {
	l := d.Subscribe(ctx, channel, log)
	return l.Notify, l.Listening
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
