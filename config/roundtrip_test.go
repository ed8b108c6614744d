package config_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/rookery/rookery/config"
	"github.com/rookery/rookery/internal/db"
	"github.com/rookery/rookery/internal/dbtest"
)

// statementsPerSet counts the statements (round trips, begin and commit
// aside) one change of an existing key sends to the database.
func statementsPerSet(t *testing.T, d *db.DB) int {
	t.Helper()
	store, _ := newStore(t, d)
	store.SetWriter(d)
	ctx := context.Background()
	if _, err := store.Set(ctx, "smtp_port", "2525", config.AnyVersion, config.Origin{Actor: "t"}); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	n := 0
	db.ObserveQueries(func(op string, _ time.Duration) {
		if op != "begin" && op != "commit" && op != "rollback" {
			mu.Lock()
			n++
			mu.Unlock()
		}
	})
	_, err := store.Set(ctx, "smtp_port", "2526", config.AnyVersion, config.Origin{Actor: "t"})
	db.ObserveQueries(nil)
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	return n
}

// A change on PostgreSQL costs no more round trips than on SQLite: the
// revision bump carries the notification to the other replicas.
func TestSetRoundTripsOnServers(t *testing.T) {
	sqlite, _ := dbtest.Open(t, db.SQLite)
	base := statementsPerSet(t, sqlite)
	for _, tg := range []db.Dialect{db.Postgres, db.MySQL} {
		t.Run(string(tg), func(t *testing.T) {
			d, _ := dbtest.Open(t, tg)
			got := statementsPerSet(t, d)
			t.Logf("%s: %d statements per change, SQLite %d", tg, got, base)
			if got > base {
				t.Fatalf("one change sends %d statements on %s, %d on SQLite", got, tg, base)
			}
		})
	}
}
