package killkrill

import (
	"bufio"
	"errors"
	"log/slog"
	"math"
	"os"
	"strings"
	"testing"
	"time"
)

// ecsFieldTypes reads testdata/ecs_fields.tsv: the ECS field reference's
// types for the fields rookery writes.
func ecsFieldTypes(t *testing.T) map[string]string {
	t.Helper()
	f, err := os.Open("testdata/ecs_fields.tsv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, typ, ok := strings.Cut(line, "\t")
		if !ok {
			t.Fatalf("bad line in ecs_fields.tsv: %q", line)
		}
		out[name] = typ
	}
	return out
}

// checkECS reports every field of doc that ECS does not define or whose
// JSON type does not fit the ECS type.
func checkECS(t *testing.T, types map[string]string, doc map[string]any, raw string) {
	t.Helper()
	for k, v := range doc {
		if label, ok := strings.CutPrefix(k, labelsPrefix); ok {
			if _, isString := v.(string); !isString || strings.Contains(label, ".") {
				t.Errorf("%s = %#v: ECS labels are flat keyword strings\n%s", k, v, raw)
			}
			continue
		}
		typ, ok := types[k]
		if !ok {
			t.Errorf("%s is not an ECS field\n%s", k, raw)
			continue
		}
		switch typ {
		case "keyword", "wildcard", "match_only_text", "text", "ip", "date":
			if _, ok := v.(string); !ok {
				t.Errorf("%s = %#v: ECS says %s, a string\n%s", k, v, typ, raw)
			}
		case "long":
			n, ok := v.(float64)
			if !ok || n != math.Trunc(n) {
				t.Errorf("%s = %#v: ECS says long, an integer\n%s", k, v, raw)
			}
		default:
			t.Errorf("%s has ECS type %s, which this check does not know", k, typ)
		}
	}
}

// TestECSFieldTypes: log documents and metric fallback lines use only ECS
// fields, with the types the ECS field reference gives: user.id is a
// keyword string even when logged as a number, labels.* carry strings, and
// metrics use no metric.* fields (ECS defines none).
func TestECSFieldTypes(t *testing.T) {
	types := ecsFieldTypes(t)
	s, buf := localShipper(t)
	logger := slog.New(NewHandler(s, &HandlerOptions{AddSource: true}))
	cases := map[string]func(){
		"numeric ids": func() {
			logger.Info("signed in", "user_id", 42, "team_id", 7, "request_id", 9, "trace_id", 1, "span_id", 2)
		},
		"ECS names with numbers": func() {
			logger.Info("m", "user.id", int64(5), "organization.id", 3.5, "http.request.method", true)
		},
		"labels of every kind": func() {
			logger.Info("m", "rows", 3, "ok", true, "ratio", 0.5, "obj", map[string]int{"a": 1}, "at", time.Unix(0, 0),
				"nothing", nil, "labels.direct", 7)
		},
		"request log": func() {
			logger.Warn("HTTP request", "http.request.id", "r1", "http.request.method", "GET", "url.path", "/x",
				"http.response.status_code", 404, "duration_ms", 1.5, "user.email", "a@b.c", "source.ip", "10.0.0.1",
				"error", errors.New("boom"), "user_agent", "curl")
		},
		"metric": func() {
			_ = s.Counter(MetricHTTPRequestsTotal, 1, map[string]string{"route": "GET /x", "status": "200"})
		},
		"metric with a non-finite value and clashing labels": func() {
			_ = s.Gauge(MetricUsersActive, 3, map[string]string{"metric_name": "x"})
		},
	}
	for name, log := range cases {
		t.Run(name, func(t *testing.T) {
			doc, raw := oneDoc(t, s, buf, log)
			checkECS(t, types, doc, raw)
		})
	}
	doc, _ := oneDoc(t, s, buf, func() { logger.Info("m", "user_id", 42) })
	if doc["user.id"] != "42" {
		t.Errorf("user.id = %#v, want the string \"42\"", doc["user.id"])
	}
	doc, _ = oneDoc(t, s, buf, func() { _ = s.Counter("cache.hits", 2, map[string]string{"cache": "session"}) })
	if doc["labels.metric_name"] != "cache.hits" || doc["labels.metric_value"] != "2" || doc["labels.cache"] != "session" {
		t.Errorf("metric fallback line = %v", doc)
	}
}
