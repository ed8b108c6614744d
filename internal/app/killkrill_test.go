package app

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/rookery/rookery/internal/db"
	"github.com/rookery/rookery/internal/dbtest"
	"github.com/rookery/rookery/killkrill"
	"github.com/rookery/rookery/killkrill/killkrilltest"
)

// shipped starts a server whose logs go through a KillKrill shipper, as
// `rookery serve` wires it.
func shipped(t *testing.T, env map[string]string) (*testApp, *killkrill.Shipper) {
	t.Helper()
	var sh *killkrill.Shipper
	ta, err := launch(t, dbtest.Fresh(t, db.SQLite), env, func(logs io.Writer) (*slog.Logger, Options) {
		var err error
		sh, err = killkrill.New(killkrill.Config{ServiceName: "rookery", Fallback: logs, FlushInterval: 50 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		return slog.New(killkrill.NewHandler(sh, nil)), Options{Version: "test", Shipper: sh}
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// Bounded: a receiver left down must not hold the test up.
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = sh.Shutdown(ctx)
	})
	return ta, sh
}

func TestRequestsAreShippedAndFollowTheSettings(t *testing.T) {
	pair := killkrilltest.NewPair()
	defer pair.Close()
	ta, sh := shipped(t, map[string]string{"KILLKRILL_ENABLED": "true", "KILLKRILL_API_URL": pair.Logs.URL(),
		"KILLKRILL_METRICS_URL": pair.Metrics.URL(), "KILLKRILL_FLUSH_INTERVAL": "1"})
	admin := ta.admin()
	r := ta.call("GET", "/api/v1/config/smtp_port", admin, nil, "X-Request-ID", "req-shipped-1")
	if r.Header.Get("X-Request-ID") != "req-shipped-1" {
		t.Fatalf("request id not echoed")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := sh.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	var entry map[string]any
	for _, l := range pair.Logs.Logs() {
		if strings.Contains(string(l.Raw), "req-shipped-1") {
			if err := json.Unmarshal(l.Raw, &entry); err != nil {
				t.Fatal(err)
			}
		}
	}
	if entry == nil {
		t.Fatalf("the request log did not reach the receiver (%d logs)", len(pair.Logs.Logs()))
	}
	for k, want := range map[string]any{"http.request.method": "GET", "url.path": "/api/v1/config/smtp_port",
		"http.response.status_code": float64(200), "user.email": adminEmail, "service.name": "rookery"} {
		if entry[k] != want {
			t.Errorf("shipped request log %s = %v, want %v", k, entry[k], want)
		}
	}
	if _, ok := entry["@timestamp"]; !ok {
		t.Error("no @timestamp in the ECS document")
	}
	names := map[string]bool{}
	for _, m := range pair.Metrics.Metrics() {
		names[m.Name] = true
	}
	if !names["http_requests_total"] || !names["http_request_duration_ms"] {
		t.Errorf("HTTP metrics not shipped with Prometheus names: %v", keys(names))
	}

	// The stats endpoint reports what happened.
	r = ta.call("GET", "/api/v1/integrations/killkrill", admin, nil)
	if r.Status != 200 || !strings.Contains(string(r.Body), `"enabled":true`) || !strings.Contains(string(r.Body), `"healthy":true`) {
		t.Fatalf("killkrill report: %d %s", r.Status, r.Body)
	}

	// Turning shipping off through the config API takes effect at once.
	if r := ta.call("PUT", "/api/v1/config/killkrill_enabled", admin, map[string]any{"value": false}); r.Status != 200 {
		t.Fatal(r.Status)
	}
	if sh.Stats().Enabled {
		t.Fatal("shipper still enabled after the change")
	}
	before := len(pair.Logs.Logs())
	ta.call("GET", "/api/v1/config/smtp_port", admin, nil, "X-Request-ID", "req-local-2")
	sh.Flush(ctx)
	if len(pair.Logs.Logs()) != before {
		t.Error("entries shipped while disabled")
	}
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(ta.logs.String(), "req-local-2") {
		if time.Now().After(deadline) {
			t.Fatal("disabled shipping did not write the entry locally")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if r := ta.call("GET", "/api/v1/integrations/killkrill", "", nil); r.Status != 401 {
		t.Errorf("anonymous stats = %d", r.Status)
	}
}

// A receiver that is down or slow never slows a request down.
func TestRequestsDoNotWaitForKillKrill(t *testing.T) {
	pair := killkrilltest.NewPair()
	t.Cleanup(pair.Close) // after the shipper's bounded shutdown
	ta, _ := shipped(t, map[string]string{"KILLKRILL_ENABLED": "true", "KILLKRILL_API_URL": pair.Logs.URL(),
		"KILLKRILL_METRICS_URL": pair.Metrics.URL()})
	admin := ta.admin()
	median := func() time.Duration {
		ds := make([]time.Duration, 60)
		for i := range ds {
			start := time.Now()
			ta.call("GET", "/api/v1/config/smtp_port", admin, nil)
			ds[i] = time.Since(start)
		}
		sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
		return ds[len(ds)/2]
	}
	up := median()
	pair.SetDelay(2 * time.Second)
	slow := median()
	pair.SetDelay(0)
	pair.SetDown(true)
	down := median()
	t.Logf("median request latency: receiver up %v, slow %v, down %v", up, slow, down)
	for name, d := range map[string]time.Duration{"slow": slow, "down": down} {
		if d > up*5+20*time.Millisecond {
			t.Errorf("receiver %s: median %v against %v with the receiver up", name, d, up)
		}
	}
}

func TestIntegrationsReport(t *testing.T) {
	ta := newSQLiteApp(t, map[string]string{"WADDLEAI_URL": "http://127.0.0.1:1", "LICENSE_SERVER_URL": "http://127.0.0.1:1"})
	r := ta.call("GET", "/api/v1/integrations", ta.admin(), nil)
	m := r.JSON(t)
	if r.Status != 200 || m["marchproxy"] == nil || m["waddleai"].(map[string]any)["reachable"] != false ||
		m["license_server"].(map[string]any)["reachable"] != false {
		t.Fatalf("integrations: %d %s", r.Status, r.Body)
	}
	if !strings.Contains(string(r.Body), `"name":"rookery-api"`) {
		t.Errorf("generated MarchProxy services missing: %s", r.Body)
	}
}

func keys(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
