package db_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rookery/rookery/internal/db"
	"github.com/rookery/rookery/internal/dbtest"
)

// probeRows returns the n column of writer_probe, in insertion order on
// SQLite (the other databases have no rowid: in order of n there).
func probeRows(t *testing.T, d *db.DB) []int {
	t.Helper()
	order := "n"
	if d.Dialect == db.SQLite {
		order = "rowid"
	}
	rows, err := d.QueryContext(context.Background(), `SELECT n FROM writer_probe ORDER BY `+order)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var got []int
	for rows.Next() {
		var v int
		if err := rows.Scan(&v); err != nil {
			t.Fatal(err)
		}
		got = append(got, v)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return got
}

// insert is a RunTx function writing n.
func insert(d *db.DB, n int) func(context.Context, *sql.Tx) error {
	return func(ctx context.Context, tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, d.Rebind(`INSERT INTO writer_probe (n) VALUES (?)`), n)
		return err
	}
}

// countCommits counts the COMMITs d runs from now on.
func countCommits(t *testing.T, d *db.DB) *atomic.Int64 {
	var n atomic.Int64
	d.ObserveQueries(func(op string, _ time.Duration) {
		if op == "commit" {
			n.Add(1)
		}
	})
	t.Cleanup(func() { d.ObserveQueries(nil) })
	return &n
}

// batch queues writes behind a transaction holding SQLite's writer, in
// order, then lets them go: they are all queued when the writer becomes
// free. It returns each write's error, by position.
func batch(t *testing.T, d *db.DB, ctxs []context.Context, fns []func(context.Context, *sql.Tx) error) []error {
	t.Helper()
	hold, err := d.BeginTx(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	errs := make([]error, len(fns))
	var wg sync.WaitGroup
	for i, fn := range fns {
		ctx := context.Background()
		if ctxs != nil && ctxs[i] != nil {
			ctx = ctxs[i]
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = d.RunTx(ctx, fn)
		}()
		waitQueued(d, i+1)
	}
	if err := hold.Commit(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	return errs
}

// Writes queued while the writer is busy commit together, in arrival
// order, with one COMMIT; each caller hears back only once that COMMIT is
// done (what it does next sees every write of the batch).
func TestSQLiteQueuedWritesCommitTogether(t *testing.T) {
	d, _ := dbtest.Open(t, db.SQLite)
	probeTable(t, d)
	commits := countCommits(t, d)
	const n = 20
	seen := make([]int, n)
	var fns []func(context.Context, *sql.Tx) error
	for i := range n {
		write := insert(d, i)
		fns = append(fns, func(ctx context.Context, tx *sql.Tx) error {
			if err := write(ctx, tx); err != nil {
				return err
			}
			// Outside the transaction nothing is visible yet.
			return d.QueryRowContext(ctx, `SELECT COUNT(*) FROM writer_probe`).Scan(&seen[i])
		})
	}
	hold, err := d.BeginTx(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	after := make([]int, n)
	errs := make([]error, n)
	for i, fn := range fns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if errs[i] = d.RunTx(context.Background(), fn); errs[i] == nil {
				errs[i] = d.QueryRowContext(context.Background(), `SELECT COUNT(*) FROM writer_probe`).Scan(&after[i])
			}
		}()
		waitQueued(d, i+1)
	}
	if err := hold.Commit(); err != nil { // commits nothing: its own COMMIT is counted
		t.Fatal(err)
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("write %d: %v", i, err)
		}
	}
	if got := commits.Load(); got != 2 {
		t.Errorf("%d COMMITs for one transaction and %d queued writes, want 2 (the writes in one)", got, n)
	}
	if got, want := probeRows(t, d), seq(0, n); !slices.Equal(got, want) {
		t.Errorf("rows %v, want %v (arrival order)", got, want)
	}
	for i := range n {
		if seen[i] != 0 {
			t.Errorf("write %d: %d rows visible from the pool before the COMMIT", i, seen[i])
		}
		if after[i] != n {
			t.Errorf("write %d returned when %d of %d rows were committed", i, after[i], n)
		}
	}
}

func seq(from, to int) []int {
	var out []int
	for i := from; i < to; i++ {
		out = append(out, i)
	}
	return out
}

// Under real concurrency the writes share COMMITs and all land.
func TestSQLiteConcurrentWritesShareCommits(t *testing.T) {
	d, _ := dbtest.Open(t, db.SQLite)
	probeTable(t, d)
	commits := countCommits(t, d)
	const n = 400
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- d.RunTx(context.Background(), insert(d, i))
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if got := len(probeRows(t, d)); got != n {
		t.Fatalf("%d rows, want %d", got, n)
	}
	if c := commits.Load(); c >= n {
		t.Errorf("%d COMMITs for %d concurrent writes: none were batched", c, n)
	} else {
		t.Logf("%d writes in %d COMMITs", n, c)
	}
}

