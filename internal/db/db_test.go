package db

import (
	"strings"
	"testing"
	"time"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestSettingsAndTargets(t *testing.T) {
	cases := []struct {
		name    string
		env     map[string]string
		dialect Dialect
		dsn     []string // substrings
		err     string
	}{
		{"default sqlite", nil, SQLite, []string{"file:data/rookery.db?", "journal_mode(WAL)", "_txlock=immediate"}, ""},
		{"data dir", map[string]string{"DATA_DIR": "/var/lib/rk"}, SQLite, []string{"file:/var/lib/rk/rookery.db?"}, ""},
		{"sqlite url", map[string]string{"DATABASE_URL": "sqlite:/tmp/x.db"}, SQLite, []string{"file:/tmp/x.db?"}, ""},
		{"postgres url", map[string]string{"DATABASE_URL": "postgres://u:p@h:5433/d?sslmode=disable"}, Postgres, []string{"postgres://u:p@h:5433/d"}, ""},
		{"mysql url", map[string]string{"DATABASE_URL": "mysql://root:pw@db:3307/app"}, MySQL, []string{"root:pw@tcp(db:3307)/app", "parseTime=true"}, ""},
		{"mysql url no db", map[string]string{"DATABASE_URL": "mysql://root@db"}, "", nil, "names no database"},
		{"bad scheme", map[string]string{"DATABASE_URL": "oracle://x"}, "", nil, "not supported"},
		{"db_type postgres", map[string]string{"DB_TYPE": "postgresql", "DB_HOST": "pg", "DB_NAME": "app", "DB_USER": "u", "DB_PASS": "p w"}, Postgres, []string{"postgres://u:p%20w@pg:5432/app"}, ""},
		{"db_type mysql", map[string]string{"DB_TYPE": "mysql", "DB_HOST": "my", "DB_PORT": "3310", "DB_USER": "u"}, MySQL, []string{"u@tcp(my:3310)/rookery"}, ""},
		{"bad type", map[string]string{"DB_TYPE": "oracle"}, "", nil, "DB_TYPE"},
		{"bad port", map[string]string{"DB_PORT": "x"}, "", nil, "DB_PORT"},
		{"bad delay", map[string]string{"DB_RETRY_DELAY": "soon"}, "", nil, "DB_RETRY_DELAY"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s, err := SettingsFromEnv(env(c.env))
			var dsn string
			var d Dialect
			if err == nil {
				_, d, dsn, err = s.Target()
			}
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("err = %v, want %q", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if d != c.dialect {
				t.Errorf("dialect %s, want %s", d, c.dialect)
			}
			for _, want := range c.dsn {
				if !strings.Contains(dsn, want) {
					t.Errorf("dsn %q lacks %q", dsn, want)
				}
			}
		})
	}
	s, _ := SettingsFromEnv(env(map[string]string{"DB_RETRY_DELAY": "250ms", "DB_MAX_RETRIES": "2", "DB_POOL_SIZE": "3"}))
	if s.RetryDelay != 250*time.Millisecond || s.MaxRetries != 2 || s.PoolSize != 3 {
		t.Errorf("numbers: %+v", s)
	}
	if s, _ := SettingsFromEnv(env(nil)); s.RetryDelay != 5*time.Second || s.MaxRetries != 5 || s.PoolSize != 10 {
		t.Errorf("defaults: %+v", s)
	}
}

func TestRebindAndRedact(t *testing.T) {
	if got := Rebind(Postgres, "a = ? AND b = ?"); got != "a = $1 AND b = $2" {
		t.Errorf("rebind %q", got)
	}
	if got := Rebind(MySQL, "a = ?"); got != "a = ?" {
		t.Errorf("rebind mysql %q", got)
	}
	if got := Redact("dial u:hunter2@x failed", "hunter2"); strings.Contains(got, "hunter2") {
		t.Errorf("redact %q", got)
	}
}

func TestOpenGivesUpWithAClearError(t *testing.T) {
	s := Settings{URL: "postgres://nobody@127.0.0.1:1/none?sslmode=disable&connect_timeout=1", Pass: "", MaxRetries: 1, RetryDelay: 10 * time.Millisecond}
	start := time.Now()
	_, err := Open(t.Context(), s, discard())
	if err == nil || !strings.Contains(err.Error(), "not reachable after 2 attempt(s)") {
		t.Fatalf("err = %v", err)
	}
	if time.Since(start) > 15*time.Second {
		t.Errorf("took %v", time.Since(start))
	}
}
