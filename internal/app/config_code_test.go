package app

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rookery/rookery/internal/db"
	"github.com/rookery/rookery/internal/dbtest"
)

// shared makes s usable by several instances at once: one data directory,
// hence one encryption key.
func shared(t *testing.T, s db.Settings) db.Settings {
	if s.DataDir == "" {
		s.DataDir = t.TempDir()
	}
	return s
}

// TestConfigAsCodeAPI: export from instance A, apply to a fresh instance
// B, and B's export equals A's; a dry run reports the differences and
// writes nothing; an invalid document is a 400 listing every problem;
// restore by version and by time through the API.
func TestConfigAsCodeAPI(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, s db.Settings) {
		a := startApp(t, s, nil)
		ta := a.admin()
		if r := a.call("PATCH", "/api/v1/config", ta, map[string]any{"values": map[string]any{
			"app_name": "shop", "smtp_port": 2525, "killkrill_enabled": true, "smtp_pass": "pw-one-secret",
			"marchproxy_extras": map[string]any{"services": []any{}}}}); r.Status != 200 {
			t.Fatalf("patch: %d %s", r.Status, r.Body)
		}
		exp := a.call("GET", "/api/v1/config/export?format=yaml", ta, nil)
		if exp.Status != 200 || strings.Contains(string(exp.Body), "pw-one") || !strings.Contains(string(exp.Body), "schema_version: 1") {
			t.Fatalf("export: %d %s", exp.Status, exp.Body)
		}

		b := startApp(t, dbtest.Fresh(t, dialectOf(t, s)), nil)
		tb := b.admin()
		dry := b.call("POST", "/api/v1/config/apply", tb, map[string]any{"document": string(exp.Body), "dry_run": true})
		changes, _ := dry.JSON(t)["changes"].([]any)
		if dry.Status != 200 || len(changes) != 4 || dry.JSON(t)["applied"] != false {
			t.Fatalf("dry run: %d %s", dry.Status, dry.Body)
		}
		if r := b.call("GET", "/api/v1/config/export?format=yaml", tb, nil); string(r.Body) == string(exp.Body) {
			t.Fatal("the dry run wrote")
		}
		ap := b.call("POST", "/api/v1/config/apply", tb, map[string]any{"document": string(exp.Body)})
		if ap.Status != 200 || ap.JSON(t)["applied"] != true || ap.JSON(t)["change_id"] == "" {
			t.Fatalf("apply: %d %s", ap.Status, ap.Body)
		}
		if r := b.call("GET", "/api/v1/config/export?format=yaml", tb, nil); string(r.Body) != string(exp.Body) {
			t.Fatalf("export of B differs:\n%s\n---\n%s", r.Body, exp.Body)
		}
		// The change applies at once on B, and its audit records share the change id.
		if got := b.Keys.AppName.Get(); got != "shop" {
			t.Fatalf("app_name on B is %q", got)
		}
		id := ap.JSON(t)["change_id"]
		for _, k := range []string{"app_name", "smtp_port"} {
			h := b.call("GET", "/api/v1/config/"+k+"/history", tb, nil).JSON(t)["history"].([]any)
			if h[0].(map[string]any)["request_id"] != id {
				t.Fatalf("%s history %v, change id %v", k, h[0], id)
			}
		}
		again := b.call("POST", "/api/v1/config/apply", tb, map[string]any{"document": json.RawMessage(b.call("GET", "/api/v1/config/export", tb, nil).Body)})
		if c, _ := again.JSON(t)["changes"].([]any); again.Status != 200 || len(c) != 0 {
			t.Fatalf("second apply: %d %s", again.Status, again.Body)
		}

		// Invalid: every problem at once, nothing written, never a 500.
		before := b.call("GET", "/api/v1/config/export?all=true", tb, nil).Body
		for _, bad := range []struct {
			doc  any
			want string
		}{
			{map[string]any{"values": map[string]any{"smtp_port": 0, "nope": 1, "log_level": "loud"}}, "3 settings were refused"},
			{"values: [1", "not valid YAML"},
			{map[string]any{"kind": "other", "values": map[string]any{}}, "kind"},
			{map[string]any{"values": map[string]any{"app_name": map[string]any{"a": 1}}}, "not a list or map"},
		} {
			r := b.call("POST", "/api/v1/config/apply", tb, map[string]any{"document": bad.doc, "prune": true})
			if r.Status != 400 || !strings.Contains(r.JSON(t)["error"].(string), bad.want) {
				t.Errorf("document %v: %d %s", bad.doc, r.Status, r.Body)
			}
		}
		if after := b.call("GET", "/api/v1/config/export?all=true", tb, nil).Body; string(after) != string(before) {
			t.Fatal("an invalid document changed the configuration")
		}
		if r := b.call("GET", "/api/v1/config/export?format=xml", tb, nil); r.Status != 400 {
			t.Errorf("format=xml: %d", r.Status)
		}

		// Restore by version: app_name back to what it was at version 1.
		at := time.Now().UTC()
		if r := b.call("PUT", "/api/v1/config/app_name", tb, map[string]any{"value": "changed"}); r.Status != 200 {
			t.Fatalf("put: %d %s", r.Status, r.Body)
		}
		rv := b.call("POST", "/api/v1/config/app_name/restore", tb, map[string]any{"version": 1})
		if rv.Status != 200 || b.Keys.AppName.Get() != "shop" {
			t.Fatalf("restore by version: %d %s", rv.Status, rv.Body)
		}
		if g := b.call("GET", "/api/v1/config/app_name", tb, nil).JSON(t); g["version"] != float64(3) {
			t.Fatalf("version after restore %v", g["version"])
		}
		for path, body := range map[string]any{
			"/api/v1/config/app_name/restore":  map[string]any{"version": 42},
			"/api/v1/config/smtp_pass/restore": map[string]any{"version": 1},
			"/api/v1/config/restore":           map[string]any{"at": "yesterday"},
		} {
			if r := b.call("POST", path, tb, body); r.Status != 400 && r.Status != 404 {
				t.Errorf("%s %v: %d %s", path, body, r.Status, r.Body)
			}
		}
		// Restore by time: before the PUT, so log_level (set after) goes.
		if r := b.call("PUT", "/api/v1/config/log_level", tb, map[string]any{"value": "warn"}); r.Status != 200 {
			t.Fatal(r.Status)
		}
		plan := b.call("POST", "/api/v1/config/restore", tb, map[string]any{"at": at.Format(time.RFC3339Nano), "dry_run": true})
		if c, _ := plan.JSON(t)["changes"].([]any); plan.Status != 200 || len(c) != 1 || c[0].(map[string]any)["key"] != "log_level" {
			t.Fatalf("restore plan: %d %s", plan.Status, plan.Body)
		}
		if r := b.call("POST", "/api/v1/config/restore", tb, map[string]any{"at": at.Format(time.RFC3339Nano)}); r.Status != 200 || b.Keys.LogLevel.Get() != "info" {
			t.Fatalf("restore at: %d %s", r.Status, r.Body)
		}

		// The schema: 2020-12, limits as data.
		sc := b.call("GET", "/api/v1/config/schema", tb, nil)
		if sc.Status != 200 || !strings.Contains(string(sc.Body), "2020-12") || !strings.Contains(string(sc.Body), `"maximum": 65535`) {
			t.Fatalf("schema: %d %.300s", sc.Status, sc.Body)
		}
		viewer := b.userWithRole(tb, "viewer@example.com", "viewer")
		for _, p := range []string{"/api/v1/config/export", "/api/v1/config/schema", "/api/v1/config/events"} {
			if r := b.call("GET", p, viewer, nil); r.Status != 403 {
				t.Errorf("viewer %s: %d", p, r.Status)
			}
		}
	})
}