var errRefused = errors.New("refused by the write itself")

// A write whose function fails is rolled back alone and gets its own
// error; the others of its batch commit.
func TestSQLiteFailingWriteLeavesItsBatch(t *testing.T) {
	d, _ := dbtest.Open(t, db.SQLite)
	probeTable(t, d)
	commits := countCommits(t, d)
	fail := func(ctx context.Context, tx *sql.Tx) error {
		if err := insert(d, 99)(ctx, tx); err != nil {
			return err
		}
		return errRefused
	}
	errs := batch(t, d, nil, []func(context.Context, *sql.Tx) error{insert(d, 1), fail, insert(d, 3)})
	if errs[0] != nil || errs[2] != nil {
		t.Fatalf("the other writes failed: %v, %v", errs[0], errs[2])
	}
	if errs[1] != errRefused {
		t.Fatalf("failing write: err = %v, want its own error as it is", errs[1])
	}
	if got := probeRows(t, d); !slices.Equal(got, []int{1, 3}) {
		t.Fatalf("rows %v, want [1 3] (the failed write's row absent)", got)
	}
	if c := commits.Load(); c != 2 {
		t.Errorf("%d COMMITs, want 2 (the holder's and the batch's)", c)
	}
}

// A write whose context ends while it is queued leaves without running;
// one whose context ends after a leader took it is skipped at its turn; one
// whose context ends after its function ran still commits with the others.
func TestSQLiteCancelledWrites(t *testing.T) {
	d, _ := dbtest.Open(t, db.SQLite)
	probeTable(t, d)
	ctx := context.Background()
	hold, err := d.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	// The first write leads the batch; the second leaves the queue.
	var ran sync.Map
	track := func(n int) func(context.Context, *sql.Tx) error {
		return func(ctx context.Context, tx *sql.Tx) error {
			ran.Store(n, true)
			return insert(d, n)(ctx, tx)
		}
	}
	leaderDone := make(chan error, 1)
	go func() { leaderDone <- d.RunTx(ctx, track(0)) }()
	waitQueued(d, 1)
	queued, cancelQueued := context.WithCancel(ctx)
	queuedDone := make(chan error, 1)
	go func() { queuedDone <- d.RunTx(queued, track(1)) }()
	waitQueued(d, 2)
	cancelQueued()
	if err := <-queuedDone; !errors.Is(err, context.Canceled) {
		t.Fatalf("write cancelled in the queue: err = %v, want context.Canceled", err)
	}
	waitQueued(d, 1)

	// Taken into the batch, then cancelled by an earlier write's turn.
	taken, cancelTaken := context.WithCancel(ctx)
	ranThenCancelled, cancelAfter := context.WithCancel(ctx)
	fns := map[int]func(context.Context, *sql.Tx) error{
		2: func(c context.Context, tx *sql.Tx) error { cancelTaken(); return track(2)(c, tx) },
		3: track(3), // skipped: cancelled before its turn
		4: track(4), // runs, then is cancelled by the next one
		5: func(c context.Context, tx *sql.Tx) error { cancelAfter(); return track(5)(c, tx) },
	}
	ctxs := map[int]context.Context{2: ctx, 3: taken, 4: ranThenCancelled, 5: ctx}
	errs := make(map[int]chan error)
	for i := 2; i <= 5; i++ {
		errs[i] = make(chan error, 1)
		go func() { errs[i] <- d.RunTx(ctxs[i], fns[i]) }()
		waitQueued(d, i)
	}
	if err := hold.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := <-leaderDone; err != nil {
		t.Fatal(err)
	}
	if err := <-errs[3]; !errors.Is(err, context.Canceled) {
		t.Errorf("write cancelled in its batch before its turn: err = %v, want context.Canceled", err)
	}
	for _, i := range []int{2, 4, 5} {
		if err := <-errs[i]; err != nil {
			t.Errorf("write %d: %v", i, err)
		}
	}
	for _, i := range []int{1, 3} {
		if _, ok := ran.Load(i); ok {
			t.Errorf("cancelled write %d ran", i)
		}
	}
	if got := probeRows(t, d); !slices.Equal(got, []int{0, 2, 4, 5}) {
		t.Fatalf("rows %v, want [0 2 4 5]", got)
	}
	if w := d.WritersWaiting(); w != 0 {
		t.Fatalf("%d writers still queued", w)
	}
}

