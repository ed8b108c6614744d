package db_test

import (
	"context"
	"testing"
	"time"

	"github.com/rookery/rookery/internal/db"
	"github.com/rookery/rookery/internal/dbtest"
)

// TestSubscribeDone: an owner stopping the process can wait for the LISTEN
// loop. Done closes once ctx has ended and the loop is over (Notify is
// closed by then); on dialects without LISTEN nothing runs and Done is
// closed from the start.
func TestSubscribeDone(t *testing.T) {
	for _, d := range []db.Dialect{db.SQLite, db.Postgres, db.MySQL} {
		t.Run(string(d), func(t *testing.T) {
			conn, _ := dbtest.Open(t, d)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			l := conn.Subscribe(ctx, "rookery_done", dbtest.Discard())
			if d != db.Postgres {
				if l.Notify != nil || l.Listening != nil {
					t.Fatal("channels on a dialect without LISTEN")
				}
				select {
				case <-l.Done():
				default:
					t.Fatal("Done not closed on a dialect without LISTEN")
				}
				return
			}
			select {
			case <-l.Listening:
			case <-time.After(30 * time.Second):
				t.Fatal("LISTEN not in place after 30s")
			}
			select {
			case <-l.Done():
				t.Fatal("Done closed while listening")
			default:
			}
			cancel()
			select {
			case <-l.Done():
			case <-time.After(30 * time.Second):
				t.Fatal("the loop did not end after ctx was cancelled")
			}
			if _, ok := <-l.Notify; ok {
				t.Error("Notify still open after Done")
			}
		})
	}
}
