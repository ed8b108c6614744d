package app

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/rookery/rookery/internal/db"
	"github.com/rookery/rookery/internal/dbtest"
	"github.com/rookery/rookery/license/licensetest"
)

// endlessGateway is a WaddleAI stand-in whose streams send one piece of
// text and then stay open until the client goes away or the test ends.
func endlessGateway(t *testing.T) *httptest.Server {
	t.Helper()
	release := make(chan struct{})
	gw := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/chat/completions" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/event-stream")
		w.WriteHeader(http.StatusOK)
		for _, delta := range []map[string]any{{"role": "assistant", "content": ""}, {"content": "hello "}} {
			b, _ := json.Marshal(map[string]any{"id": "c1", "object": "chat.completion.chunk", "model": "m",
				"choices": []any{map[string]any{"index": 0, "delta": delta, "finish_reason": nil}}})
			fmt.Fprintf(w, "data: %s\n\n", b)
		}
		w.(http.Flusher).Flush()
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	t.Cleanup(gw.Close)
	t.Cleanup(func() { close(release) }) // runs first: a stuck stream must not stall Close
	return gw
}

// openStream starts POST /api/v1/ai/generate?stream=true and returns once
// the first delta has arrived; the events channel then receives every
// further event name and is closed when the response ends.
func openStream(t *testing.T, ta *testApp, token string) <-chan string {
	t.Helper()
	req, _ := http.NewRequest("POST", ta.URL+"/api/v1/ai/generate?stream=true", strings.NewReader(`{"prompt":"go on"}`))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 {
		resp.Body.Close()
		t.Fatalf("stream answered %d", resp.StatusCode)
	}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() && sc.Text() != "event: delta" {
	}
	events := make(chan string, 16)
	go func() {
		defer close(events)
		defer resp.Body.Close()
		for sc.Scan() {
			if ev, ok := strings.CutPrefix(sc.Text(), "event: "); ok {
				events <- ev
			}
		}
	}()
	return events
}

// TestShutdownEndsOpenStreams: an AI event stream open at shutdown ends at
// once with an "error" event and Shutdown returns without using up its
// grace period. Before the requests' base context was cancelled first, the
// server's Shutdown waited for the stream until the grace ran out and
// reported "context deadline exceeded".
func TestShutdownEndsOpenStreams(t *testing.T) {
	gw := endlessGateway(t)
	ta := newSQLiteApp(t, map[string]string{"WADDLEAI_URL": gw.URL, "WADDLEAI_API_KEY": "wa-test", "WADDLEAI_TIMEOUT": "600"})
	admin := ta.admin()
	const streams = 3
	var open []<-chan string
	for range streams {
		open = append(open, openStream(t, ta, admin))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := ta.Shutdown(ctx); err != nil {
		t.Fatalf("shutdown with open streams: %v", err)
	}
	for i, events := range open {
		var got []string
	read:
		for {
			select {
			case ev, ok := <-events:
				if !ok {
					break read // the response has ended
				}
				got = append(got, ev)
			case <-time.After(30 * time.Second):
				t.Fatalf("stream %d still open after Shutdown returned; events so far %v", i, got)
			}
		}
		if len(got) == 0 || got[len(got)-1] != "error" {
			t.Errorf("stream %d ended with events %v, want a last \"error\"", i, got)
		}
	}
}

// TestShutdownLeavesNoGoroutine: after Shutdown no goroutine of rookery's
// is left, even with a licence re-validation in flight against a licence
// server that does not answer (it used to run on with a background
// context until the client's timeout) and, on PostgreSQL, the LISTEN loop
// (which used to be cancelled but not waited for).
func TestShutdownLeavesNoGoroutine(t *testing.T) {
	for _, d := range []db.Dialect{db.SQLite, db.Postgres} {
		t.Run(string(d), func(t *testing.T) {
			lic := licensetest.NewServer(licensetest.Community(licensetest.KeyCommunity), licensetest.Professional(licensetest.KeyProfessional))
			defer lic.Close()
			before := goroutineIDs()
			ta := startApp(t, dbtest.Fresh(t, d), licenceEnv(lic, licensetest.KeyCommunity, false))
			admin := ta.admin()

			lic.SetDelay(time.Minute)
			lic.ResetRequests()
			if r := ta.call("PUT", "/api/v1/config/license_key", admin, map[string]any{"value": licensetest.KeyProfessional}); r.Status != 200 {
				t.Fatalf("change the licence key: %d %s", r.Status, r.Body)
			}
			wctx, wcancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer wcancel()
			if _, err := lic.WaitFor(wctx, "/api/v2/validate", 1); err != nil {
				t.Fatalf("no re-validation reached the licence server: %v", err)
			}

			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := ta.Shutdown(ctx); err != nil {
				t.Fatalf("shutdown: %v", err)
			}
			if left := survivors(before); len(left) > 0 {
				t.Fatalf("%d rookery goroutines survived Shutdown:\n\n%s", len(left), strings.Join(left, "\n\n"))
			}
		})
	}
}

// goroutineIDs lists the goroutines alive now, by the header of their
// stack ("goroutine 12 [").
func goroutineIDs() map[string]bool {
	ids := map[string]bool{}
	for _, g := range stacks() {
		ids[goroutineID(g)] = true
	}
	return ids
}

func stacks() []string {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			return strings.Split(string(buf[:n]), "\n\n")
		}
		buf = make([]byte, 2*len(buf))
	}
}

func goroutineID(stack string) string {
	head, _, _ := strings.Cut(stack, " [")
	return head
}

// survivors returns the stacks of goroutines that were not alive before
// and run rookery code outside the tests and their fakes. A goroutine that
// has just signalled it is done may need a moment to exit, so the check
// is repeated for a short while before anything counts as left behind.
func survivors(before map[string]bool) []string {
	var left []string
	for range 100 {
		left = left[:0]
		for _, g := range stacks() {
			if !before[goroutineID(g)] && runsRookery(g) {
				left = append(left, g)
			}
		}
		if len(left) == 0 {
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return left
}

// runsRookery tells whether a stack has a frame of rookery's own (or was
// started by one), not counting the tests (code in _test.go files, test
// goroutines) and the fake servers of the *test packages.
func runsRookery(stack string) bool {
	if strings.Contains(stack, "testing.tRunner") {
		return false
	}
	lines := strings.Split(stack, "\n")
	for i := 1; i+1 < len(lines); i++ {
		fn, file := strings.TrimPrefix(lines[i], "created by "), strings.TrimSpace(lines[i+1])
		if !strings.HasPrefix(fn, "github.com/rookery/rookery/") {
			continue
		}
		path, _, _ := strings.Cut(file, ":")
		pkg := fn[:strings.LastIndex(fn, "/")+1] + strings.SplitN(fn[strings.LastIndex(fn, "/")+1:], ".", 2)[0]
		if strings.HasSuffix(path, "_test.go") || strings.HasSuffix(pkg, "test") {
			continue
		}
		return true
	}
	return false
}
