package app

import (
	"context"
	"crypto/rand"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rookery/rookery/internal/db"
	"github.com/rookery/rookery/internal/dbtest"
)

// testSettings are the process settings launch would build for s, for
// tests that open the core without a server.
func testSettings(t *testing.T, s db.Settings) Settings {
	t.Helper()
	settings, err := SettingsFromEnv(func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	if s.DataDir == "" {
		s.DataDir = t.TempDir()
	}
	settings.DB, settings.DataDir = s, s.DataDir
	settings.BcryptCost = 4
	return settings
}

func quietLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// fillSQLite opens the SQLite database s names through the core (so it
// holds rookery's schema) and adds enough rows to span many pages, then
// closes it, which checkpoints the WAL into the main file.
func fillSQLite(t *testing.T, s db.Settings) {
	t.Helper()
	core, err := OpenCore(context.Background(), testSettings(t, s), quietLog())
	if err != nil {
		t.Fatal(err)
	}
	fillTable(t, core.DB)
	if err := core.Close(); err != nil {
		t.Fatal(err)
	}
}

// fillTable writes about 300 KB of rows, so that the middle of the file
// is table pages, not free space.
func fillTable(t *testing.T, d *db.DB) {
	t.Helper()
	if _, err := d.Exec(`CREATE TABLE filler (id INTEGER PRIMARY KEY, data BLOB NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 300; i++ {
		if _, err := d.Exec(`INSERT INTO filler (data) VALUES (?)`, rand.Text()+strings.Repeat("x", 1000)); err != nil {
			t.Fatal(err)
		}
	}
}

// corruptPages overwrites n pages of a SQLite file, from the 0-based
// page index first, with random bytes, as a failing disk or a stray write
// would.
func corruptPages(t *testing.T, file string, first, n int) {
	t.Helper()
	if pages := pageCount(t, file); pages < first+n || pages < 10 {
		t.Fatalf("%s has %d pages; too small to damage %d from index %d", file, pages, n, first)
	}
	f, err := os.OpenFile(file, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	junk := make([]byte, n*pageSize)
	_, _ = rand.Read(junk)
	if _, err := f.WriteAt(junk, int64(first)*pageSize); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// pageSize is SQLite's default, which rookery keeps.
const pageSize = 4096

func pageCount(t *testing.T, file string) int {
	t.Helper()
	st, err := os.Stat(file)
	if err != nil {
		t.Fatal(err)
	}
	return int(st.Size() / pageSize)
}

// corruptMiddle damages a few KB in the middle of the file: table pages,
// with the header and the schema intact.
func corruptMiddle(t *testing.T, file string) {
	t.Helper()
	corruptPages(t, file, pageCount(t, file)/2, 3)
}

// TestStartRefusesDamagedSQLite: a SQLite file with damaged pages must not
// serve. Start-up fails with one line that names the file and the command
// to run, before anything is migrated or written.
func TestStartRefusesDamagedSQLite(t *testing.T) {
	s := dbtest.Fresh(t, db.SQLite)
	fillSQLite(t, s)
	file := s.SQLiteFile()
	corruptMiddle(t, file)

	_, err := tryStartApp(t, s, nil)
	if err == nil {
		t.Fatal("a damaged SQLite file started serving")
	}
	msg := err.Error()
	if strings.Contains(msg, "\n") {
		t.Errorf("the reason spans several lines: %q", msg)
	}
	for _, want := range []string{file, "is damaged", "rookery db check"} {
		if !strings.Contains(msg, want) {
			t.Errorf("the reason %q does not contain %q", msg, want)
		}
	}
	// The operator commands are refused the same way.
	if _, err := OpenCore(context.Background(), testSettings(t, s), quietLog()); err == nil || !strings.Contains(err.Error(), "rookery db check") {
		t.Errorf("OpenCore on a damaged file = %v", err)
	}

	// A file that is not a database at all fails at once, not after the
	// retries meant for a server that is still starting.
	if err := os.WriteFile(file, []byte(strings.Repeat("not a database ", 1000)), 0o600); err != nil {
		t.Fatal(err)
	}
	_ = os.Remove(file + "-wal")
	_ = os.Remove(file + "-shm")
	s.MaxRetries, s.RetryDelay = 3, time.Hour
	_, err = tryStartApp(t, s, nil)
	if err == nil || !strings.Contains(err.Error(), "is damaged") || !strings.Contains(err.Error(), "rookery db check") || strings.Contains(err.Error(), "\n") {
		t.Errorf("start on a file that is not a database = %v", err)
	}
}

// TestReadyzReportsDamage: a file damaged under a running server turns
// /readyz into 503 "damaged" at the next quick_check, and a request that
// hits damaged pages is answered as damage (500, naming rookery db check),
// not as an outage to wait out.
func TestReadyzReportsDamage(t *testing.T) {
	s := dbtest.Fresh(t, db.SQLite)
	// Every probe re-checks: the once-a-minute bound, shortened.
	s.CheckInterval = time.Nanosecond
	ta := startApp(t, s, nil)
	token := ta.admin()
	if r := ta.call("PUT", "/api/v1/config/smtp_user", token, map[string]any{"value": "before"}); r.Status != 200 {
		t.Fatalf("PUT: %d %s", r.Status, r.Body)
	}
	fillTable(t, ta.DB)
	if _, err := ta.DB.Exec(`PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
		t.Fatal(err)
	}
	if r := ta.call("GET", "/readyz", "", nil); r.Status != 200 {
		t.Fatalf("readyz before the damage: %d %s", r.Status, r.Body)
	}

	corruptMiddle(t, s.SQLiteFile())
	r := ta.call("GET", "/readyz", "", nil)
	body := r.JSON(t)
	if r.Status != 503 || body["status"] != "unavailable" || body["database"] != "damaged" {
		t.Fatalf("readyz after the damage = %d %s; want 503 unavailable/damaged", r.Status, r.Body)
	}
	if msg, _ := body["error"].(string); !strings.Contains(msg, "rookery db check") || strings.Contains(msg, s.SQLiteFile()) {
		t.Errorf("readyz error %q: want the command, not the file's path", msg)
	}

	// Now every page but the first: whatever a request reads is damaged.
	// Idle connections go, so the next ones read the file, not a cache.
	corruptPages(t, s.SQLiteFile(), 1, pageCount(t, s.SQLiteFile())-1)
	ta.DB.SetMaxIdleConns(0)
	ta.DB.SetMaxIdleConns(10)
	r = ta.call("GET", "/api/v1/config/smtp_user/history", token, nil)
	if r.Status != 500 || !strings.Contains(string(r.Body), "damaged") || !strings.Contains(string(r.Body), "rookery db check") || strings.Contains(string(r.Body), "try again") {
		t.Errorf("history on a damaged file = %d %s; want 500 naming the damage and rookery db check", r.Status, r.Body)
	}
}

// TestReadyzChecksAtMostOncePerInterval: quick_check reads the whole file,
// so /readyz runs it at most once per interval and serves the verdict in
// between; damage shows at the next check, not at every probe.
func TestReadyzChecksAtMostOncePerInterval(t *testing.T) {
	s := dbtest.Fresh(t, db.SQLite)
	s.CheckInterval = time.Hour
	ta := startApp(t, s, nil)
	fillTable(t, ta.DB)
	if _, err := ta.DB.Exec(`PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
		t.Fatal(err)
	}
	corruptMiddle(t, s.SQLiteFile())
	// Start-up checked moments ago: the verdict holds for the hour, however
	// many probes come at once.
	runs := ta.DB.QuickChecks()
	probes(t, ta, 50, 200)
	if n := ta.DB.QuickChecks(); n != runs {
		t.Fatalf("50 probes within the interval ran quick_check %d more time(s)", n-runs)
	}
	// A forced check (as the next interval would run) sees the damage,
	// and the probes serve that verdict from then on.
	if err := ta.DB.QuickCheck(context.Background()); !db.IsDamaged(err) {
		t.Fatalf("quick_check on the damaged file = %v", err)
	}
	if r := ta.call("GET", "/readyz", "", nil); r.Status != 503 || !strings.Contains(string(r.Body), `"database":"damaged"`) {
		t.Fatalf("readyz after the check = %d %s", r.Status, r.Body)
	}
}

// TestEmptyDatabaseWithEarlierKeyFile: the key file of an earlier install
// next to an empty database means the data is gone, not that this is a
// first start. serve and the operator commands refuse to make a fresh
// install of it (which would print a new admin password and leave the old
// secrets' key unused) unless told to with Init.
func TestEmptyDatabaseWithEarlierKeyFile(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, s db.Settings) {
		dir := t.TempDir()
		s.DataDir = dir
		first := startApp(t, s, nil)
		keyFile := filepath.Join(dir, "config.key")
		key, err := os.ReadFile(keyFile)
		if err != nil {
			t.Fatalf("the first start made no key file: %v", err)
		}
		if err := first.Shutdown(context.Background()); err != nil {
			t.Fatal(err)
		}

		// The same data directory, an empty database: on SQLite the file
		// emptied, elsewhere a new database in its place.
		empty := s
		if file := s.SQLiteFile(); file != "" {
			if err := os.Truncate(file, 0); err != nil {
				t.Fatal(err)
			}
		} else {
			_, dialect, _, _ := s.Target()
			empty = dbtest.Fresh(t, dialect)
			empty.DataDir = dir
		}

		_, err = tryStartApp(t, empty, nil)
		if err == nil {
			t.Fatal("an empty database next to an earlier key file was initialised")
		}
		for _, want := range []string{"is empty", keyFile, "rookery serve --init"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("refusal %q does not contain %q", err, want)
			}
		}
		if _, err := OpenCore(context.Background(), testSettings(t, empty), quietLog()); err == nil || !strings.Contains(err.Error(), "--init") {
			t.Errorf("OpenCore on the empty database = %v; want the same refusal", err)
		}
		// Nothing was written: still empty.
		d := dbtest.OpenUnmigrated(t, empty)
		if ok, err := d.Empty(context.Background()); err != nil || !ok {
			t.Fatalf("the refused start changed the database (empty=%v, %v)", ok, err)
		}
		d.Close()

		// With Init it is a fresh install, under the same key file.
		ta, err := launch(t, empty, nil, func(logs io.Writer) (*slog.Logger, Options) {
			return slog.New(slog.NewJSONHandler(logs, nil)), Options{Version: "test", Init: true}
		})
		if err != nil {
			t.Fatalf("start with Init: %v", err)
		}
		ta.admin()
		if now, _ := os.ReadFile(keyFile); string(now) != string(key) {
			t.Error("Init replaced the key file")
		}
		// And once initialised, it starts without Init.
		if err := ta.Shutdown(context.Background()); err != nil {
			t.Fatal(err)
		}
		startApp(t, empty, nil)
	})
}

// TestFirstStartWithoutKeyFile: the guard must not stop a real first
// start, nor a database set up with CONFIG_ENCRYPTION_KEY.
func TestFirstStartWithoutKeyFile(t *testing.T) {
	s := dbtest.Fresh(t, db.SQLite)
	startApp(t, s, nil)
	if _, err := os.Stat(filepath.Join(s.DataDir, "config.key")); err != nil {
		t.Fatalf("the first start made no key file: %v", err)
	}
	// With CONFIG_ENCRYPTION_KEY the key file is not this install's key: a
	// leftover one next to a new, empty database does not block it.
	other := dbtest.Fresh(t, db.SQLite)
	other.DataDir = s.DataDir
	startApp(t, other, map[string]string{"CONFIG_ENCRYPTION_KEY": "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="})
}

// probes sends n concurrent /readyz requests and wants status from each.
func probes(t *testing.T, ta *testApp, n, status int) {
	t.Helper()
	var wg sync.WaitGroup
	got := make(chan int, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := http.Get(ta.URL + "/readyz")
			if err != nil {
				got <- 0
				return
			}
			resp.Body.Close()
			got <- resp.StatusCode
		}()
	}
	wg.Wait()
	close(got)
	for c := range got {
		if c != status {
			t.Fatalf("a concurrent /readyz answered %d, want %d", c, status)
		}
	}
}

// TestReadyzConcurrentChecks: with a check due at every probe, 50
// concurrent probes all answer ready (run with -race: the cached verdict
// is shared between them) and at least one of them ran the check; those
// arriving while a check runs take the last verdict instead of a second
// check.
func TestReadyzConcurrentChecks(t *testing.T) {
	s := dbtest.Fresh(t, db.SQLite)
	s.CheckInterval = time.Nanosecond
	ta := startApp(t, s, nil)
	runs := ta.DB.QuickChecks()
	probes(t, ta, 50, 200)
	if n := ta.DB.QuickChecks() - runs; n < 1 || n > 50 {
		t.Fatalf("50 probes ran %d quick_check(s); want between 1 and 50", n)
	}
}
