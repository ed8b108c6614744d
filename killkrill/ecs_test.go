package killkrill

import (
	"context"
	"errors"
	"log/slog"
	"math"
	"strings"
	"testing"
	"time"
)

// TestECSMapping is the attribute mapping rule, row by row: ECS names pass
// through, the alias table renames, everything else goes under labels, and
// groups become dotted prefixes.
func TestECSMapping(t *testing.T) {
	s, buf := localShipper(t)
	base := slog.New(NewHandler(s, nil))
	tests := []struct {
		name   string
		log    func(l *slog.Logger)
		want   map[string]any // field -> value (JSON-decoded)
		absent []string
	}{
		{"ECS names pass through", func(l *slog.Logger) {
			l.Info("m", "user.id", "u1", "organization.id", "o1", "event.action", "login",
				"event.outcome", "success", "source.ip", "192.168.1.1", "http.request.method", "GET",
				"url.path", "/x", "http.response.status_code", 200, "trace.id", "t1", "event.duration", 5)
		}, map[string]any{"user.id": "u1", "organization.id": "o1", "event.action": "login",
			"event.outcome": "success", "source.ip": "192.168.1.1", "http.request.method": "GET",
			"url.path": "/x", "http.response.status_code": 200.0, "trace.id": "t1", "event.duration": 5.0}, nil},
		{"alias table", func(l *slog.Logger) {
			l.Info("m", "user_id", "user_123", "team_id", "team_abc", "ip_address", "10.0.0.1",
				"request_id", "r1", "method", "POST", "path", "/api/v1/teams", "status", 201)
		}, map[string]any{"user.id": "user_123", "organization.id": "team_abc", "source.ip": "10.0.0.1",
			"http.request.id": "r1", "http.request.method": "POST", "url.path": "/api/v1/teams",
			"http.response.status_code": 201.0}, []string{"labels.user_id", "labels.status"}},
		{"duration_ms becomes event.duration in ns", func(l *slog.Logger) {
			l.Info("m", "duration_ms", 12.5)
		}, map[string]any{"event.duration": 12500000.0}, []string{"labels.duration_ms"}},
		{"integer duration_ms", func(l *slog.Logger) {
			l.Info("m", "duration_ms", 3)
		}, map[string]any{"event.duration": 3000000.0}, nil},
		{"non-numeric duration_ms stays a label", func(l *slog.Logger) {
			l.Info("m", "duration_ms", "slow")
		}, map[string]any{"labels.duration_ms": "slow"}, []string{"event.duration"}},
		{"time.Duration under duration", func(l *slog.Logger) {
			l.Info("m", "duration", 1500*time.Millisecond)
		}, map[string]any{"event.duration": 1.5e9}, nil},
		{"error value becomes error.message", func(l *slog.Logger) {
			l.Error("m", "error", errors.New("disk full"), "outcome", "failure", "action", "team_creation")
		}, map[string]any{"error.message": "disk full", "event.outcome": "failure", "event.action": "team_creation"}, nil},
		{"unknown keys go under labels", func(l *slog.Logger) {
			l.Info("m", "feature", "ai", "db.rows", 3, "Count", true)
		}, map[string]any{"labels.feature": "ai", "labels.db_rows": "3", "labels.Count": "true"}, nil},
		{"reserved names cannot be overwritten", func(l *slog.Logger) {
			l.Info("real", "message", "fake", "log.level", "fake", "service.name", "fake")
		}, map[string]any{"message": "real", "labels.message": "fake", "labels.log_level": "fake",
			"labels.service_name": "fake", "service.name": "svc", "log.level": "info"}, nil},
		{"groups become dotted prefixes", func(l *slog.Logger) {
			l.Info("m", slog.Group("http", slog.Group("request", "method", "GET"), "version", "1.1"),
				slog.Group("req", "id", 1))
		}, map[string]any{"http.request.method": "GET", "http.version": "1.1", "labels.req_id": "1"}, nil},
		{"WithGroup prefixes record attributes", func(l *slog.Logger) {
			l.WithGroup("http").WithGroup("response").Info("m", "status_code", 404)
		}, map[string]any{"http.response.status_code": 404.0}, nil},
		{"WithAttrs before and after WithGroup", func(l *slog.Logger) {
			l.With("user_id", "u9").WithGroup("user").With("name", "ann").Info("m", "email", "a@b")
		}, map[string]any{"user.id": "u9", "user.name": "ann", "user.email": "a@b"}, nil},
		{"empty group and empty attribute are dropped", func(l *slog.Logger) {
			l.Info("m", slog.Group("g"), slog.Attr{}, "kept", 1)
		}, map[string]any{"labels.kept": "1"}, []string{"labels.g", "labels._"}},
		{"inline group with empty key", func(l *slog.Logger) {
			l.Info("m", slog.Group("", "user_id", "u2"))
		}, map[string]any{"user.id": "u2"}, nil},
		{"later attribute wins over an earlier one", func(l *slog.Logger) {
			l.With("user_id", "old").Info("m", "user.id", "new")
		}, map[string]any{"user.id": "new"}, nil},
		{"value kinds", func(l *slog.Logger) {
			l.Info("m", "u", uint64(math.MaxUint64), "f", 0.25, "nan", math.NaN(),
				"at", time.Date(2024, 1, 15, 10, 30, 0, 0, time.FixedZone("x", 3600)),
				"obj", map[string]int{"a": 1}, "nothing", nil, "raw", []byte("hi"))
		}, map[string]any{"labels.u": "18446744073709551615", "labels.f": "0.25", "labels.nan": "NaN",
			"labels.at": "2024-01-15T09:30:00Z", "labels.obj": `{"a":1}`,
			"labels.nothing": "null", "labels.raw": "hi"}, nil},
		{"a panicking value does not stop shipping", func(l *slog.Logger) {
			l.Info("m", "bad", panicky{})
		}, map[string]any{"labels.bad": "!PANIC: boom"}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			doc, raw := oneDoc(t, s, buf, func() { tc.log(base) })
			for k, want := range tc.want {
				got, ok := doc[k]
				if !ok {
					t.Errorf("missing %q in %s", k, raw)
					continue
				}
				if !equalJSON(got, want) {
					t.Errorf("%s = %#v, want %#v", k, got, want)
				}
			}
			for _, k := range tc.absent {
				if _, ok := doc[k]; ok {
					t.Errorf("%q should be absent: %s", k, raw)
				}
			}
		})
	}
}

