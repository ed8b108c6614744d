package cli

import (
	"crypto/rand"
	"errors"
	"github.com/rookery/rookery/internal/app"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/rookery/rookery/internal/db"
	"github.com/rookery/rookery/internal/dbtest"
)

// exitCode is the status main exits with for err.
func exitCode(err error) int {
	if err == nil {
		return 0
	}
	var ec interface{ ExitCode() int }
	if errors.As(err, &ec) {
		return ec.ExitCode()
	}
	return 1
}

// TestDBCheck: `rookery db check` on every database: exit 1 with a
// sentence for an unreachable or empty database, 0 with the schema
// version once migrated; on SQLite also for a missing file, and exit 1
// listing what integrity_check found once pages are damaged.
func TestDBCheck(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, s db.Settings) {
		t.Setenv("DATA_DIR", t.TempDir())
		t.Setenv("DATABASE_URL", s.URL)
		t.Setenv("BCRYPT_COST", "4")
		file := s.SQLiteFile()

		out, err := run(t, "", "db", "check")
		if file != "" {
			if exitCode(err) != 1 || !strings.Contains(err.Error(), "there is no SQLite database at "+file) {
				t.Fatalf("check of a missing file: exit %d, %v", exitCode(err), err)
			}
			if _, err := os.Stat(file); err == nil {
				t.Fatal("db check created the database file")
			}
			// An empty file, as SQLite would create it.
			if err := os.WriteFile(file, nil, 0o600); err != nil {
				t.Fatal(err)
			}
			out, err = run(t, "", "db", "check")
		}
		if exitCode(err) != 1 || !strings.Contains(err.Error(), "the database is empty") || !strings.Contains(out, "schema version: none") {
			t.Fatalf("check of an empty database: exit %d, %v\n%s", exitCode(err), err, out)
		}

		if out, err := run(t, "", "migrate"); err != nil {
			t.Fatalf("migrate: %v %s", err, out)
		}
		want, err := db.EmbeddedVersion(dialectOf(t, s))
		if err != nil || want < 1 {
			t.Fatalf("embedded version %d, %v", want, err)
		}
		out, err = run(t, "", "db", "check")
		if exitCode(err) != 0 || !strings.Contains(out, "the database is healthy") ||
			!strings.Contains(out, "schema version: "+strconv.FormatInt(want, 10)+", the one this build carries") {
			t.Fatalf("check of a migrated database: exit %d, %v\n%s", exitCode(err), err, out)
		}
		if file != "" && !strings.Contains(out, "integrity_check: ok") {
			t.Errorf("no integrity_check verdict:\n%s", out)
		}

		if file == "" {
			// Unreachable: a port nothing listens on.
			t.Setenv("DATABASE_URL", strings.Replace(s.URL, "127.0.0.1:", "127.0.0.1:1", 1))
			_, err := run(t, "", "db", "check")
			if exitCode(err) != 1 || !strings.Contains(err.Error(), "the database is unreachable") {
				t.Fatalf("check of an unreachable database: exit %d, %v", exitCode(err), err)
			}
			return
		}

		// Damage: pages in the middle of a file with data in it.
		core, err := New("rookery", "test", app.Extension{}).openCore(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := core.DB.Exec(`CREATE TABLE filler (id INTEGER PRIMARY KEY, data BLOB NOT NULL)`); err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 300; i++ {
			if _, err := core.DB.Exec(`INSERT INTO filler (data) VALUES (?)`, strings.Repeat(rand.Text(), 40)); err != nil {
				t.Fatal(err)
			}
		}
		core.Close()
		dbtest.Corrupt(t, file)
		out, err = run(t, "", "db", "check")
		if exitCode(err) != 1 || !strings.Contains(err.Error(), "damaged") || !strings.Contains(out, "integrity_check found") {
			t.Fatalf("check of a damaged file: exit %d, %v\n%s", exitCode(err), err, out)
		}
		t.Logf("db check on a damaged file:\n%s", out)

		// Not a database at all.
		if err := os.WriteFile(file, []byte(strings.Repeat("garbage ", 2000)), 0o600); err != nil {
			t.Fatal(err)
		}
		_ = os.Remove(file + "-wal")
		_ = os.Remove(file + "-shm")
		_, err = run(t, "", "db", "check")
		if exitCode(err) != 1 || !strings.Contains(err.Error(), "is damaged") || !strings.Contains(err.Error(), filepath.Base(file)) {
			t.Fatalf("check of a file that is not a database: exit %d, %v", exitCode(err), err)
		}
	})
}

// TestInitFlag: once an install has a key file, an emptied database is
// refused by the operator commands and by migrate, and migrate --init
// initialises it.
func TestInitFlag(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("DATA_DIR", dir)
	t.Setenv("BCRYPT_COST", "4")
	if out, err := run(t, "", "migrate"); err != nil {
		t.Fatalf("first migrate: %v %s", err, out)
	}
	file := filepath.Join(dir, "rookery.db")
	if err := os.Truncate(file, 0); err != nil {
		t.Fatal(err)
	}
	_ = os.Remove(file + "-wal")
	_ = os.Remove(file + "-shm")
	for _, args := range [][]string{{"config", "list"}, {"migrate"}} {
		_, err := run(t, "", args...)
		if err == nil || !strings.Contains(err.Error(), "is empty") || !strings.Contains(err.Error(), "--init") {
			t.Errorf("%v on an emptied database = %v; want the refusal", args, err)
		}
	}
	d := dbtest.OpenUnmigrated(t, db.Settings{URL: "sqlite:" + file})
	if empty, err := d.Empty(t.Context()); err != nil || !empty {
		t.Fatalf("a refused command created tables (empty=%v, %v)", empty, err)
	}
	d.Close()
	if out, err := run(t, "", "migrate", "--init"); err != nil || !strings.Contains(out, "up to date") {
		t.Fatalf("migrate --init: %v %s", err, out)
	}
	if out, err := run(t, "", "db", "check"); err != nil {
		t.Fatalf("check after migrate --init: %v\n%s", err, out)
	}
	if !New("rookery", "test", app.Extension{}).newServeCmd().Flags().HasAvailableFlags() || New("rookery", "test", app.Extension{}).newServeCmd().Flags().Lookup("init") == nil {
		t.Error("serve has no --init flag")
	}
}

func dialectOf(t *testing.T, s db.Settings) db.Dialect {
	t.Helper()
	_, d, _, err := s.Target()
	if err != nil {
		t.Fatal(err)
	}
	return d
}
