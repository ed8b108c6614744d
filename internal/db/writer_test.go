package db_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"testing"

	"github.com/rookery/rookery/internal/db"
	"github.com/rookery/rookery/internal/dbtest"
)

func probeTable(t *testing.T, d *db.DB) {
	t.Helper()
	if _, err := d.ExecContext(context.Background(), `CREATE TABLE writer_probe (n INTEGER NOT NULL)`); err != nil {
		t.Fatal(err)
	}
}

// waitQueued returns once n writers wait for the writer connection.
func waitQueued(d *db.DB, n int) {
	for d.WritersWaiting() != n {
		runtime.Gosched()
	}
}

// On SQLite, writers that arrive while one is writing go in arrival order:
// each is started only once the previous one is in the queue.
func TestSQLiteWritersGoInArrivalOrder(t *testing.T) {
	d, _ := dbtest.Open(t, db.SQLite)
	probeTable(t, d)
	ctx := context.Background()
	first, err := d.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	const n = 12
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := 1; i <= n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if i%2 == 0 { // statements outside a transaction queue too
				_, err := d.ExecContext(ctx, `INSERT INTO writer_probe (n) VALUES (?)`, i)
				errs <- err
				return
			}
			tx, err := d.BeginTx(ctx, nil)
			if err != nil {
				errs <- err
				return
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO writer_probe (n) VALUES (?)`, i); err != nil {
				tx.Rollback()
				errs <- err
				return
			}
			errs <- tx.Commit()
		}()
		waitQueued(d, i)
	}
	if _, err := first.ExecContext(ctx, `INSERT INTO writer_probe (n) VALUES (0)`); err != nil {
		t.Fatal(err)
	}
	if err := first.Commit(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("a queued writer failed: %v", err)
		}
	}
	rows, err := d.QueryContext(ctx, `SELECT n FROM writer_probe ORDER BY rowid`)
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
	if len(got) != n+1 {
		t.Fatalf("%d rows written, want %d", len(got), n+1)
	}
	for i, v := range got {
		if v != i {
			t.Fatalf("writes committed in order %v, want arrival order 0..%d", got, n)
		}
	}
	if w := d.WritersWaiting(); w != 0 {
		t.Fatalf("%d writers still queued", w)
	}
}

// A writer whose context ends while it waits leaves the queue with the
// context's error; the writers behind it still get their turn.
func TestSQLiteWriterLeavesQueueOnCancel(t *testing.T) {
	d, _ := dbtest.Open(t, db.SQLite)
	probeTable(t, d)
	ctx := context.Background()
	first, err := d.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	gone, cancel := context.WithCancel(ctx)
	leaving := make(chan error, 1)
	go func() {
		_, err := d.BeginTx(gone, nil)
		leaving <- err
	}()
	waitQueued(d, 1)
	staying := make(chan error, 1)
	go func() {
		_, err := d.ExecContext(ctx, `INSERT INTO writer_probe (n) VALUES (1)`)
		staying <- err
	}()
	waitQueued(d, 2)
	cancel()
	if err := <-leaving; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled writer: err = %v, want context.Canceled", err)
	}
	waitQueued(d, 1)
	if err := first.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := <-staying; err != nil {
		t.Fatalf("writer behind the cancelled one: %v", err)
	}
	var count int
	if err := d.QueryRowContext(ctx, `SELECT COUNT(*) FROM writer_probe`).Scan(&count); err != nil || count != 1 {
		t.Fatalf("count = %d, %v; want 1", count, err)
	}
}

// Many concurrent writers (transactions and single statements) all
// succeed on every database: none is turned away busy.
func TestConcurrentWritersAllSucceed(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, s db.Settings) {
		d := dbtest.OpenSettings(t, s)
		probeTable(t, d)
		ctx := context.Background()
		const n = 48
		var wg sync.WaitGroup
		errs := make(chan error, 2*n)
		for i := range n {
			wg.Add(2)
			go func() {
				defer wg.Done()
				tx, err := d.BeginTx(ctx, nil)
				if err != nil {
					errs <- fmt.Errorf("begin: %w", err)
					return
				}
				if _, err := tx.ExecContext(ctx, d.Rebind(`INSERT INTO writer_probe (n) VALUES (?)`), i); err != nil {
					tx.Rollback()
					errs <- err
					return
				}
				errs <- tx.Commit()
			}()
			go func() {
				defer wg.Done()
				_, err := d.ExecContext(ctx, d.Rebind(`INSERT INTO writer_probe (n) VALUES (?)`), -i)
				errs <- err
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatalf("concurrent writer failed: %v", err)
			}
		}
		var count int
		if err := d.QueryRowContext(ctx, `SELECT COUNT(*) FROM writer_probe`).Scan(&count); err != nil || count != 2*n {
			t.Fatalf("count = %d, %v; want %d", count, err, 2*n)
		}
	})
}
