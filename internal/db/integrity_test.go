package db_test

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/rookery/rookery/internal/auth"
	"github.com/rookery/rookery/internal/db"
	"github.com/rookery/rookery/internal/dbtest"
)

func TestIsDamaged(t *testing.T) {
	cases := []struct {
		err  error
		want bool
	}{
		{nil, false},
		{errors.New("database disk image is malformed (11)"), true},
		{errors.New("file is not a database (26)"), true},
		{errors.New("malformed database schema (users) - invalid rootpage (11)"), true},
		{fmt.Errorf("%w: %v", auth.ErrUnavailable, errors.New("database disk image is malformed (11)")), true},
		{fmt.Errorf("check: %w", &db.DamageError{File: "x.db"}), true},
		{db.ErrDamaged, true},
		{errors.New("database is locked (5)"), false},
		{errors.New("dial tcp 127.0.0.1:5432: connect: connection refused"), false},
		{context.DeadlineExceeded, false},
	}
	for _, c := range cases {
		if got := db.IsDamaged(c.err); got != c.want {
			t.Errorf("IsDamaged(%v) = %v, want %v", c.err, got, c.want)
		}
	}
	e := &db.DamageError{File: "/data/rookery.db", Findings: []string{"row 3 missing from index\nidx_x", "page 9 never used"}}
	if msg := e.Error(); strings.Contains(msg, "\n") || !strings.Contains(msg, "/data/rookery.db") || !strings.Contains(msg, "1 more") {
		t.Errorf("DamageError = %q: want one line naming the file and the count", msg)
	}
}

// TestSchemaVersionAndEmpty: an empty database is empty at version 0
// (and reading that creates nothing); a migrated one is at the version
// this build carries.
func TestSchemaVersionAndEmpty(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, s db.Settings) {
		ctx := context.Background()
		d := dbtest.OpenUnmigrated(t, s)
		for i := 0; i < 2; i++ { // twice: the first read must not create the version table
			empty, err := d.Empty(ctx)
			if err != nil || !empty {
				t.Fatalf("fresh database: empty=%v, %v", empty, err)
			}
			if v, err := d.SchemaVersion(ctx); err != nil || v != 0 {
				t.Fatalf("fresh database: schema version %d, %v", v, err)
			}
		}
		if err := d.Migrate(ctx, dbtest.Discard()); err != nil {
			t.Fatal(err)
		}
		want, err := db.EmbeddedVersion(d.Dialect)
		if err != nil || want < 3 {
			t.Fatalf("embedded version %d, %v", want, err)
		}
		if empty, err := d.Empty(ctx); err != nil || empty {
			t.Fatalf("migrated database: empty=%v, %v", empty, err)
		}
		if v, err := d.SchemaVersion(ctx); err != nil || v != want {
			t.Fatalf("migrated database: schema version %d, %v; want %d", v, err, want)
		}
		if err := d.QuickCheck(ctx); err != nil {
			t.Fatalf("quick_check of a sound database: %v", err)
		}
		if err := d.Health(ctx); err != nil {
			t.Fatalf("health of a sound database: %v", err)
		}
	})
}

// TestQuickCheckReadsTheFile: the pool's connections hold pages in their
// caches; the check must read the file, or damage done since would pass.
func TestQuickCheckReadsTheFile(t *testing.T) {
	ctx := context.Background()
	d, s := dbtest.Open(t, db.SQLite)
	if _, err := d.Exec(`CREATE TABLE filler (id INTEGER PRIMARY KEY, data BLOB NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 300; i++ {
		if _, err := d.Exec(`INSERT INTO filler (data) VALUES (?)`, strings.Repeat(rand.Text(), 40)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := d.Exec(`PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := d.QueryRow(`SELECT count(length(data)) FROM filler`).Scan(&n); err != nil || n != 300 { // warm the cache
		t.Fatalf("count %d, %v", n, err)
	}
	if err := d.QuickCheck(ctx); err != nil {
		t.Fatalf("before the damage: %v", err)
	}
	file := s.SQLiteFile()
	dbtest.Corrupt(t, file)
	err := d.QuickCheck(ctx)
	var de *db.DamageError
	if !errors.As(err, &de) || de.File != file || !db.IsDamaged(err) {
		t.Fatalf("quick_check after the damage = %v; want a DamageError naming %s", err, file)
	}
	if err := d.Health(ctx); !db.IsDamaged(err) {
		t.Fatalf("health after a damaging check = %v", err)
	}
}

// TestListenReportsListening: the listening channel closes once LISTEN is
// in place, and a NOTIFY sent after that is always delivered; before the
// fix nothing told the caller when that moment was.
func TestListenReportsListening(t *testing.T) {
	d, _ := dbtest.Open(t, db.Postgres)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	notify, listening := d.Listen(ctx, "rookery_test", dbtest.Discard())
	select {
	case <-listening:
	case <-time.After(30 * time.Second):
		t.Fatal("LISTEN not in place after 30s")
	}
	select {
	case <-notify:
		t.Fatal("a signal before any notification")
	default:
	}
	if _, err := d.Exec(`SELECT pg_notify('rookery_test', 'x')`); err != nil {
		t.Fatal(err)
	}
	select {
	case <-notify:
	case <-time.After(30 * time.Second):
		t.Fatal("a NOTIFY sent after listening was never delivered")
	}
	cancel()
	for range notify { // closed when ctx ends
	}

	other, _ := dbtest.Open(t, db.SQLite)
	if n, l := other.Listen(context.Background(), "rookery_test", dbtest.Discard()); n != nil || l != nil {
		t.Error("Listen on SQLite returned channels")
	}
}
