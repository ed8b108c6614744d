package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
)

// ErrNestedWrite is returned when a function running inside RunTx starts
// another write of the same database with the context RunTx gave it: on
// SQLite that write would wait for the writer its own batch holds.
var ErrNestedWrite = errors.New("a write was started from inside a write transaction of the same database; use the transaction it was given")

// maxBatch bounds how many queued writes RunTx commits together on SQLite:
// enough to share one fsync among every connection of a busy server, few
// enough that the last of them does not wait long for the first.
const maxBatch = 64

// BeginTx starts a transaction that may write. On SQLite it runs on the
// one writer connection, after every writer that asked before it (arrival
// order); reads outside a transaction keep using the pool. On PostgreSQL
// and MySQL it is the pool's BeginTx. A caller must not begin a second
// transaction while it holds one: on SQLite that waits for itself.
func (d *DB) BeginTx(ctx context.Context, opts *sql.TxOptions) (*sql.Tx, error) {
	if d.nested(ctx) {
		return nil, ErrNestedWrite
	}
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
// SQLite it takes its turn on the writer connection like BeginTx, alone:
// some statements (VACUUM, a few PRAGMAs) cannot run inside the
// transaction a batch of RunTx shares.
func (d *DB) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if d.nested(ctx) {
		return nil, ErrNestedWrite
	}
	if d.writer == nil {
		return d.DB.ExecContext(ctx, query, args...)
	}
	if err := d.queue.acquire(ctx); err != nil {
		return nil, fmt.Errorf("wait for the database writer: %w", err)
	}
	defer d.queue.release()
	return d.writer.ExecContext(ctx, query, args...)
}

// RunTx runs fn in a transaction that writes and commits it. fn's own
// error is returned as it is, and nothing fn did is kept; a failed begin
// or commit is returned wrapped.
//
// On SQLite the writes queued when the writer connection becomes free
// commit together, in arrival order, in one transaction (group commit: one
// fsync for up to maxBatch writes). Each runs in a savepoint of its own: a
// write whose fn fails is rolled back alone and gets its own error, the
// others commit together, and each caller gets its result only once the
// shared COMMIT is done (a failed COMMIT reaches every write that would
// have been committed). There fn runs on a context that keeps ctx's values
// but not its cancellation, so that one caller leaving cannot interrupt
// the writes it shares a transaction with. A write whose ctx ends before
// its fn starts is not run and its caller gets ctx's error at once, even
// while its batch waits for SQLite (another process holding the write
// lock); only the batch's leader waits on. When a write breaks the shared
// transaction itself (SQLite rolls the whole transaction back on some
// failures, a full disk for one), it gets its error and the writes run
// before it in that transaction run again in a new one: fn must be safe
// to run more than once.
//
// fn must not commit or roll back tx, nor start another write of d with
// the context it was given (ErrNestedWrite). A panic in fn rolls back its
// savepoint and is raised again in the caller's goroutine. On PostgreSQL
// and MySQL RunTx is BeginTx, fn and Commit on ctx: a transaction per call.
func (d *DB) RunTx(ctx context.Context, fn func(ctx context.Context, tx *sql.Tx) error) error {
	if d.nested(ctx) {
		return ErrNestedWrite
	}
	if d.writer == nil {
		return d.runAlone(ctx, fn)
	}
	w := &write{ctx: ctx, fn: fn, done: make(chan struct{})}
	lead, err := d.queue.join(w)
	if err != nil {
		return fmt.Errorf("wait for the database writer: %w", err)
	}
	if lead {
		d.lead(w)
	}
	<-w.done
	if w.panicked != nil {
		panic(w.panicked)
	}
	return w.err
}

