package config_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
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

// Concurrent changes through one store take turns, in the order they
// arrived, on every database: at most two transactions are open (one
// running, the next waiting for the revision row), the others wait without
// holding a pooled connection, and every change lands with its audit record.
func TestConcurrentSetsTakeTurns(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, s db.Settings) {
		d := dbtest.OpenSettings(t, s)
		store, _ := newStore(t, d)
		store.SetWriter(d)
		ctx := context.Background()
		var mu sync.Mutex
		open, most := 0, 0
		db.ObserveQueries(func(op string, _ time.Duration) {
			mu.Lock()
			defer mu.Unlock()
			switch op {
			case "begin":
				open++
				most = max(most, open)
			case "commit", "rollback":
				open--
			}
		})
		defer db.ObserveQueries(nil)
		const writers = 24
		var wg sync.WaitGroup
		errs := make(chan error, writers)
		for i := range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := store.Set(ctx, "smtp_port", fmt.Sprint(2000+i), config.AnyVersion, config.Origin{Actor: "t"})
				errs <- err
			}()
		}
		wg.Wait()
		db.ObserveQueries(nil)
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatalf("a concurrent change failed: %v", err)
			}
		}
		mu.Lock()
		defer mu.Unlock()
		if most > 2 {
			t.Errorf("%d of the store's transactions were open at once, want at most 2", most)
		}
		h, err := store.History(ctx, "smtp_port", 100)
		if err != nil || len(h) != writers {
			t.Fatalf("%d audit records, %v; want %d", len(h), err, writers)
		}
		e, err := store.Get(ctx, "smtp_port")
		if err != nil || e.Version != writers {
			t.Fatalf("version %d, %v; want %d", e.Version, err, writers)
		}
	})
}

// A change whose context ends while it waits for its turn gives up as an
// unavailable database (a 503, like a database that does not answer in
// time) and changes nothing; the changes ahead of it land in order.
func TestSetGivesUpWaitingForItsTurn(t *testing.T) {
	d, _ := dbtest.Open(t, db.SQLite)
	store, _ := newStore(t, d)
	store.SetWriter(d)
	// Both turns go to changes that wait for the database writer, itself
	// held here.
	held, err := d.BeginTx(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	ahead := make(chan error, 2)
	for i, v := range []string{"2525", "2727"} {
		go func() {
			_, err := store.Set(context.Background(), "smtp_port", v, config.AnyVersion, config.Origin{Actor: "t"})
			ahead <- err
		}()
		for d.WritersWaiting() != i+1 {
			runtime.Gosched()
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := store.Set(ctx, "smtp_port", "2626", config.AnyVersion, config.Origin{Actor: "t"}); !errors.Is(err, config.ErrUnavailable) {
		t.Fatalf("err = %v, want ErrUnavailable", err)
	}
	if err := held.Rollback(); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := <-ahead; err != nil {
			t.Fatal(err)
		}
	}
	if e, err := store.Get(context.Background(), "smtp_port"); err != nil || e.Value != "2727" || e.Version != 2 {
		t.Fatalf("smtp_port %q version %d, %v; want 2727 version 2", e.Value, e.Version, err)
	}
}