type panicky struct{}

func (panicky) MarshalJSON() ([]byte, error) { panic("boom") }

func equalJSON(a, b any) bool {
	am, aok := a.(map[string]any)
	bm, bok := b.(map[string]any)
	if aok && bok {
		if len(am) != len(bm) {
			return false
		}
		for k := range am {
			if !equalJSON(am[k], bm[k]) {
				return false
			}
		}
		return true
	}
	return a == b
}

func TestCoreFields(t *testing.T) {
	s, buf := localShipper(t)
	l := slog.New(NewHandler(s, &HandlerOptions{Level: slog.LevelDebug, AddSource: true}))
	for _, tc := range []struct {
		level slog.Level
		want  string
	}{
		{slog.LevelDebug, "debug"}, {slog.LevelInfo, "info"}, {slog.LevelWarn, "warn"},
		{slog.LevelError, "error"}, {slog.LevelError + 2, "error"}, {slog.LevelError + 4, "critical"},
	} {
		doc, raw := oneDoc(t, s, buf, func() { l.Log(context.Background(), tc.level, "line\n\"quoted\" \xff") })
		if doc["log.level"] != tc.want {
			t.Errorf("level %v: log.level = %v, want %s", tc.level, doc["log.level"], tc.want)
		}
		if doc["message"] != "line\n\"quoted\" \uFFFD" {
			t.Errorf("message = %q", doc["message"])
		}
		if doc["service.name"] != "svc" || doc["ecs.version"] != "8.11.0" {
			t.Errorf("service.name/ecs.version wrong: %s", raw)
		}
		ts, _ := doc["@timestamp"].(string)
		at, err := time.Parse(time.RFC3339Nano, ts)
		if err != nil || !strings.HasSuffix(ts, "Z") || time.Since(at) > time.Minute {
			t.Errorf("@timestamp %q is not recent RFC3339Nano UTC (%v)", ts, err)
		}
		if f, _ := doc["log.origin.file.name"].(string); !strings.HasSuffix(f, "ecs_test.go") {
			t.Errorf("AddSource: log.origin.file.name = %q", f)
		}
		// The local fallback is plain ECS: no receiver fields.
		for _, k := range []string{"timestamp", "log_level", "service_name"} {
			if _, ok := doc[k]; ok {
				t.Errorf("fallback document carries receiver field %q", k)
			}
		}
	}
}

func TestLevelFilterAndNext(t *testing.T) {
	s, buf := localShipper(t)
	console := &syncBuffer{}
	next := slog.NewJSONHandler(console, &slog.HandlerOptions{Level: slog.LevelDebug})
	l := slog.New(NewHandler(s, &HandlerOptions{Level: slog.LevelWarn, Next: next}))
	l.Debug("debug only on console")
	l.Info("info only on console")
	l.Warn("warn shipped", "password", "hunter2", slog.Group("db", "dsn_password", "pw"))
	l.With("api_key", "k-123").WithGroup("auth").Error("error shipped", "token", "t-456", "user_id", "u1")
	if err := s.Flush(ctxT(t, 5*time.Second)); err != nil {
		t.Fatal(err)
	}
	shipped := buf.docs(t)
	if len(shipped) != 2 || shipped[0]["message"] != "warn shipped" || shipped[1]["message"] != "error shipped" {
		t.Fatalf("shipped = %v", shipped)
	}
	if got := strings.Count(console.String(), "\n"); got != 4 {
		t.Errorf("console got %d lines, want 4:\n%s", got, console.String())
	}
	for _, secret := range []string{"hunter2", "k-123", "t-456", `"pw"`} {
		if strings.Contains(console.String(), secret) || strings.Contains(buf.String(), secret) {
			t.Errorf("secret %s leaked:\nconsole: %s\nshipped: %s", secret, console.String(), buf.String())
		}
	}
	if !strings.Contains(console.String(), `"user_id":"u1"`) {
		t.Errorf("non-secret attribute lost on console: %s", console.String())
	}
}

