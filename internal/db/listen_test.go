package db_test

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/rookery/rookery/internal/db"
	"github.com/rookery/rookery/internal/dbtest"
)

// TestListenReconnects: when the server drops the LISTEN connection, the
// listener waits the first step of its backoff (100 ms), reconnects,
// signals once for the notifications it may have missed, and delivers the
// ones sent after.
func TestListenReconnects(t *testing.T) {
	d, _ := dbtest.Open(t, db.Postgres)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var logs dbtest.Buffer
	notify, listening := d.Listen(ctx, "rookery_reconnect", slog.New(slog.NewTextHandler(&logs, nil)))
	select {
	case <-listening:
	case <-time.After(30 * time.Second):
		t.Fatal("LISTEN not in place after 30s")
	}
	var dropped int
	err := d.QueryRow(`SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
		WHERE datname = current_database() AND pid <> pg_backend_pid() AND query LIKE 'LISTEN%'`).Scan(&dropped)
	if err != nil || dropped != 1 {
		t.Fatalf("dropping the listener: %d connections, %v", dropped, err)
	}
	select {
	case <-notify: // the catch-up signal after the reconnect
	case <-time.After(30 * time.Second):
		t.Fatal("no signal after the connection was dropped")
	}
	if out := logs.String(); !strings.Contains(out, "reconnecting") || !strings.Contains(out, "retry_in=100ms") {
		t.Errorf("log %q, want a reconnect after 100ms", out)
	}
	// The catch-up signal comes once LISTEN is back in place, so this
	// notification cannot slip by.
	if _, err := d.Exec(`SELECT pg_notify('rookery_reconnect', 'x')`); err != nil {
		t.Fatal(err)
	}
	select {
	case <-notify:
	case <-time.After(30 * time.Second):
		t.Fatal("no NOTIFY delivered after the reconnect")
	}
	cancel()
	for range notify { // closed when ctx ends
	}
}
