// Package db opens rookery's database (embedded SQLite, PostgreSQL or
// MySQL/MariaDB), waits for it to come up and applies the embedded schema
// migrations.
package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"
	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver
	_ "modernc.org/sqlite"             // registers the "sqlite" driver (pure Go)

	"github.com/rookery/rookery/backoff"
)

// Dialect names the SQL flavour of a connection.
type Dialect string

// The dialects rookery supports.
const (
	SQLite   Dialect = "sqlite"
	Postgres Dialect = "postgres"
	MySQL    Dialect = "mysql"
)

// Settings says where the database is and how patient to be with it.
type Settings struct {
	// URL, when set, wins over the discrete fields: postgres://..., mysql://...,
	// or sqlite:PATH / file:PATH.
	URL        string
	Type       Dialect
	Host       string
	Port       int
	Name       string
	User       string
	Pass       string
	PoolSize   int
	MaxRetries int
	RetryDelay time.Duration
	// DataDir holds the SQLite file when no URL or path is given.
	DataDir string
	// CheckInterval is how often Health re-runs SQLite's quick_check (a
	// minute when zero). Tests shorten it.
	CheckInterval time.Duration
}

// SettingsFromEnv reads DATABASE_URL or the DB_* variables of the
// PenguinTech standards. getenv is os.Getenv in production.
func SettingsFromEnv(getenv func(string) string) (Settings, error) {
	s := Settings{
		URL:        strings.TrimSpace(getenv("DATABASE_URL")),
		Host:       getenv("DB_HOST"),
		Name:       getenv("DB_NAME"),
		User:       getenv("DB_USER"),
		Pass:       getenv("DB_PASS"),
		PoolSize:   10,
		MaxRetries: 5,
		RetryDelay: 5 * time.Second,
		DataDir:    getenv("DATA_DIR"),
	}
	if s.DataDir == "" {
		s.DataDir = "data"
	}
	switch t := strings.ToLower(strings.TrimSpace(getenv("DB_TYPE"))); t {
	case "", "sqlite", "sqlite3":
		s.Type = SQLite
	case "postgres", "postgresql", "pg":
		s.Type = Postgres
	case "mysql", "mariadb":
		s.Type = MySQL
	default:
		return s, fmt.Errorf("DB_TYPE %q is not supported: use sqlite, postgresql or mysql", t)
	}
	ints := []struct {
		env string
		dst *int
		min int
	}{
		{"DB_PORT", &s.Port, 1},
		{"DB_POOL_SIZE", &s.PoolSize, 1},
		{"DB_MAX_RETRIES", &s.MaxRetries, 0},
	}
	for _, f := range ints {
		v := strings.TrimSpace(getenv(f.env))
		if v == "" {
			continue
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < f.min {
			return s, fmt.Errorf("%s=%q is not a whole number of at least %d", f.env, v, f.min)
		}
		*f.dst = n
	}
	if v := strings.TrimSpace(getenv("DB_RETRY_DELAY")); v != "" {
		d, err := parseDelay(v)
		if err != nil {
			return s, fmt.Errorf("DB_RETRY_DELAY=%q: %w", v, err)
		}
		s.RetryDelay = d
	}
	return s, nil
}

// parseDelay accepts Go durations ("500ms") and bare seconds ("5").
func parseDelay(v string) (time.Duration, error) {
	if n, err := strconv.Atoi(v); err == nil && n >= 0 {
		return time.Duration(n) * time.Second, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		return 0, errors.New("use seconds (5) or a duration (5s, 500ms)")
	}
	return d, nil
}

// DB is an open connection pool plus what rookery needs to know about it.
type DB struct {
	*sql.DB
	Dialect Dialect
	// File is the SQLite database file; empty on other dialects.
	File string
	// dsn is kept for opening dedicated connections (PostgreSQL LISTEN,
	// SQLite checks).
	dsn    string
	where  string
	health health
	// writer is SQLite's one writing connection and queue its turn order;
	// nil on PostgreSQL and MySQL, whose servers take concurrent writers.
	writer *sql.DB
	queue  *writeQueue
}

// Where names the database for messages to an operator: the SQLite file,
// or host and database name (never the password).
func (d *DB) Where() string { return d.where }

// describe is Where for a DSN Target produced.
func describe(d Dialect, dsn string) string {
	switch d {
	case SQLite:
		return sqliteFile(dsn)
	case MySQL:
		if cfg, err := mysql.ParseDSN(dsn); err == nil {
			return "mysql://" + cfg.Addr + "/" + cfg.DBName
		}
	case Postgres:
		if u, err := url.Parse(dsn); err == nil && u.Host != "" {
			return "postgres://" + u.Host + u.Path
		}
	}
	return string(d) + " database"
}

// SQLiteFile is the database file the settings name, "" when they name
// another dialect (or cannot be read).
func (s Settings) SQLiteFile() string {
	_, d, dsn, err := s.Target()
	if err != nil || d != SQLite {
		return ""
	}
	return sqliteFile(dsn)
}

// sqliteFile is the path inside a DSN sqliteDSN built.
func sqliteFile(dsn string) string {
	return strings.TrimPrefix(strings.SplitN(dsn, "?", 2)[0], "file:")
}

// Target resolves the settings to a driver name, dialect and DSN.
func (s Settings) Target() (driver string, d Dialect, dsn string, err error) {
	if s.URL != "" {
		return parseURL(s.URL)
	}
	switch s.Type {
	case Postgres:
		u := url.URL{Scheme: "postgres", Host: hostPort(s.Host, s.Port, 5432), Path: "/" + orDefault(s.Name, "rookery")}
		if s.User != "" {
			u.User = url.UserPassword(s.User, s.Pass)
		}
		return "pgx", Postgres, u.String(), nil
	case MySQL:
		cfg := mysqlConfig()
		cfg.User, cfg.Passwd = s.User, s.Pass
		cfg.Net, cfg.Addr = "tcp", hostPort(s.Host, s.Port, 3306)
		cfg.DBName = orDefault(s.Name, "rookery")
		return "mysql", MySQL, cfg.FormatDSN(), nil
	default:
		name := orDefault(s.Name, "rookery.db")
		if !strings.ContainsAny(name, `/\`) {
			name = filepath.Join(s.DataDir, name)
		}
		return "sqlite", SQLite, sqliteDSN(name), nil
	}
}

func parseURL(raw string) (string, Dialect, string, error) {
	scheme, rest, ok := strings.Cut(raw, ":")
	if !ok {
		return "", "", "", errors.New("DATABASE_URL must start with postgres://, mysql:// or sqlite: (for example sqlite:data/rookery.db)")
	}
	switch strings.ToLower(scheme) {
	case "postgres", "postgresql":
		return "pgx", Postgres, raw, nil
	case "mysql", "mariadb":
		u, err := url.Parse(raw)
		if err != nil {
			return "", "", "", errors.New("DATABASE_URL is not a valid mysql:// URL")
		}
		cfg := mysqlConfig()
		cfg.User = u.User.Username()
		cfg.Passwd, _ = u.User.Password()
		cfg.Net, cfg.Addr = "tcp", hostPort(u.Hostname(), atoi(u.Port()), 3306)
		cfg.DBName = strings.TrimPrefix(u.Path, "/")
		if cfg.DBName == "" {
			return "", "", "", errors.New("DATABASE_URL names no database: mysql://user:pass@host:3306/NAME")
		}
		for k, v := range u.Query() {
			cfg.Params[k] = v[0]
		}
		return "mysql", MySQL, cfg.FormatDSN(), nil
	case "sqlite", "sqlite3", "file":
		path := strings.TrimPrefix(rest, "//")
		if i := strings.IndexByte(path, '?'); i >= 0 {
			path = path[:i]
		}
		if path == "" {
			return "", "", "", errors.New("DATABASE_URL names no SQLite file: sqlite:data/rookery.db")
		}
		return "sqlite", SQLite, sqliteDSN(path), nil
	}
	return "", "", "", fmt.Errorf("DATABASE_URL scheme %q is not supported: use postgres://..., mysql://... or sqlite:PATH", scheme)
}

func mysqlConfig() *mysql.Config {
	cfg := mysql.NewConfig()
	cfg.ParseTime = true
	cfg.Loc = time.UTC
	cfg.Params = map[string]string{"time_zone": "'+00:00'"}
	cfg.MultiStatements = true
	return cfg
}

// sqliteDSN turns a path into a DSN with WAL, a busy timeout and
// immediate write transactions: a deferred transaction that reads and then
// writes can fail at once with SQLITE_BUSY, which the timeout cannot help.
func sqliteDSN(path string) string {
	return "file:" + path + "?_pragma=journal_mode(WAL)&_pragma=busy_timeout(10000)" +
		"&_pragma=foreign_keys(1)&_pragma=synchronous(FULL)&_txlock=immediate&_time_format=sqlite"
}

func hostPort(host string, port, def int) string {
	if host == "" {
		host = "127.0.0.1"
	}
	if port == 0 {
		port = def
	}
	return net.JoinHostPort(host, strconv.Itoa(port))
}

func orDefault(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

func atoi(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}

// Open connects and waits for the database, retrying as the settings say.
func Open(ctx context.Context, s Settings, log *slog.Logger) (*DB, error) {
	driver, dialect, dsn, err := s.Target()
	if err != nil {
		return nil, err
	}
	if dialect == SQLite {
		if dir := filepath.Dir(sqliteFile(dsn)); dir != "" {
			if err := os.MkdirAll(dir, 0o750); err != nil {
				return nil, fmt.Errorf("create data directory: %w", err)
			}
		}
	}
	driver = timed(driver) // every query timed for database.query.duration_ms (querymetrics.go)
	sqldb, err := openSQL(driver, dialect, dsn)
	if err != nil {
		return nil, fmt.Errorf("open %s database: %w", dialect, err)
	}
	pool := s.PoolSize
	if pool <= 0 {
		pool = 10
	}
	sqldb.SetMaxOpenConns(pool)
	sqldb.SetMaxIdleConns(pool)
	sqldb.SetConnMaxIdleTime(5 * time.Minute)
	if dialect == MySQL {
		// MariaDB closes idle connections after wait_timeout; recycle first.
		sqldb.SetConnMaxLifetime(30 * time.Minute)
	}
	d := &DB{DB: sqldb, Dialect: dialect, dsn: dsn, where: describe(dialect, dsn)}
	d.health.every = s.CheckInterval
	if d.health.every <= 0 {
		d.health.every = defaultCheckInterval
	}
	if dialect == SQLite {
		d.File = sqliteFile(dsn)
		// One connection for every writing transaction: SQLite lets one
		// writer in at a time, and writers that each hold a pooled
		// connection sleep in its busy handler (a tail of up to a second
		// under load). Queued in Go instead, they go in arrival order.
		w, err := openSQL(driver, dialect, dsn)
		if err != nil {
			sqldb.Close()
			return nil, fmt.Errorf("open %s writer: %w", dialect, err)
		}
		w.SetMaxOpenConns(1)
		w.SetMaxIdleConns(1)
		w.SetConnMaxIdleTime(0)
		d.writer, d.queue = w, &writeQueue{}
	}
	err = backoff.Retry(ctx, startPolicy(s, dialect, log), func(attempt int) error {
		pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		err := sqldb.PingContext(pctx)
		cancel()
		switch {
		case err == nil:
			return nil
		case IsDamaged(err):
			// Not an outage: retrying cannot repair a file.
			return backoff.Permanent(&DamageError{File: d.File, Findings: []string{err.Error()}})
		}
		err = fmt.Errorf("database %s not reachable after %d attempt(s): %s", dialect, attempt+1, Redact(err.Error(), s.Pass))
		if ctx.Err() != nil {
			return backoff.Permanent(err)
		}
		return err
	})
	if err != nil {
		d.Close()
		return nil, err
	}
	return d, nil
}

// startPolicy is DB_MAX_RETRIES retries DB_RETRY_DELAY apart: a constant
// wait, since a database that is starting up is ready at a moment of its
// own, not sooner for being asked more slowly.
func startPolicy(s Settings, dialect Dialect, log *slog.Logger) backoff.Policy {
	return backoff.Policy{
		First:   s.RetryDelay,
		Max:     s.RetryDelay,
		Retries: max(s.MaxRetries, 0),
		OnRetry: func(attempt int, _ error, wait time.Duration) {
			log.Warn("database not reachable yet, retrying", "dialect", string(dialect), "attempt", attempt+1, "of", s.MaxRetries+1, "delay", wait.String())
		},
	}
}

// Redact removes a password from a driver message, which sometimes echoes
// the DSN.
func Redact(msg, secret string) string {
	if secret == "" {
		return msg
	}
	return strings.ReplaceAll(msg, secret, "***")
}

// Rebind rewrites ? placeholders to $1, $2... for PostgreSQL. Queries in
// rookery never contain a literal question mark.
func (d *DB) Rebind(q string) string { return Rebind(d.Dialect, q) }

// Rebind is the function form of (*DB).Rebind.
func Rebind(d Dialect, q string) string {
	if d != Postgres {
		return q
	}
	var b strings.Builder
	b.Grow(len(q) + 8)
	n := 0
	for i := 0; i < len(q); i++ {
		if q[i] == '?' {
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(q[i])
	}
	return b.String()
}

// IsUniqueViolation reports whether err is a duplicate-key error on any of
// the three databases.
func IsUniqueViolation(err error) bool {
	if err == nil {
		return false
	}
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		return me.Number == 1062
	}
	msg := err.Error()
	return strings.Contains(msg, "SQLSTATE 23505") || strings.Contains(msg, "UNIQUE constraint failed")
}

// RouteDriverLogs sends the MySQL driver's own messages (it logs some
// connection events itself) to log instead of plain stderr. The driver's
// logger is process-wide, so main calls this once.
func RouteDriverLogs(log *slog.Logger) {
	_ = mysql.SetLogger(driverLogger{log})
}

type driverLogger struct{ log *slog.Logger }

func (l driverLogger) Print(v ...any) {
	l.log.Warn("mysql driver: " + strings.TrimSpace(fmt.Sprint(v...)))
}
