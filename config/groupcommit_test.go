package config_test

import (
	"context"
	"errors"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rookery/rookery/config"
	"github.com/rookery/rookery/internal/db"
	"github.com/rookery/rookery/internal/dbtest"
)

// Changes queued together on SQLite commit together, each checked against
// the state the changes before it left, as if they had committed one by
// one: a stale If-Match fails alone, a key deleted and created again in
// the batch does not reuse a version, the revision moves once per change
// and every change has its own audit record.
func TestQueuedChangesCommitTogether(t *testing.T) {
	d, _ := dbtest.Open(t, db.SQLite)
	store, _ := newStore(t, d)
	store.SetWriter(d)
	ctx := context.Background()
	o := config.Origin{Actor: "t"}
	if _, err := store.Set(ctx, "smtp_port", "2000", config.Absent, o); err != nil {
		t.Fatal(err)
	}
	rev0, err := store.Revision(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var commits atomic.Int64
	d.ObserveQueries(func(op string, _ time.Duration) {
		if op == "commit" {
			commits.Add(1)
		}
	})
	defer d.ObserveQueries(nil)

	changes := []func() error{
		func() error { _, err := store.Set(ctx, "smtp_port", "2001", 1, o); return err },                 // version 2
		func() error { _, err := store.Set(ctx, "smtp_port", "2002", 1, o); return err },                 // stale
		func() error { return store.Delete(ctx, "smtp_port", 2, o) },                                     // audited as version 3
		func() error { _, err := store.Set(ctx, "smtp_port", "2003", config.Absent, o); return err },     // version 4
		func() error { _, err := store.Set(ctx, "smtp_port", "many", config.AnyVersion, o); return err }, // refused
		func() error {
			_, err := store.Set(ctx, "smtp_host", "mail.example.com", config.AnyVersion, o)
			return err
		},
	}
	hold, err := d.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	errs := make([]error, len(changes))
	var wg sync.WaitGroup
	for i, change := range changes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = change()
		}()
		for d.WritersWaiting() != i+1 {
			runtime.Gosched()
		}
	}
	if err := hold.Commit(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	var conflict *config.ConflictError
	for i, err := range errs {
		switch i {
		case 1:
			if !errors.As(err, &conflict) || conflict.Current != 2 {
				t.Errorf("stale If-Match: err = %v, want a conflict with version 2", err)
			}
		case 4:
			if err == nil || errors.Is(err, config.ErrUnavailable) || errors.As(err, &conflict) {
				t.Errorf("invalid value: err = %v, want the value refused", err)
			}
		default:
			if err != nil {
				t.Errorf("change %d: %v", i, err)
			}
		}
	}
	if c := commits.Load(); c != 2 {
		t.Errorf("%d COMMITs, want 2 (the holder's and the batch's)", c)
	}
	e, err := store.Get(ctx, "smtp_port")
	if err != nil || e.Value != "2003" || e.Version != 4 {
		t.Fatalf("smtp_port %q version %d, %v; want 2003 version 4", e.Value, e.Version, err)
	}
	h, err := store.History(ctx, "smtp_port", 10)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, a := range h {
		got = append(got, a.Action+" "+strconv.FormatInt(a.Version, 10))
	}
	if want := []string{"create 4", "delete 3", "update 2", "create 1"}; !slices.Equal(got, want) {
		t.Fatalf("history %v, want %v", got, want)
	}
	if rev, err := store.Revision(ctx); err != nil || rev != rev0+4 {
		t.Fatalf("revision %d, %v; want %d (four changes)", rev, err, rev0+4)
	}
}
