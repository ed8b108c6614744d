package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// ErrDamaged is the error a damaged database is reported with: a file
// whose pages no longer hold what SQLite wrote, or that is not a database
// at all. Waiting does not help; the file must be restored.
var ErrDamaged = errors.New("the database is damaged")

// DamageError names the damaged file and what the check found.
type DamageError struct {
	File     string
	Findings []string
}

func (e *DamageError) Error() string {
	first := "no details"
	if len(e.Findings) > 0 {
		// Findings may hold line breaks; the reason must stay on one line.
		first = strings.Join(strings.Fields(e.Findings[0]), " ")
	}
	more := ""
	if n := len(e.Findings) - 1; n > 0 {
		more = fmt.Sprintf(" (and %d more finding(s))", n)
	}
	return fmt.Sprintf("the SQLite database %s is damaged: %s%s", e.File, first, more)
}

// Is makes errors.Is(err, ErrDamaged) true.
func (e *DamageError) Is(target error) bool { return target == ErrDamaged }

// IsDamaged reports whether err says the database is damaged: ErrDamaged,
// or SQLite's SQLITE_CORRUPT / SQLITE_NOTADB. Other packages wrap driver
// errors with %v, which keeps only the text, so the driver's messages are
// recognised too.
func IsDamaged(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, ErrDamaged) {
		return true
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		// Extended result codes keep the primary code in the low byte.
		switch se.Code() & 0xff {
		case sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB:
			return true
		}
	}
	msg := err.Error()
	for _, m := range damageMessages {
		if strings.Contains(msg, m) {
			return true
		}
	}
	return false
}

// damageMessages are SQLite's texts for SQLITE_CORRUPT and SQLITE_NOTADB.
var damageMessages = []string{"database disk image is malformed", "malformed database schema", "file is not a database"}

// defaultCheckInterval bounds how often Health re-runs quick_check: it
// reads every page, which is too much for each readiness probe.
const defaultCheckInterval = time.Minute

// health is the cached verdict of SQLite's quick_check.
type health struct {
	every   time.Duration
	mu      sync.Mutex // held while a check runs; guards last
	last    time.Time
	damaged atomic.Pointer[DamageError]
	runs    atomic.Int64
}

// QuickChecks is how many times quick_check has run on this pool.
func (d *DB) QuickChecks() int64 { return d.health.runs.Load() }

// QuickCheck runs SQLite's PRAGMA quick_check now and remembers the
// verdict for Health. It returns a *DamageError when the file is damaged,
// another error when the check could not run, and nil on other dialects.
func (d *DB) QuickCheck(ctx context.Context) error {
	if d.Dialect != SQLite {
		return nil
	}
	d.health.mu.Lock()
	defer d.health.mu.Unlock()
	return d.quickCheckLocked(ctx)
}

func (d *DB) quickCheckLocked(ctx context.Context) error {
	d.health.last = time.Now()
	d.health.runs.Add(1)
	findings, err := d.pragmaCheck(ctx, "quick_check")
	switch {
	case IsDamaged(err):
		de := &DamageError{File: d.File, Findings: []string{err.Error()}}
		d.health.damaged.Store(de)
		return de
	case err != nil:
		// Not a verdict (a timeout, a closed pool): keep the last one.
		return fmt.Errorf("quick_check of %s: %w", d.File, err)
	case len(findings) > 0:
		de := &DamageError{File: d.File, Findings: findings}
		d.health.damaged.Store(de)
		return de
	}
	d.health.damaged.Store(nil)
	return nil
}

// IntegrityCheck runs SQLite's thorough PRAGMA integrity_check and returns
// what it found (nil when the file is sound). On other dialects it returns
// nil: their servers look after their own files.
func (d *DB) IntegrityCheck(ctx context.Context) ([]string, error) {
	if d.Dialect != SQLite {
		return nil, nil
	}
	findings, err := d.pragmaCheck(ctx, "integrity_check(100)")
	if IsDamaged(err) {
		return []string{err.Error()}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("integrity_check of %s: %w", d.File, err)
	}
	return findings, nil
}

