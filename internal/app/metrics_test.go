package app

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/rookery/rookery/internal/db"
	"github.com/rookery/rookery/internal/dbtest"
	"github.com/rookery/rookery/waddleai/waddleaitest"
)

// sample returns the value of the first /metrics line that starts with
// series (name and labels exactly as written), or -1.
func sample(metrics, series string) float64 {
	for _, line := range strings.Split(metrics, "\n") {
		if rest, ok := strings.CutPrefix(line, series+" "); ok {
			v, err := strconv.ParseFloat(strings.TrimSpace(rest), 64)
			if err == nil {
				return v
			}
		}
	}
	return -1
}

// TestStandardMetrics: on every database, the standards' metrics are real:
// database_query_duration_seconds counts the queries made through the
// timing driver, cache_hits/misses_total the session cache, features_used
// the licence gate, users_active the distinct users of the last 15
// minutes (not every user ever created), all under many concurrent
// requests.
func TestStandardMetrics(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, s db.Settings) {
		gw := waddleaitest.NewServer(waddleaitest.WithResponder(waddleaitest.Reply(`{"label":"positive","score":0.9}`)))
		defer gw.Close()
		ta := startApp(t, s, aiEnv(gw, nil))
		admin := ta.admin()
		// Users who exist but make no request must not count as active.
		var viewers []string
		for i := range 4 {
			viewers = append(viewers, ta.userWithRole(admin, fmt.Sprintf("v%d@example.com", i), "viewer"))
		}
		ta.userWithRole(admin, "idle@example.com", "viewer")
		before := ta.call("GET", "/metrics", "", nil)
		selects := sample(string(before.Body), `database_query_duration_seconds_count{operation="select"}`)

		const perUser = 10
		var wg sync.WaitGroup
		for _, tok := range viewers {
			for range perUser {
				wg.Go(func() {
					if r := ta.call("GET", "/api/v1/auth/me", tok, nil); r.Status != 200 {
						t.Errorf("me = %d", r.Status)
					}
				})
			}
			wg.Go(func() {
				if r := ta.call("POST", "/api/v1/ai/analyze", tok, map[string]string{"text": "I love it", "task": "sentiment"}); r.Status != 200 {
					t.Errorf("analyze = %d %s", r.Status, r.Body)
				}
			})
		}
		wg.Wait()
		// The session cache may answer every check above; the audit
		// history is always read from the database.
		if r := ta.call("GET", "/api/v1/config/smtp_port/history", admin, nil); r.Status != 200 {
			t.Fatalf("history = %d", r.Status)
		}

		m := string(ta.call("GET", "/metrics", "", nil).Body)
		if got := sample(m, `database_query_duration_seconds_count{operation="select"}`); got <= selects {
			t.Errorf("select count %v after the requests, %v before: queries are not timed", got, selects)
		}
		hits := sample(m, `cache_hits_total{cache="session"}`)
		misses := sample(m, `cache_misses_total{cache="session"}`)
		if hits < 0 || misses < 0 || hits+misses < float64(len(viewers)*(perUser+1)) {
			t.Errorf("session cache hits %v + misses %v, want at least %d lookups", hits, misses, len(viewers)*(perUser+1))
		}
		if hits <= 0 {
			t.Errorf("no session cache hits counted (%v) after %d requests with the same tokens", hits, perUser)
		}
		if got := sample(m, `features_used_total{feature="ai_analysis"}`); got != float64(len(viewers)) {
			t.Errorf("features_used_total{ai_analysis} = %v, want %d", got, len(viewers))
		}
		// The admin and the four viewers made requests; the idle user did not.
		if got := sample(m, "users_active"); got != float64(len(viewers)+1) {
			t.Errorf("users_active = %v, want %d (6 users exist, 5 made requests)", got, len(viewers)+1)
		}
		if sample(m, `http_request_duration_seconds_count{method="GET",route="GET /api/v1/auth/me"}`) != float64(len(viewers)*perUser) {
			t.Errorf("http_request_duration_seconds does not count the requests:\n%s", grepLines(m, "http_request_duration_seconds_count"))
		}
	})
}

func grepLines(text, prefix string) string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		if strings.HasPrefix(l, prefix) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// TestMetricsPassPromtool: /metrics passes the Prometheus project's own
// linter, `promtool check metrics` (Debian's prometheus package ships it),
// which rejects abbreviated units such as http_request_duration_ms.
func TestMetricsPassPromtool(t *testing.T) {
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		if strings.EqualFold(os.Getenv("CI"), "true") {
			t.Fatal("promtool is required under CI=true (.ci/run installs Debian's prometheus package)")
		}
		t.Skip("promtool is not installed (apt-get install prometheus)")
	}
	gw := waddleaitest.NewServer(waddleaitest.WithResponder(waddleaitest.Reply(`{"label":"positive","score":0.9}`)))
	defer gw.Close()
	ta := newSQLiteApp(t, aiEnv(gw, nil))
	admin := ta.admin()
	ta.call("GET", "/api/v1/config", admin, nil)
	ta.call("POST", "/api/v1/ai/analyze", admin, map[string]string{"text": "I love it", "task": "sentiment"})
	m := ta.call("GET", "/metrics", "", nil).Body
	for _, name := range []string{"http_request_duration_seconds", "database_query_duration_seconds", "cache_hits_total",
		"cache_misses_total", "features_used_total", "users_active", "ai_request_duration_seconds"} {
		if !regexp.MustCompile(`(?m)^` + name).Match(m) {
			t.Errorf("/metrics has no %s", name)
		}
	}
	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = bytes.NewReader(m)
	out, err := cmd.CombinedOutput()
	if err != nil || len(bytes.TrimSpace(out)) != 0 {
		t.Errorf("promtool check metrics: %v\n%s", err, out)
	}
}
