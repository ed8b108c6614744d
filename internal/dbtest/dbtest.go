// Package dbtest gives tests a fresh, empty database of each kind rookery
// supports: SQLite always, PostgreSQL and MariaDB/MySQL when
// TEST_POSTGRES_URL / TEST_MYSQL_URL are set. With CI=true a configured
// database that cannot be reached fails the test instead of skipping it.
package dbtest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rookery/rookery/internal/db"
)

// Target is one database a test can run against.
type Target struct {
	Dialect db.Dialect
	// EnvURL names the variable that enables it ("" for SQLite).
	EnvURL string
}

// Targets lists every kind in a fixed order.
var Targets = []Target{{db.SQLite, ""}, {db.Postgres, "TEST_POSTGRES_URL"}, {db.MySQL, "TEST_MYSQL_URL"}}

// Each runs fn as a subtest per available database, with the settings of a
// fresh empty database.
func Each(t *testing.T, fn func(t *testing.T, s db.Settings)) {
	t.Helper()
	for _, tg := range Targets {
		t.Run(string(tg.Dialect), func(t *testing.T) {
			fn(t, Fresh(t, tg.Dialect))
		})
	}
}

// Fresh creates an empty database of the given kind, dropped when the test
// ends, or skips (fails under CI=true) when it is not available.
func Fresh(t testing.TB, d db.Dialect) db.Settings {
	t.Helper()
	base := db.Settings{PoolSize: 10, MaxRetries: 0, RetryDelay: 100 * time.Millisecond}
	switch d {
	case db.SQLite:
		dir := t.TempDir()
		base.URL = "sqlite:" + filepath.Join(dir, "rookery.db")
		base.DataDir = dir
		return base
	case db.Postgres:
		return server(t, base, "TEST_POSTGRES_URL", "pgx", func(admin *sql.DB, name string) error {
			_, err := admin.Exec(`CREATE DATABASE ` + name)
			return err
		}, func(admin *sql.DB, name string) {
			_, _ = admin.Exec(`DROP DATABASE IF EXISTS ` + name + ` WITH (FORCE)`)
		})
	case db.MySQL:
		return server(t, base, "TEST_MYSQL_URL", "mysql", func(admin *sql.DB, name string) error {
			// The server's default collation, as a real install gets: it
			// ignores case and accents, and the schema must not rely on
			// anything stricter it does not declare.
			_, err := admin.Exec("CREATE DATABASE " + name + " CHARACTER SET utf8mb4")
			return err
		}, func(admin *sql.DB, name string) {
			_, _ = admin.Exec("DROP DATABASE IF EXISTS " + name)
		})
	}
	t.Fatalf("unknown dialect %s", d)
	return base
}

func server(t testing.TB, base db.Settings, env, driver string, create func(*sql.DB, string) error, drop func(*sql.DB, string)) db.Settings {
	t.Helper()
	raw := os.Getenv(env)
	if raw == "" {
		unavailable(t, env+" is not set")
	}
	base.URL = raw
	_, _, dsn, err := base.Target()
	if err != nil {
		t.Fatalf("%s: %v", env, err)
	}
	admin, err := sql.Open(driver, dsn)
	if err != nil {
		t.Fatalf("%s: %v", env, err)
	}
	t.Cleanup(func() { admin.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := admin.PingContext(ctx); err != nil {
		unavailable(t, env+" unreachable: "+err.Error())
	}
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	name := "rk_" + hex.EncodeToString(b)
	if err := create(admin, name); err != nil {
		t.Fatalf("create test database: %v", err)
	}
	t.Cleanup(func() { drop(admin, name) })
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatalf("%s: %v", env, err)
	}
	u.Path = "/" + name
	base.URL = u.String()
	return base
}

func unavailable(t testing.TB, why string) {
	t.Helper()
	if strings.EqualFold(os.Getenv("CI"), "true") {
		t.Fatalf("database required under CI=true: %s", why)
	}
	t.Skip(why)
}

// Open opens and migrates a fresh database of the given kind.
func Open(t testing.TB, d db.Dialect) (*db.DB, db.Settings) {
	t.Helper()
	s := Fresh(t, d)
	return OpenSettings(t, s), s
}

// OpenSettings opens and migrates the database s names.
func OpenSettings(t testing.TB, s db.Settings) *db.DB {
	t.Helper()
	ctx := context.Background()
	d, err := db.Open(ctx, s, Discard())
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { d.Close() })
	if err := d.Migrate(ctx, Discard()); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	return d
}

// OpenUnmigrated opens the database s names as it is, without migrating:
// for tests that check what a refused start left behind.
func OpenUnmigrated(t testing.TB, s db.Settings) *db.DB {
	t.Helper()
	d, err := db.Open(context.Background(), s, Discard())
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}