// A COMMIT that fails reaches every write of the batch, keeps none of
// them, and leaves the writer usable.
func TestSQLiteFailedCommitReachesEveryWrite(t *testing.T) {
	d, _ := dbtest.Open(t, db.SQLite)
	probeTable(t, d)
	ctx := context.Background()
	for _, q := range []string{
		`CREATE TABLE probe_parent (id INTEGER PRIMARY KEY)`,
		// Checked at COMMIT, not at the statement.
		`CREATE TABLE probe_child (parent INTEGER REFERENCES probe_parent(id) DEFERRABLE INITIALLY DEFERRED)`,
	} {
		if _, err := d.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	orphan := func(ctx context.Context, tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO probe_child (parent) VALUES (42)`)
		return err
	}
	errs := batch(t, d, nil, []func(context.Context, *sql.Tx) error{insert(d, 1), orphan, insert(d, 3)})
	for i, err := range errs {
		if err == nil || !strings.Contains(err.Error(), "commit: ") || !strings.Contains(err.Error(), "FOREIGN KEY") {
			t.Errorf("write %d: err = %v, want the COMMIT's error", i, err)
		}
	}
	if got := probeRows(t, d); len(got) != 0 {
		t.Fatalf("rows %v kept from a batch whose COMMIT failed", got)
	}
	if err := d.RunTx(ctx, insert(d, 7)); err != nil {
		t.Fatalf("write after the failed COMMIT: %v", err)
	}
	if got := probeRows(t, d); !slices.Equal(got, []int{7}) {
		t.Fatalf("rows %v, want [7]", got)
	}
}

// A write that ends the shared transaction (as SQLite does on some
// failures) gets its own error; the writes run before it in that
// transaction run again in a new one and commit with the rest.
func TestSQLiteBrokenBatchRunsTheOthersAgain(t *testing.T) {
	d, _ := dbtest.Open(t, db.SQLite)
	probeTable(t, d)
	var runs atomic.Int32
	first := func(ctx context.Context, tx *sql.Tx) error {
		runs.Add(1)
		return insert(d, 1)(ctx, tx)
	}
	breaker := func(ctx context.Context, tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `ROLLBACK`); err != nil {
			return err
		}
		return errRefused
	}
	errs := batch(t, d, nil, []func(context.Context, *sql.Tx) error{first, breaker, insert(d, 3)})
	if errs[0] != nil || errs[2] != nil {
		t.Fatalf("the other writes failed: %v, %v", errs[0], errs[2])
	}
	if errs[1] != errRefused {
		t.Fatalf("breaking write: err = %v, want its own", errs[1])
	}
	if got := probeRows(t, d); !slices.Equal(got, []int{1, 3}) {
		t.Fatalf("rows %v, want [1 3]", got)
	}
	if r := runs.Load(); r != 2 {
		t.Fatalf("the write before the breaking one ran %d times, want 2", r)
	}
}

// A panic in a write reaches its own caller; the batch commits the others
// and the writer goes on.
func TestSQLitePanickingWrite(t *testing.T) {
	d, _ := dbtest.Open(t, db.SQLite)
	probeTable(t, d)
	boom := func(ctx context.Context, tx *sql.Tx) error {
		if err := insert(d, 99)(ctx, tx); err != nil {
			return err
		}
		panic("write went wrong")
	}
	var got any
	hold, err := d.BeginTx(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make([]error, 3)
	for i, fn := range []func(context.Context, *sql.Tx) error{insert(d, 1), boom, insert(d, 3)} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() {
				if p := recover(); p != nil {
					got = p
				}
			}()
			errs[i] = d.RunTx(context.Background(), fn)
		}()
		waitQueued(d, i+1)
	}
	if err := hold.Commit(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	if got != "write went wrong" {
		t.Fatalf("panic in the caller = %v, want the write's", got)
	}
	if errs[0] != nil || errs[2] != nil {
		t.Fatalf("the other writes failed: %v, %v", errs[0], errs[2])
	}
	if rows := probeRows(t, d); !slices.Equal(rows, []int{1, 3}) {
		t.Fatalf("rows %v, want [1 3]", rows)
	}
	if err := d.RunTx(context.Background(), insert(d, 4)); err != nil {
		t.Fatalf("write after the panic: %v", err)
	}
}

// A write started from inside a write with the context RunTx gave is
// refused at once instead of waiting for itself, on every database.
func TestNestedWriteIsRefused(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, s db.Settings) {
		d := dbtest.OpenSettings(t, s)
		probeTable(t, d)
		done := make(chan error, 1)
		go func() {
			done <- d.RunTx(context.Background(), func(ctx context.Context, tx *sql.Tx) error {
				if err := d.RunTx(ctx, insert(d, 2)); !errors.Is(err, db.ErrNestedWrite) {
					return fmt.Errorf("nested RunTx: %v", err)
				}
				if _, err := d.BeginTx(ctx, nil); !errors.Is(err, db.ErrNestedWrite) {
					return fmt.Errorf("nested BeginTx: %v", err)
				}
				if _, err := d.ExecContext(ctx, `INSERT INTO writer_probe (n) VALUES (3)`); !errors.Is(err, db.ErrNestedWrite) {
					return fmt.Errorf("nested ExecContext: %v", err)
				}
				return insert(d, 1)(ctx, tx)
			})
		}()
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("a nested write waited for itself")
		}
		if got := probeRows(t, d); !slices.Equal(got, []int{1}) {
			t.Fatalf("rows %v, want [1]", got)
		}
	})
}

// RunTx keeps its promises on every database: concurrent writes all land,
// a failing one leaves nothing, and only SQLite has a writer queue.
func TestRunTxOnEveryDatabase(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, s db.Settings) {
		d := dbtest.OpenSettings(t, s)
		probeTable(t, d)
		const n = 48
		var wg sync.WaitGroup
		errs := make(chan error, n)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				fn := insert(d, i)
				if i%8 == 7 {
					fn = func(ctx context.Context, tx *sql.Tx) error {
						if err := insert(d, -i)(ctx, tx); err != nil {
							return err
						}
						return errRefused
					}
				}
				err := d.RunTx(context.Background(), fn)
				if i%8 == 7 {
					if err != errRefused {
						err = fmt.Errorf("failing write %d: err = %v, want its own", i, err)
					} else {
						err = nil
					}
				}
				errs <- err
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		got := probeRows(t, d)
		slices.Sort(got)
		var want []int
		for i := range n {
			if i%8 != 7 {
				want = append(want, i)
			}
		}
		if !slices.Equal(got, want) {
			t.Fatalf("rows %v, want %v", got, want)
		}
		if d.Dialect != db.SQLite && d.WritersWaiting() != 0 {
			t.Fatal("a writer queue on a server database")
		}
	})
}

// A caller whose write was taken into a batch but has not started yet
// leaves at once when its context ends, without waiting for the batch; the
// batch passes its write over.
func TestSQLiteTakenWriteLeavesBeforeItStarts(t *testing.T) {
	d, _ := dbtest.Open(t, db.SQLite)
	probeTable(t, d)
	ctx := context.Background()
	hold, err := d.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	inFirst, letFirstGo := make(chan struct{}), make(chan struct{})
	firstDone := make(chan error, 1)
	go func() {
		firstDone <- d.RunTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
			close(inFirst)
			<-letFirstGo // the batch is busy with this write
			return insert(d, 1)(ctx, tx)
		})
	}()
	waitQueued(d, 1)
	leaving, leave := context.WithCancel(ctx)
	var ran atomic.Bool
	leftDone := make(chan error, 1)
	go func() {
		leftDone <- d.RunTx(leaving, func(ctx context.Context, tx *sql.Tx) error {
			ran.Store(true)
			return insert(d, 2)(ctx, tx)
		})
	}()
	waitQueued(d, 2)
	if err := hold.Commit(); err != nil {
		t.Fatal(err)
	}
	<-inFirst // both writes are in the batch now
	leave()
	select {
	case err := <-leftDone:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v, want context.Canceled", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a caller whose write had not started waited for its batch")
	}
	close(letFirstGo)
	if err := <-firstDone; err != nil {
		t.Fatal(err)
	}
	if ran.Load() {
		t.Fatal("the abandoned write ran")
	}
	if got := probeRows(t, d); !slices.Equal(got, []int{1}) {
		t.Fatalf("rows %v, want [1]", got)
	}
}

// A panic in a write reaches its caller on every database and leaves
// nothing behind: its row absent, the next write served.
func TestPanickingWriteOnEveryDatabase(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, s db.Settings) {
		d := dbtest.OpenSettings(t, s)
		probeTable(t, d)
		d.DB.SetMaxOpenConns(1) // a connection kept by the panicking write would stop the next one
		func() {
			defer func() {
				if p := recover(); p != "write went wrong" {
					t.Fatalf("recovered %v, want the write's panic", p)
				}
			}()
			_ = d.RunTx(context.Background(), func(ctx context.Context, tx *sql.Tx) error {
				if err := insert(d, 1)(ctx, tx); err != nil {
					return err
				}
				panic("write went wrong")
			})
		}()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := d.RunTx(ctx, insert(d, 2)); err != nil {
			t.Fatalf("write after the panic: %v", err)
		}
		if got := probeRows(t, d); !slices.Equal(got, []int{2}) {
			t.Fatalf("rows %v, want [2]", got)
		}
	})
}