func dialectOf(t *testing.T, s db.Settings) db.Dialect {
	_, d, _, err := s.Target()
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// receiver is a webhook receiver that checks signatures and can be down.
type receiver struct {
	t      *testing.T
	secret string
	down   atomic.Bool
	mu     sync.Mutex
	all    map[string]int // change id -> deliveries, every event
	got    map[string]int // the same, events that change smtp_user
	events []map[string]any
	tries  atomic.Int64
	srv    *httptest.Server
}

func newReceiver(t *testing.T, secret string) *receiver {
	rc := &receiver{t: t, secret: secret, got: map[string]int{}, all: map[string]int{}}
	rc.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rc.tries.Add(1)
		body, _ := io.ReadAll(r.Body)
		if rc.down.Load() {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		if r.Header.Get(SignatureHeader) != Sign([]byte(rc.secret), body) {
			t.Errorf("bad signature %q on %s", r.Header.Get(SignatureHeader), body)
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		var ev map[string]any
		if err := json.Unmarshal(body, &ev); err != nil {
			t.Errorf("event is not JSON: %s", body)
		}
		rc.mu.Lock()
		id := fmt.Sprint(ev["change_id"])
		rc.all[id]++
		// Start-up stores the environment's values (the webhook's own
		// settings): real changes, sent too, but not the ones counted here.
		if strings.Contains(string(body), `"key":"smtp_user"`) {
			rc.got[id]++
			rc.events = append(rc.events, ev)
		}
		rc.mu.Unlock()
	}))
	t.Cleanup(rc.srv.Close)
	return rc
}

