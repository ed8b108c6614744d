package db

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"testing"
	"time"
)

func openCachedSQLite(t *testing.T) *sql.DB {
	t.Helper()
	d, err := openSQL(timed("sqlite"), SQLite, sqliteDSN(filepath.Join(t.TempDir(), "cache.db")))
	if err != nil {
		t.Fatal(err)
	}
	d.SetMaxOpenConns(1) // one connection: its cache is the one inspected
	t.Cleanup(func() { d.Close() })
	return d
}

// kept is how many statements the pool's one connection keeps prepared.
func kept(t *testing.T, d *sql.DB) int {
	t.Helper()
	c, err := d.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	n := -1
	if err := c.Raw(func(dc any) error {
		cc, ok := dc.(*cachingConn)
		if !ok {
			return fmt.Errorf("connection is a %T, not a caching one", dc)
		}
		n = len(cc.stmts)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return n
}

func mustExec(t *testing.T, d *sql.DB, q string, args ...any) {
	t.Helper()
	if _, err := d.ExecContext(context.Background(), q, args...); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

// A statement run again reuses its prepared form and gives the same
// answers as a fresh one: arguments, times, column types, errors.
func TestStatementCacheReusesStatements(t *testing.T) {
	d := openCachedSQLite(t)
	ctx := context.Background()
	mustExec(t, d, `CREATE TABLE c (n INTEGER NOT NULL UNIQUE, at DATETIME NOT NULL)`)
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for i := range 20 {
		mustExec(t, d, `INSERT INTO c (n, at) VALUES (?, ?)`, i, at.Add(time.Duration(i)*time.Second))
	}
	if _, err := d.ExecContext(ctx, `INSERT INTO c (n, at) VALUES (?, ?)`, 3, at); err == nil {
		t.Fatal("a duplicate went in through the kept statement")
	}
	mustExec(t, d, `INSERT INTO c (n, at) VALUES (?, ?)`, 20, at) // usable after its error
	before := kept(t, d)
	for i := range 21 {
		var got time.Time
		if err := d.QueryRowContext(ctx, `SELECT at FROM c WHERE n = ?`, i).Scan(&got); err != nil {
			t.Fatal(err)
		}
		want := at.Add(time.Duration(i) * time.Second)
		if i == 20 {
			want = at
		}
		if !got.Equal(want) {
			t.Fatalf("row %d: at %v, want %v", i, got, want)
		}
	}
	if after := kept(t, d); after != before+1 {
		t.Fatalf("%d statements kept after 21 runs of one query, want %d", after, before+1)
	}
	rows, err := d.QueryContext(ctx, `SELECT n, at FROM c WHERE n < ?`, 2)
	if err != nil {
		t.Fatal(err)
	}
	types, err := rows.ColumnTypes()
	rows.Close()
	if err != nil || len(types) != 2 || types[1].DatabaseTypeName() != "DATETIME" {
		t.Fatalf("column types %v, %v; want n and at (DATETIME)", types, err)
	}
}

// The same query run while its rows are still open (inside their loop)
// gets a statement of its own; a script still runs every statement.
func TestStatementCacheNestedAndScripts(t *testing.T) {
	d := openCachedSQLite(t)
	ctx := context.Background()
	mustExec(t, d, `CREATE TABLE a (n INTEGER); CREATE TABLE b (n INTEGER); INSERT INTO a VALUES (1), (2), (3)`)
	var tables int
	if err := d.QueryRowContext(ctx, `SELECT COUNT(*) FROM sqlite_master WHERE name IN ('a', 'b')`).Scan(&tables); err != nil || tables != 2 {
		t.Fatalf("%d tables from the script, %v; want 2", tables, err)
	}
	tx, err := d.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	const q = `SELECT n FROM a WHERE n >= ? ORDER BY n`
	outer, err := tx.QueryContext(ctx, q, 1)
	if err != nil {
		t.Fatal(err)
	}
	var pairs []string
	for outer.Next() {
		var n int
		if err := outer.Scan(&n); err != nil {
			t.Fatal(err)
		}
		inner, err := tx.QueryContext(ctx, q, n)
		if err != nil {
			t.Fatal(err)
		}
		for inner.Next() {
			var m int
			if err := inner.Scan(&m); err != nil {
				t.Fatal(err)
			}
			pairs = append(pairs, fmt.Sprint(n, m))
		}
		if err := inner.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if err := outer.Err(); err != nil {
		t.Fatal(err)
	}
	outer.Close()
	if got := fmt.Sprint(pairs); got != "[1 1 1 2 1 3 2 2 2 3 3 3]" {
		t.Fatalf("nested runs of one query gave %s", got)
	}
}

// More distinct statements than the cache holds: the oldest make room,
// every answer stays right, and the cache stays within its bound.
func TestStatementCacheBound(t *testing.T) {
	d := openCachedSQLite(t)
	ctx := context.Background()
	for i := range 3 * stmtCacheSize {
		var got int
		if err := d.QueryRowContext(ctx, fmt.Sprintf(`SELECT %d`, i)).Scan(&got); err != nil || got != i {
			t.Fatalf("SELECT %d gave %d, %v", i, got, err)
		}
	}
	if n := kept(t, d); n > stmtCacheSize {
		t.Fatalf("%d statements kept, bound %d", n, stmtCacheSize)
	}
}
