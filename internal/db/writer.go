package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"sync"
)

// BeginTx starts a transaction that may write. On SQLite it runs on the
// one writer connection, after every writer that asked before it (arrival
// order); reads outside a transaction keep using the pool. On PostgreSQL
// and MySQL it is the pool's BeginTx. A caller must not begin a second
// transaction while it holds one: on SQLite that waits for itself.
func (d *DB) BeginTx(ctx context.Context, opts *sql.TxOptions) (*sql.Tx, error) {
	if d.writer == nil {
		return d.DB.BeginTx(ctx, opts)
	}
	if err := d.queue.acquire(ctx); err != nil {
		return nil, fmt.Errorf("wait for the database writer: %w", err)
	}
	// The turn ends once the connection is ours: the next writer then
	// waits for the connection alone, so database/sql (which hands a freed
	// connection to a random waiter) never has more than one to choose from.
	defer d.queue.release()
	return d.writer.BeginTx(ctx, opts)
}

// ExecContext runs a statement that writes outside a transaction. On
// SQLite it takes its turn on the writer connection like BeginTx.
func (d *DB) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if d.writer == nil {
		return d.DB.ExecContext(ctx, query, args...)
	}
	if err := d.queue.acquire(ctx); err != nil {
		return nil, fmt.Errorf("wait for the database writer: %w", err)
	}
	defer d.queue.release()
	return d.writer.ExecContext(ctx, query, args...)
}

// Close closes the pool and, on SQLite, the writer connection.
func (d *DB) Close() error {
	err := d.DB.Close()
	if d.writer != nil {
		err = errors.Join(err, d.writer.Close())
	}
	return err
}

// WritersWaiting is how many writers have asked for SQLite's writer and
// not yet got it (the one whose turn it is counts until it holds the
// connection or, for a single statement, until the statement ends); always
// 0 on PostgreSQL and MySQL. Tests read it to queue writers in a known order.
func (d *DB) WritersWaiting() int {
	if d.queue == nil {
		return 0
	}
	return d.queue.len()
}

// writeQueue is a lock granted in arrival order. sync.Mutex promises no
// order and a channel's waiters cannot be counted; this does both, and a
// waiter whose context ends leaves the line.
type writeQueue struct {
	mu      sync.Mutex
	busy    bool
	waiting []chan struct{}
}

func (q *writeQueue) acquire(ctx context.Context) error {
	q.mu.Lock()
	if !q.busy {
		q.busy = true
		q.mu.Unlock()
		return nil
	}
	turn := make(chan struct{})
	q.waiting = append(q.waiting, turn)
	q.mu.Unlock()
	select {
	case <-turn:
		return nil
	case <-ctx.Done():
	}
	q.mu.Lock()
	if i := slices.Index(q.waiting, turn); i >= 0 {
		q.waiting = slices.Delete(q.waiting, i, i+1)
		q.mu.Unlock()
		return ctx.Err()
	}
	q.mu.Unlock()
	// The turn came as the context ended: pass it on, or the line stops.
	q.release()
	return ctx.Err()
}

func (q *writeQueue) release() {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.waiting) == 0 {
		q.busy = false
		return
	}
	next := q.waiting[0]
	q.waiting = slices.Delete(q.waiting, 0, 1)
	close(next)
}

// len counts the turn being taken and the writers waiting for theirs.
func (q *writeQueue) len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	n := len(q.waiting)
	if q.busy {
		n++
	}
	return n
}