type apiToken string

func (apiToken) LogValue() slog.Value { return slog.StringValue(Masked) }

// mutable counts LogValue calls: it must be resolved on the caller's
// goroutine, once, at the time of the call.
type mutable struct{ n *int }

func (m mutable) LogValue() slog.Value { *m.n++; return slog.IntValue(*m.n) }

func TestSecretsMasked(t *testing.T) {
	s, buf := localShipper(t)
	l := slog.New(NewHandler(s, nil))
	n := 0
	doc, raw := oneDoc(t, s, buf, func() {
		l.With("client_secret", "cs-1").Info("m",
			"licence", NewSecret("PENG-1111-2222-3333-4444-ABCD"),
			"custom", apiToken("tok-xyz"),
			"password", "hunter2",
			"Authorization", "Bearer abc",
			"access_token", "at-1",
			"X-Api-Key", "ak-1",
			slog.Group("db", "password", "dbpw"),
			slog.Group("credentials", "user", "bob"),
			"prompt_tokens", 42,
			"counted", mutable{&n},
		)
	})
	for _, leak := range []string{"PENG-1111", "tok-xyz", "hunter2", "Bearer abc", "at-1", "ak-1", "dbpw", "cs-1", "bob"} {
		if strings.Contains(raw, leak) {
			t.Errorf("%q leaked: %s", leak, raw)
		}
	}
	for _, k := range []string{"labels.licence", "labels.custom", "labels.password", "labels.Authorization",
		"labels.access_token", "labels.X-Api-Key", "labels.db_password", "labels.credentials", "labels.client_secret"} {
		if doc[k] != Masked {
			t.Errorf("%s = %v, want %s", k, doc[k], Masked)
		}
	}
	if doc["labels.prompt_tokens"] != "42" {
		t.Errorf("prompt_tokens should not be masked: %v", doc["labels.prompt_tokens"])
	}
	if doc["labels.counted"] != "1" || n != 1 {
		t.Errorf("LogValuer resolved %d times, value %v; want once, 1", n, doc["labels.counted"])
	}
}

func TestIsSecretKey(t *testing.T) {
	for key, want := range map[string]bool{
		"password": true, "db_password": true, "passwordHash": true, "passwd": true, "pwd": true,
		"secret": true, "client_secret": true, "clientSecret": true,
		"token": true, "access_token": true, "authToken": true, "csrf-token": true,
		"api_key": true, "apiKey": true, "X-Api-Key": true, "private_key": true, "access.key": true,
		"authorization": true, "Authorization": true, "credentials": true, "set-cookie": true,
		"prompt_tokens": false, "max_tokens": false, "key": false, "cache.key": false, "user_id": false,
		"tokenizer": false, "monkey": false, "": false,
	} {
		if got := IsSecretKey(key); got != want {
			t.Errorf("IsSecretKey(%q) = %v, want %v", key, got, want)
		}
	}
}

func TestSecretType(t *testing.T) {
	sec := NewSecret("s3cr3t-value")
	for _, f := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%10s"} {
		if out := sprintf(f, sec); strings.Contains(out, "s3cr3t") || !strings.Contains(out, Masked) {
			t.Errorf("%s printed %q", f, out)
		}
	}
	cfg := Config{Enabled: true, LogURL: "http://x:8081", ClientSecret: sec}
	for _, f := range []string{"%v", "%+v", "%#v"} {
		if out := sprintf(f, cfg); strings.Contains(out, "s3cr3t") {
			t.Errorf("Config %s leaked: %s", f, out)
		}
	}
	if b, _ := marshal(cfg); strings.Contains(string(b), "s3cr3t") {
		t.Errorf("Config JSON leaked: %s", b)
	}
	if sec.Reveal() != "s3cr3t-value" || sec.IsZero() || !(Secret{}).IsZero() {
		t.Error("Reveal/IsZero wrong")
	}
	var back Secret
	if err := back.UnmarshalText([]byte("abc")); err != nil || back.Reveal() != "abc" {
		t.Error("UnmarshalText did not store the value")
	}
}
