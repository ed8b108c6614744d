package db_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/rookery/rookery/internal/db"
	"github.com/rookery/rookery/internal/dbtest"
)

func TestOperation(t *testing.T) {
	for q, want := range map[string]string{
		"SELECT 1":                      "select",
		"  select * from x":             "select",
		"WITH a AS (SELECT 1) SELECT 1": "select",
		"INSERT INTO t VALUES (1)":      "insert",
		"update t set a=1":              "update",
		"DELETE FROM t":                 "delete",
		"(SELECT 1) UNION (SELECT 2)":   "select",
		"PRAGMA quick_check":            "other",
		"":                              "other",
		"LISTEN config_changed; SELECT": "other",
	} {
		if got := db.Operation(q); got != want {
			t.Errorf("Operation(%q) = %q, want %q", q, got, want)
		}
	}
}

// TestQueriesAreTimed: statements, prepared statements and transactions
// reach the observer with their operation, on every database, from many
// goroutines at once.
func TestQueriesAreTimed(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, s db.Settings) {
		d := dbtest.OpenSettings(t, s)
		var mu sync.Mutex
		seen := map[string]int{}
		d.ObserveQueries(func(op string, dur time.Duration) {
			if dur < 0 {
				t.Errorf("negative duration for %s", op)
			}
			mu.Lock()
			seen[op]++
			mu.Unlock()
		})
		defer d.ObserveQueries(nil)
		ctx := context.Background()
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() {
				var n int
				if err := d.QueryRowContext(ctx, "SELECT 1").Scan(&n); err != nil {
					t.Error(err)
				}
				st, err := d.PrepareContext(ctx, "SELECT 2")
				if err != nil {
					t.Error(err)
					return
				}
				defer st.Close()
				if err := st.QueryRowContext(ctx).Scan(&n); err != nil {
					t.Error(err)
				}
				tx, err := d.BeginTx(ctx, nil)
				if err != nil {
					t.Error(err)
					return
				}
				if _, err := tx.ExecContext(ctx, d.Rebind("UPDATE sessions SET revoked = revoked WHERE id = ?"), "none"); err != nil {
					t.Error(err)
				}
				if err := tx.Commit(); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		mu.Lock()
		defer mu.Unlock()
		if seen["select"] < 16 || seen["update"] < 8 || seen["begin"] < 8 || seen["commit"] < 8 {
			t.Errorf("observed %v; want at least 16 selects and 8 each of update, begin, commit", seen)
		}
	})
}