// waitEvents waits until n distinct change sets arrived.
func (rc *receiver) waitEvents(n int, within time.Duration) {
	rc.t.Helper()
	deadline := time.Now().Add(within)
	for {
		rc.mu.Lock()
		got := len(rc.got)
		rc.mu.Unlock()
		if got >= n {
			return
		}
		if time.Now().After(deadline) {
			rc.t.Fatalf("%d of %d events arrived within %s (%d tries)", got, n, within, rc.tries.Load())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestConfigWebhook: the event is signed, masks secrets, reaches a
// receiver that was down once it is back, survives a restart of the only
// instance, and two replicas never send one change set twice.
func TestConfigWebhook(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, s db.Settings) {
		s = shared(t, s)
		rc := newReceiver(t, "hook-secret-123")
		env := map[string]string{"CONFIG_WEBHOOK_URL": rc.srv.URL, "CONFIG_WEBHOOK_SECRET": "hook-secret-123"}
		rc.down.Store(true)
		a := startApp(t, s, env)
		tok := a.admin()
		if r := a.call("PATCH", "/api/v1/config", tok, map[string]any{"values": map[string]any{"smtp_user": "mailer", "smtp_pass": "pw-secret-1"}}); r.Status != 200 {
			t.Fatalf("patch: %d %s", r.Status, r.Body)
		}
		// The change does not wait for the receiver; it was tried and refused.
		deadline := time.Now().Add(20 * time.Second)
		for rc.tries.Load() == 0 {
			if time.Now().After(deadline) {
				t.Fatal("the webhook was never tried")
			}
			time.Sleep(10 * time.Millisecond)
		}
		// The only instance stops with the event undelivered; another
		// starts on the same database, and the receiver comes back.
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := a.Shutdown(ctx); err != nil {
			t.Fatal(err)
		}
		rc.down.Store(false)
		b := startApp(t, s, env)
		rc.waitEvents(1, 30*time.Second)
		rc.mu.Lock()
		ev := rc.events[0]
		rc.mu.Unlock()
		body, _ := json.Marshal(ev)
		if strings.Contains(string(body), "pw-secret-1") || !strings.Contains(string(body), `"new":"***SENSITIVE***"`) ||
			!strings.Contains(string(body), `"key":"smtp_user"`) || !strings.Contains(string(body), `"by":"`+adminEmail+`"`) {
			t.Fatalf("event %s", body)
		}

		// Two replicas, many concurrent change sets: each arrives exactly once.
		c := startApp(t, s, env)
		tb, tc := b.admin(), c.admin()
		var wg sync.WaitGroup
		const n = 12
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				x, tok := b, tb
				if i%2 == 1 {
					x, tok = c, tc
				}
				if r := x.call("PUT", "/api/v1/config/smtp_user", tok, map[string]any{"value": fmt.Sprintf("user-%d", i)}); r.Status != 200 {
					t.Errorf("put %d: %d %s", i, r.Status, r.Body)
				}
			}()
		}
		wg.Wait()
		rc.waitEvents(1+n, 30*time.Second)
		// Give a duplicate the chance to show: both replicas pass again.
		for range 3 {
			b.Config.Reload(context.Background())
			time.Sleep(100 * time.Millisecond)
		}
		rc.mu.Lock()
		defer rc.mu.Unlock()
		for id, k := range rc.all {
			if k != 1 {
				t.Errorf("change %s delivered %d times", id, k)
			}
		}
		if len(rc.got) != 1+n {
			t.Errorf("%d change sets delivered, want %d", len(rc.got), 1+n)
		}
	})
}

// TestConfigEventsAcrossReplicas: an SSE client of replica B sees a change
// made through replica A.
func TestConfigEventsAcrossReplicas(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, s db.Settings) {
		s = shared(t, s)
		a := startApp(t, s, nil)
		b := startApp(t, s, nil)
		<-b.Ready()
		tok := b.admin()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, "GET", b.URL+"/api/v1/config/events", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
			t.Fatalf("events: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		lines := bufio.NewScanner(resp.Body)
		next := func() (string, string) {
			var name string
			for lines.Scan() {
				l := lines.Text()
				switch {
				case strings.HasPrefix(l, "event: "):
					name = strings.TrimPrefix(l, "event: ")
				case strings.HasPrefix(l, "data: "):
					return name, strings.TrimPrefix(l, "data: ")
				}
			}
			t.Fatalf("stream ended: %v", lines.Err())
			return "", ""
		}
		if name, _ := next(); name != "ready" {
			t.Fatalf("first event %q", name)
		}
		if r := a.call("PATCH", "/api/v1/config", a.admin(), map[string]any{"values": map[string]any{"smtp_user": "from-a", "smtp_pass": "pw-from-a"}}); r.Status != 200 {
			t.Fatalf("patch on A: %d %s", r.Status, r.Body)
		}
		for {
			name, data := next()
			if name != "change" {
				continue
			}
			if strings.Contains(data, "pw-from-a") {
				t.Fatalf("the stream shows a secret: %s", data)
			}
			if strings.Contains(data, `"new":"from-a"`) && strings.Contains(data, `"new":"***SENSITIVE***"`) {
				return
			}
		}
	})
}