// runAlone is RunTx on PostgreSQL and MySQL.
func (d *DB) runAlone(ctx context.Context, fn func(ctx context.Context, tx *sql.Tx) error) error {
	tx, err := d.DB.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer func() {
		if p := recover(); p != nil {
			_ = tx.Rollback() // give the connection back before the panic goes on
			panic(p)
		}
	}()
	if err := fn(context.WithValue(ctx, writingKey{}, d), tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// writingKey marks the context RunTx gives fn with the database it writes.
type writingKey struct{}

// nested reports whether ctx is the context of a function RunTx runs on d.
func (d *DB) nested(ctx context.Context) bool {
	w, _ := ctx.Value(writingKey{}).(*DB)
	return w == d
}

// write is one RunTx call on SQLite.
type write struct {
	ctx context.Context
	fn  func(ctx context.Context, tx *sql.Tx) error
	// done is closed once err and panicked are final.
	done     chan struct{}
	err      error
	panicked any
	// taken is set, under the queue's lock, when a leader takes the write
	// into its batch.
	taken bool
	// state says whether fn has started (running) or the caller left
	// (abandoned) first; once fn has started, the caller waits for the
	// outcome whatever becomes of its context.
	state atomic.Int32
}

// States of a write taken into a batch.
const (
	waiting int32 = iota
	running
	abandoned
)

// claim is the leader's check before it runs w's fn: nil when fn may run
// (again, after a broken transaction), else why not.
func (w *write) claim() error {
	if err := w.ctx.Err(); err != nil {
		return err
	}
	if w.state.CompareAndSwap(waiting, running) || w.state.Load() == running {
		return nil
	}
	return w.ctx.Err() // abandoned: only a caller whose context ended does that
}

func (w *write) finish(err error, panicked any) {
	w.err, w.panicked = err, panicked
	close(w.done)
}

// lead runs a batch, first among the writes at the head of the queue:
// first holds the writer's turn.
func (d *DB) lead(first *write) {
	// The batch is what queued while the connection was busy: take it
	// once the connection is ours, not when the turn came.
	conn, err := d.writer.Conn(first.ctx)
	if err != nil {
		d.queue.release()
		first.finish(fmt.Errorf("wait for the database writer: %w", err), nil)
		return
	}
	batch := append([]*write{first}, d.queue.take(maxBatch-1)...)
	// As in BeginTx, the next writer may now wait for the connection.
	d.queue.release()
	outcome := make(map[*write]result, len(batch))
	for pending := batch; len(pending) > 0; {
		pending = d.runBatch(conn, pending, outcome)
	}
	// Every outcome is final: a connection that fails to go back to its
	// pool is database/sql's to replace, not a write's failure.
	_ = conn.Close()
	for _, w := range batch { // in commit order
		r := outcome[w]
		w.finish(r.err, r.panicked)
	}
}

// result is the outcome of one write of a batch.
type result struct {
	err      error
	panicked any
}

// runBatch runs writes in one transaction on conn, each in its own
// savepoint, and commits the ones whose fn succeeded. When a write breaks
// the transaction, it returns the writes to run again in a new one.
func (d *DB) runBatch(conn *sql.Conn, writes []*write, outcome map[*write]result) (again []*write) {
	bg := context.Background()
	tx, err := conn.BeginTx(bg, nil)
	if err != nil {
		for _, w := range writes {
			outcome[w] = result{err: fmt.Errorf("begin: %w", err)}
		}
		return nil
	}
	if len(writes) == 1 {
		// Alone, a write needs no savepoint: the transaction is its own.
		w := writes[0]
		r := result{err: w.claim()}
		if r.err == nil {
			r = call(w, tx, d)
		}
		if r.err != nil || r.panicked != nil {
			_ = tx.Rollback()
		} else if err := tx.Commit(); err != nil {
			_, _ = conn.ExecContext(bg, `ROLLBACK`) // as after a batch's failed COMMIT, below
			r.err = fmt.Errorf("commit: %w", err)
		}
		outcome[w] = r
		return nil
	}
	var ran []*write
	for i, w := range writes {
		if err := w.claim(); err != nil {
			outcome[w] = result{err: err}
			continue
		}
		if _, err := tx.ExecContext(bg, `SAVEPOINT write`); err != nil {
			outcome[w] = result{err: fmt.Errorf("savepoint: %w", err)}
			_ = tx.Rollback()
			return slices.Concat(ran, writes[i+1:])
		}
		r := call(w, tx, d)
		if r.err == nil && r.panicked == nil {
			if _, rerr := tx.ExecContext(bg, `RELEASE write`); rerr != nil {
				// fn's work is lost with the transaction.
				outcome[w] = result{err: fmt.Errorf("release savepoint: %w", rerr)}
				_ = tx.Rollback()
				return slices.Concat(ran, writes[i+1:])
			}
			ran = append(ran, w)
			continue
		}
		outcome[w] = r
		if _, rerr := tx.ExecContext(bg, `ROLLBACK TO write`); rerr != nil {
			// The failure ended the whole transaction: the writes before
			// this one lost their work and run again.
			_ = tx.Rollback()
			return slices.Concat(ran, writes[i+1:])
		}
		if _, rerr := tx.ExecContext(bg, `RELEASE write`); rerr != nil {
			_ = tx.Rollback()
			return slices.Concat(ran, writes[i+1:])
		}
	}
	if len(ran) == 0 {
		_ = tx.Rollback()
		return nil
	}
	if err := tx.Commit(); err != nil {
		// A COMMIT refused for a deferred constraint leaves SQLite's
		// transaction open on the connection; end it before the next
		// batch begins there.
		_, _ = conn.ExecContext(bg, `ROLLBACK`)
		for _, w := range ran {
			outcome[w] = result{err: fmt.Errorf("commit: %w", err)}
		}
		return nil
	}
	for _, w := range ran {
		outcome[w] = result{}
	}
	return nil
}

// call runs w's function on tx, catching a panic so that the batch ends
// and the panic reaches w's own caller.
func call(w *write, tx *sql.Tx, d *DB) (r result) {
	defer func() {
		if p := recover(); p != nil {
			r = result{panicked: p}
		}
	}()
	ctx := context.WithValue(context.WithoutCancel(w.ctx), writingKey{}, d)
	return result{err: w.fn(ctx, tx)}
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
// connection or, for a single statement, until the statement ends; writes
// a batch has taken no longer count); always 0 on PostgreSQL and MySQL.
// Tests read it to queue writers in a known order.
func (d *DB) WritersWaiting() int {
	if d.queue == nil {
		return 0
	}
	return d.queue.len()
}

// writeQueue is SQLite's writer turn, granted in arrival order. sync.Mutex
// promises no order and a channel's waiters cannot be counted; this does
// both, a waiter whose context ends leaves the line, and the one whose
// turn it is can take the RunTx writes queued right behind it.
type writeQueue struct {
	mu      sync.Mutex
	busy    bool
	waiting []*waiter
}

// waiter is one place in the line: a BeginTx or ExecContext (w nil) or a
// RunTx write.
type waiter struct {
	turn chan struct{} // closed when the turn is this waiter's
	w    *write
}

// acquire waits for the turn.
func (q *writeQueue) acquire(ctx context.Context) error {
	q.mu.Lock()
	if !q.busy {
		q.busy = true
		q.mu.Unlock()
		return nil
	}
	me := &waiter{turn: make(chan struct{})}
	q.waiting = append(q.waiting, me)
	q.mu.Unlock()
	select {
	case <-me.turn:
		return nil
	case <-ctx.Done():
	}
	if q.leave(me) {
		return ctx.Err()
	}
	// The turn came as the context ended: pass it on, or the line stops.
	q.release()
	return ctx.Err()
}

// join queues a RunTx write. It returns lead true when the turn is the
// write's (the caller then leads a batch), false when a leader took the
// write into its batch and finished it.
func (q *writeQueue) join(w *write) (lead bool, err error) {
	q.mu.Lock()
	if !q.busy {
		q.busy = true
		q.mu.Unlock()
		return true, nil
	}
	me := &waiter{turn: make(chan struct{}), w: w}
	q.waiting = append(q.waiting, me)
	q.mu.Unlock()
	select {
	case <-me.turn:
		return true, nil
	case <-w.done:
		return false, nil
	case <-w.ctx.Done():
	}
	if q.leave(me) {
		return false, w.ctx.Err()
	}
	q.mu.Lock()
	taken := w.taken
	q.mu.Unlock()
	if taken {
		if w.state.CompareAndSwap(waiting, abandoned) {
			return false, w.ctx.Err() // the leader will pass it over
		}
		// Its fn has started: only the batch can say what became of it.
		<-w.done
		return false, nil
	}
	q.release()
	return false, w.ctx.Err()
}

// leave takes me out of the line; false when it is no longer there (its
// turn came, or a leader took its write).
func (q *writeQueue) leave(me *waiter) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	i := slices.Index(q.waiting, me)
	if i < 0 {
		return false
	}
	q.waiting = slices.Delete(q.waiting, i, i+1)
	return true
}

// take removes up to n RunTx writes from the head of the line, stopping
// at the first BeginTx or ExecContext, which keep their place.
func (q *writeQueue) take(n int) []*write {
	q.mu.Lock()
	defer q.mu.Unlock()
	var out []*write
	for len(out) < n && len(q.waiting) > 0 && q.waiting[0].w != nil {
		w := q.waiting[0].w
		w.taken = true
		out = append(out, w)
		q.waiting = slices.Delete(q.waiting, 0, 1)
	}
	return out
}

// release passes the turn to the next in line, if any.
func (q *writeQueue) release() {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.waiting) == 0 {
		q.busy = false
		return
	}
	next := q.waiting[0]
	q.waiting = slices.Delete(q.waiting, 0, 1)
	close(next.turn)
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