// pragmaCheck runs a checking pragma on a connection of its own: the
// pool's connections keep pages in their caches, and a check that read
// those instead of the file could miss damage done to the file since.
func (d *DB) pragmaCheck(ctx context.Context, pragma string) ([]string, error) {
	c, err := sql.Open("sqlite", d.dsn)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	c.SetMaxOpenConns(1)
	rows, err := c.QueryContext(ctx, "PRAGMA "+pragma)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var findings []string
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			return nil, err
		}
		if line != "ok" {
			findings = append(findings, line)
		}
	}
	return findings, rows.Err()
}

// Health is the readiness check: the database answers and, on SQLite, the
// file passed its last quick_check. The check is re-run when the last one
// is older than Settings.CheckInterval (a minute by default); probes that
// arrive while one runs get the last verdict instead of waiting.
func (d *DB) Health(ctx context.Context) error {
	if err := d.PingContext(ctx); err != nil {
		if IsDamaged(err) {
			return &DamageError{File: d.File, Findings: []string{err.Error()}}
		}
		return err
	}
	if d.Dialect != SQLite {
		return nil
	}
	if d.health.mu.TryLock() {
		if time.Since(d.health.last) >= d.health.every {
			_ = d.quickCheckLocked(ctx) // the verdict is read below
		}
		d.health.mu.Unlock()
	}
	if de := d.health.damaged.Load(); de != nil {
		return de
	}
	return nil
}

// Empty reports whether the database holds no tables at all: nothing was
// ever migrated into it (or everything was removed).
func (d *DB) Empty(ctx context.Context) (bool, error) {
	names, err := d.tables(ctx)
	if err != nil {
		return false, err
	}
	return len(names) == 0, nil
}

func (d *DB) tables(ctx context.Context) ([]string, error) {
	var q string
	switch d.Dialect {
	case Postgres:
		q = `SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()`
	case MySQL:
		q = `SELECT table_name FROM information_schema.tables WHERE table_schema = DATABASE()`
	default:
		q = `SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'`
	}
	rows, err := d.QueryContext(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("list tables: %w", err)
	}
	defer rows.Close()
	var names []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, fmt.Errorf("list tables: %w", err)
		}
		names = append(names, n)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list tables: %w", err)
	}
	return names, nil
}

// versionTable is where the migration tool records applied versions.
const versionTable = "goose_db_version"

// SchemaVersion is the highest migration applied to the database, 0 when
// none is. It only reads: unlike the migration tool it never creates its
// table.
func (d *DB) SchemaVersion(ctx context.Context) (int64, error) {
	names, err := d.tables(ctx)
	if err != nil {
		return 0, err
	}
	found := false
	for _, n := range names {
		if strings.EqualFold(n, versionTable) {
			found = true
		}
	}
	if !found {
		return 0, nil
	}
	var v sql.NullInt64
	if err := d.QueryRowContext(ctx, `SELECT MAX(version_id) FROM `+versionTable+` WHERE is_applied`).Scan(&v); err != nil {
		return 0, fmt.Errorf("read schema version: %w", err)
	}
	return v.Int64, nil
}

// EmbeddedVersion is the highest migration this build carries for d.
func EmbeddedVersion(d Dialect) (int64, error) {
	entries, err := fs.ReadDir(migrations, "migrations/"+string(d))
	if err != nil {
		return 0, fmt.Errorf("migrations for %s: %w", d, err)
	}
	var max int64
	for _, e := range entries {
		digits, _, _ := strings.Cut(e.Name(), "_")
		n, err := strconv.ParseInt(digits, 10, 64)
		if err != nil || !strings.HasSuffix(e.Name(), ".sql") {
			continue
		}
		if n > max {
			max = n
		}
	}
	return max, nil
}
